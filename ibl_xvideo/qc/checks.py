"""The eleven IBL camera QC checks as pure functions.

Each reproduces the outcome of the ``ibllib.qc.camera.CameraQC.check_<name>`` method
of the same name (ibllib 4.0), with the data it reads from ``CameraQC.data`` passed
in explicitly: same parameter names, defaults, thresholds and return values (a
``one.alf.spec.QC``, or the same tuples). ibllib's quirks are kept and noted.
A check returns ``QC.NOT_SET`` when the data it needs are None, as ibllib does.
"""

from __future__ import annotations

import logging
import math
from typing import Iterable

import numpy as np
from one.alf.spec import QC

from ..errors import InvalidOptionError
from . import imgproc

__all__ = [
    "overall_outcome", "brightness_roi", "frame_brightness", "check_brightness", "check_file_headers",
    "check_framerate", "check_pin_state", "check_dropped_frames", "check_timestamps",
    "check_camera_times", "check_resolution", "check_wheel_alignment", "check_position",
    "check_focus", "find_face", "face_roi", "face_roi_fits", "frame_measures", "check_measures", "FACE_ROI",
    "FOCUS_ROI", "EXPECTED",
]

_log = logging.getLogger(__name__)

#: Expected video properties per rig type and camera (ibllib's ``video_meta``).
EXPECTED = {
    "training": {"left": {"fps": 30, "width": 1280, "height": 1024}},
    "ephys": {
        "left": {"fps": 60, "width": 1280, "height": 1024},
        "right": {"fps": 150, "width": 640, "height": 512},
        "body": {"fps": 30, "width": 640, "height": 512},
    },
}

#: Face (or body) template regions in the reference frames, ((y1, y2), (x1, x2)).
FACE_ROI = {"left": ((45, 346), (138, 501)), "right": ((14, 174), (430, 618)), "body": ((141, 272), (90, 339))}

#: Fixed focus ROIs used with ``check_focus(roi=None)`` (face and wheel).
FOCUS_ROI = {
    "left": (np.s_[:400, :561], np.s_[500:, 100:800]),
    "right": (np.s_[:196, 397:], np.s_[221:, 255:]),
    "body": (np.s_[143:274, 84:433],),
}


def _is_nan(x) -> bool:
    try:
        return isinstance(x, float) and math.isnan(x)
    except TypeError:
        return False


def overall_outcome(outcomes: Iterable, agg=max) -> QC:
    """Aggregate outcomes (QC, names, ints; None and NaN ignored); worst by default.

    Raises
    ------
    ValueError
        If no outcome is left.
    """
    vals = [QC.validate(o) for o in outcomes if o is not None and not _is_nan(o)]
    if not vals:
        raise ValueError("no outcomes to aggregate")
    return QC(agg(vals))


def brightness_roi(label: str, h: int, w: int) -> tuple[slice, slice]:
    """The (y, x) region ibllib's brightness check averages for a camera."""
    if label == "body":  # right half
        return slice(None), slice(int(w / 2), None)
    if label == "left":  # top left: half the height, 66% of the width
        return slice(None, int(h / 2)), slice(None, int(w * 0.66))
    return slice(None, int(h / 2)), slice(int(w * 0.66), None)


def frame_brightness(frames, label: str, roi: bool = True):
    """Mean grey level of each frame's brightness ROI; works on NumPy, xarray or Dask arrays."""
    h, w = frames.shape[-2:]
    ys, xs = brightness_roi(label, h, w) if roi is True else (slice(None), slice(None))
    return frames[..., ys, xs].mean(axis=(-2, -1))


def face_roi(frames, label: str, refs, top_left=None) -> tuple[slice, slice]:
    """The face region ``check_focus(roi=False)`` uses: the template's median match in ``frames``.

    ``top_left``: the matches :func:`find_face` already found in these frames.
    """
    if top_left is None:
        top_left, roi, _ = find_face(frames, label, refs)
    else:
        roi = FACE_ROI[label]
    h, w = (int(np.diff(r)[0]) for r in roi)
    x, y = np.median(np.array(top_left), axis=0).round().astype(int)
    return np.s_[y:y + h, x:x + w]


#: The per-frame measures of :func:`frame_measures` (``position`` gives ``position_err_x`` and ``_y``).
MEASURES = ("brightness", "hist_corr", "focus_lpc", "focus_fft", "position")


def check_measures(measures, name: str = "measures") -> tuple:
    """``measures`` as a tuple of :data:`MEASURES` names (all for None); InvalidOptionError naming them if not."""
    if measures is None:
        return MEASURES
    unknown = [measures] if isinstance(measures, str) else sorted(set(measures) - set(MEASURES))
    if unknown:
        raise InvalidOptionError(f"unknown frame measures {unknown}: {name} must be a list of "
                                 f"{', '.join(MEASURES)}; got {measures!r}.")
    return tuple(measures)
_COLUMNS = ("brightness", "hist_corr", "focus_lpc", "focus_fft", "position_err_x", "position_err_y")


def face_roi_fits(label: str, h: int, w: int) -> bool:
    """Whether ibllib's face region of the camera (:data:`FACE_ROI`) overlaps an ``h`` x ``w`` frame.

    A region reaching past the frame's edge is clipped, as NumPy (and so ibllib) slices;
    one that starts outside it leaves no template to match.
    """
    if label not in FACE_ROI:
        return False
    (y1, _), (x1, _) = FACE_ROI[label]
    return y1 < h and x1 < w


def search_radius(label: str, h: int, w: int) -> tuple[int, int]:
    """(x, y) radius of the per-frame face search: the widest position error ibllib's check lets pass.

    The position check fails beyond 15% of the frame size (x error over the height, y
    error over the width: ibllib's quirk), so the window covers every position that
    can pass.
    """
    return math.ceil(0.15 * h) + 1, math.ceil(0.15 * w) + 1


def match_near(matcher, frame: np.ndarray, center, radius) -> tuple[float, float]:
    """Best match (x, y) of ``matcher``'s template in ``frame`` within ``radius`` of ``center``.

    The scores are those of a full-frame search (TM_CCOEFF_NORMED is local); only the
    positions looked at are limited.
    """
    th, tw = matcher.tpl.shape
    H, W = frame.shape
    (cx, cy), (rx, ry) = center, radius
    y0, y1 = max(cy - ry, 0), min(cy + ry + th, H)
    x0, x1 = max(cx - rx, 0), min(cx + rx + tw, W)
    if y1 - y0 < th or x1 - x0 < tw:
        return math.nan, math.nan
    res = matcher(frame[y0:y1, x0:x1])
    y, x = np.unravel_index(np.argmax(res), res.shape)
    return float(x0 + x), float(y0 + y)


def _block_measures(block, label, ref_hist, roi, template, center, radius, origin, measures):
    out = np.full((block.shape[0], len(_COLUMNS)), np.nan)
    ys, xs = brightness_roi(label, *block.shape[1:])
    out[:, 0] = block[:, ys, xs].mean(axis=(1, 2))
    matcher = imgproc.TemplateMatcher(template) if "position" in measures else None
    focus = "focus_lpc" in measures or "focus_fft" in measures
    for i, f in enumerate(block):
        if "hist_corr" in measures or focus:
            hist = imgproc.hist256(f)
            out[i, 1] = imgproc.compare_hist_correl(hist, ref_hist) * 100
        if focus:
            lut = imgproc.equalize_lut(hist)
            if "focus_lpc" in measures:
                out[i, 2] = imgproc.laplacian_var_in(f, roi, lut)
            if "focus_fft" in measures:
                out[i, 3] = imgproc.highpass_mean(imgproc.equalized(f, lut))
        if matcher is not None:
            x, y = match_near(matcher, f, center, radius)
            out[i, 4:6] = origin[0] - x, origin[1] - y
    return out


def _nested_block_measures(blocks, *args):
    """:func:`_block_measures` of a time block that blockwise gives as lists (over y) of lists (over x)."""
    if isinstance(blocks, list):  # whole frames are one block each: used as they are, no copy
        rows = [r[0] if len(r) == 1 else np.concatenate(r, axis=2) for r in blocks]
        blocks = rows[0] if len(rows) == 1 else np.concatenate(rows, axis=1)
    return _block_measures(blocks, *args)


def frame_measures(camera, label: str, refs=None, roi=None, center=None, radius=None, measures=None):
    """Per-frame QC measures over a whole camera, as one Dask pass (each chunk decoded once).

    Parameters
    ----------
    camera : xarray.DataArray
        A Dask-backed camera from :func:`ibl_xvideo.open_camera`.
    label : str
        Camera label (brightness ROI, face template).
    refs : array, optional
        Reference frames. Adds, for every frame, the measures of ibllib's position and
        focus checks: ``hist_corr`` (histogram correlation with the first reference
        frame, x100), ``focus_lpc`` (variance of the Laplacian in ``roi``) and
        ``focus_fft`` (mean of the high-pass filtered frame), both after histogram
        equalisation, and ``position_err_x`` / ``position_err_y`` (the face template's
        place in the reference minus its best match in the frame, pixels).
    roi : (slice, slice), optional
        Focus region, e.g. :func:`face_roi` of the sample frames.
    center : (int, int), optional
        (x, y) around which the face is searched in each frame, e.g. the median match in
        the sample frames; default its place in the reference.
    radius : (int, int), optional
        Search radius (x, y) around ``center``; default :func:`search_radius` (every
        position the position check can pass). ``(None, None)``: the whole frame.
    measures : sequence of str, optional
        Which of :data:`MEASURES` to compute (default all). Per 640x512 frame and core,
        beyond decoding: brightness, histogram correlation and Laplacian well under
        1 ms, the FFT focus measure ~2 ms, the face position ~1.6 ms.

    Returns
    -------
    xarray.Dataset
        ``brightness`` (and, with ``refs``, the other measures) along ``time``.

    Raises
    ------
    ValueError
        For an unknown measure, or one that needs ``refs`` without them.
    """
    from ..camera import as_frames, check_uncropped

    camera = as_frames(camera, "frame_measures")
    check_uncropped(camera, "measure the camera's whole frames (crop after measuring)",
                    why="The QC measures are defined on the video's whole frame, in order")
    measures = check_measures(measures)
    if refs is None and set(measures) - {"brightness"} and measures != MEASURES:
        raise ValueError(f"{sorted(set(measures) - {'brightness'})} need reference frames (refs=)")
    import dask.array as da
    import xarray as xr

    if refs is None or measures == ("brightness",):  # the ROI crop is pushed down to the decoder
        return xr.Dataset({"brightness": frame_brightness(camera, label)})
    refs = np.asarray(refs)
    data = camera.data if isinstance(camera.data, da.Array) else da.from_array(camera.values, chunks=(250, -1, -1))
    h, w = data.shape[1:]
    ref_hist = imgproc.calc_hist(refs[0])
    (y1, y2), (x1, x2) = FACE_ROI[label]
    template = refs[0][y1:y2, x1:x2]
    center = (x1, y1) if center is None else tuple(int(c) for c in center)
    radius = search_radius(label, h, w) if radius is None else tuple(r if r is not None else max(h, w)
                                                                   for r in radius)
    if roi is None:
        roi = np.s_[y1:y2, x1:x2]
    # blockwise without concatenation: map_blocks would copy every (whole-frame) chunk to "join" it
    # along the dropped y and x axes
    args = (label, ref_hist, roi, template, center, radius, (x1, y1), measures)
    m = da.blockwise(_nested_block_measures, "tc", data, "tyx", *(a for arg in args for a in (arg, None)),
                     new_axes={"c": len(_COLUMNS)}, concatenate=False, dtype=np.float64,
                     meta=np.empty((0, 0), np.float64))
    keep = {"brightness", *measures} | ({"position_err_x", "position_err_y"} if "position" in measures else set())
    return xr.Dataset({k: ("time", m[:, j]) for j, k in enumerate(_COLUMNS) if k in keep},
                      coords=camera.time.coords)


def check_brightness(frame_samples=None, label: str = "left", n_samples: int | None = None,
                     bounds=(40, 200), max_std=20, roi=True, brightness=None) -> QC:
    """Check the sample frames are neither too dark nor too bright, nor too variable.

    Parameters
    ----------
    frame_samples : (n, h, w) uint8 array
        Sample frames (ignored when ``brightness`` is given).
    label : str
        Camera label (selects the ROI).
    n_samples : int, optional
        The divisor of the pass fractions: ibllib divides by ``CameraQC.n_samples``,
        not by the number of frames (quirk kept); default the number of frames.
    bounds : (float, float)
        Warning bounds of the mean ROI brightness; twice as wide for failure.
    max_std : float
        The standard deviation of the brightness must be below this to pass.
    roi : bool
        Average over the camera's ROI (True) or the whole frame.
    brightness : array, optional
        Per-frame brightness already computed (e.g. over every frame).

    Returns
    -------
    QC
        Worst of the warning (75% within bounds) and failure parts; NOT_SET without frames.
    """
    if brightness is None:
        if frame_samples is None or len(frame_samples) == 0:
            return QC.NOT_SET
        brightness = np.asarray(frame_brightness(np.asarray(frame_samples), label, roi))
    brightness = np.asarray(brightness, dtype=np.float64)
    if brightness.size == 0:
        return QC.NOT_SET
    n = brightness.size if n_samples is None else n_samples
    pct_pass = 0.75
    warn = np.logical_and(brightness > bounds[0], brightness < bounds[1])
    warn = QC.PASS if warn.sum() / n > pct_pass else QC.WARNING
    fail = np.logical_and(brightness > bounds[0] / 2, brightness < bounds[1] * 2)
    fail = QC.PASS if fail.sum() / n > pct_pass and np.std(brightness) < max_std else QC.FAIL
    return overall_outcome([warn, fail])


def check_file_headers(fps=None, expected_fps=None) -> QC:
    """PASS if the video header's frame rate equals the expected one."""
    if fps is None or expected_fps is None:
        return QC.NOT_SET
    return QC.PASS if fps == expected_fps else QC.FAIL


def check_framerate(timestamps=None, expected_fps=None, threshold=1.0):
    """Frame rate from the median timestamp interval vs the expected one.

    Returns
    -------
    (QC, float)
        PASS if ``|Fs - fps| < threshold``, and Fs rounded to 3 decimals.
    """
    if timestamps is None or expected_fps is None:
        return QC.NOT_SET
    fs = 1 / np.median(np.diff(np.asarray(timestamps)))
    return (QC.PASS if abs(fs - expected_fps) < threshold else QC.FAIL), float(round(fs, 3))


def _size_outcome(size_diff: int) -> QC:
    return QC.PASS if size_diff == 0 else QC.WARNING if abs(size_diff) < 5 else QC.FAIL


def check_pin_state(pin_state=None, audio=None, length=None):
    """Check the GPIO pin state reflects the audio TTLs.

    Parameters
    ----------
    pin_state : (n, 4) bool array
        GPIO pin states per frame; the last pin carries the audio TTL.
    audio : array
        Audio TTL front times (rising and falling: every other one counts).
    length : int
        Number of frames in the video.

    Returns
    -------
    (QC, int, int)
        Outcome, TTLs minus low-to-high transitions, pin-state rows minus frames.
    """
    if pin_state is None or audio is None or length is None:
        return QC.NOT_SET
    pin_state = np.asarray(pin_state)
    size_diff = int(pin_state.shape[0] - length)
    # rising edges of the last pin; frame 0 never counts
    low2high = np.insert(np.diff(pin_state[:, -1].astype(int)) == 1, 0, False)
    ndiff = int(np.asarray(audio)[::2].size - low2high.sum())
    outcome = overall_outcome((_size_outcome(size_diff), QC.PASS if abs(ndiff) < 5 else QC.WARNING))
    return outcome, ndiff, size_diff


def check_dropped_frames(count=None, length=None, threshold=0.1):
    """Check how many frames the camera's frame counter says were dropped.

    Returns
    -------
    (QC, int, int) or QC
        Outcome, frames dropped, counter size minus frames; a bare CRITICAL if the
        counter is not strictly increasing.
    """
    if count is None or length is None:
        return QC.NOT_SET
    count = np.asarray(count)
    size_diff = int(count.size - length)
    d = np.diff(count)
    if not np.all(d > 0):
        _log.info("frame count not strictly increasing")
        return QC.CRITICAL
    dropped = d.astype(int) - 1
    pct = dropped.sum() / len(dropped) * 100
    outcome = overall_outcome((_size_outcome(size_diff), QC.PASS if pct < threshold else QC.FAIL))
    return outcome, int(dropped.sum()), size_diff


def check_timestamps(timestamps=None, length=None) -> QC:
    """PASS when there is one timestamp per frame, strictly increasing, without NaN."""
    if timestamps is None or length is None:
        return QC.NOT_SET
    ts = np.asarray(timestamps, dtype=np.float64)
    ok = ts.size == length and bool(np.all(np.diff(ts) > 0)) and not np.isnan(ts).any()
    return QC.PASS if ok else QC.FAIL


def check_camera_times(camera_times=None, length=None, bonsai_times=None):
    """Compare the number of raw camera timestamps with the number of frames.

    ibllib needs the Bonsai times to be loaded (NOT_SET otherwise) but counts the
    camera times.

    Returns
    -------
    (QC, int)
        PASS if equal else WARNING, and the difference.
    """
    if bonsai_times is None or camera_times is None or length is None:
        return QC.NOT_SET
    n = len(camera_times)
    return (QC.PASS if n == length else QC.WARNING), int(n - length)


def check_resolution(width=None, height=None, expected_width=None, expected_height=None) -> QC:
    """PASS when the frame size is the expected one."""
    if width is None or height is None or expected_width is None:
        return QC.NOT_SET
    return QC.PASS if (width == expected_width and height == expected_height) else QC.FAIL


def check_wheel_alignment(camera_times=None, wheel_timestamps=None, period=None, label="left",
                          offset=None, tolerance=(1, 2)):
    """Check that wheel motion seen in the video is aligned with the rotary encoder.

    Parameters
    ----------
    camera_times : array
        Camera timestamps.
    wheel_timestamps : array
        Wheel sample times.
    period : (2,) array
        The wheel movement period used for alignment (None: NOT_SET).
    label : str
        Camera; the body camera is never checked (NOT_SET).
    offset : int, optional
        The frame offset found by :func:`ibl_xvideo.qc.motion.align_motion`
        (None: NOT_SET).
    tolerance : (int, int)
        Offsets within the smaller pass; any other is a warning (ibllib has not failed
        this check since August 2022: ``0: FAIL -> WARNING``).

    Returns
    -------
    (QC, int) or QC
    """
    if camera_times is None or wheel_timestamps is None or period is None or label == "body":
        return QC.NOT_SET
    camera_times = np.asarray(camera_times)
    p = np.asarray(period).reshape(-1, 2)
    in_range = np.zeros(camera_times.shape, bool)
    for a, b in p:
        in_range |= (camera_times >= a) & (camera_times <= b)
    if not in_range.any():
        wt = np.asarray(wheel_timestamps)
        if np.any((camera_times > wt[0]) & (camera_times < wt[-1])):
            _log.warning("Unable to check wheel alignment: chosen movement is not during video")
            return QC.NOT_SET
        return QC.FAIL
    if offset is None:
        return QC.NOT_SET
    passed = np.abs(offset) <= np.sort(np.atleast_1d(np.array(tolerance)))
    return (QC.PASS if passed.all() else QC.WARNING), int(offset)


def find_face(frames, label: str, refs, roi=None, metric: str = "TM_CCOEFF_NORMED"):
    """Locate the face template (from the first reference frame) in each frame.

    Returns
    -------
    top_left : list of (x, y)
        Best match of the template in each frame.
    roi : ((y1, y2), (x1, x2))
        The template region.
    template : numpy.ndarray
    """
    roi = roi or FACE_ROI[label]
    template = np.asarray(refs[0])[tuple(slice(*r) for r in roi)]
    match = imgproc.TemplateMatcher(template, metric)
    match(np.asarray(frames[0]))  # the template's transform, once, before the threads share it

    def best(frame):
        res = match(np.asarray(frame))
        y, x = np.unravel_index(np.argmin(res) if metric == "TM_SQDIFF" else np.argmax(res), res.shape)
        return int(x), int(y)

    import os
    from concurrent.futures import ThreadPoolExecutor

    # NumPy and scipy.fft release the GIL: frames are matched in parallel
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        top_left = list(pool.map(best, frames))
    return top_left, roi, template


def check_position(frame_samples=None, label: str = "left", refs=None, hist_thresh=(75, 80),
                   pos_thresh=(10, 15), metric: str = "TM_CCOEFF_NORMED", test=False, roi=None,
                   pct_thresh=True, top_left=None) -> QC:
    """Check the camera is positioned as in the reference frames.

    Two parts, each FAIL / WARNING / PASS by how many of its two thresholds pass, and
    the **better** of the two is returned (ibllib aggregates with ``min``):

    * histogram correlation of every frame with the first reference frame (x100 with
      ``pct_thresh``) must exceed a threshold;
    * the face template's median position must be within a threshold of its place
      in the reference. With ``pct_thresh`` the x error is divided by the frame
      height and the y error by the width (ibllib quirk, kept).

    ``top_left`` may pass the template matches :func:`find_face` already found (with
    the default ``roi`` and ``metric``) to save matching them again.
    """
    if refs is None:
        return QC.NOT_SET
    if not test and (frame_samples is None or len(frame_samples) == 0):
        return QC.NOT_SET
    refs = np.asarray(refs)
    pos_thresh = np.sort(np.array(pos_thresh))
    hist_thresh = np.sort(np.array(hist_thresh))
    frames = refs if test else np.asarray(frame_samples)
    ref_h = imgproc.calc_hist(refs[0])
    corr = np.array([imgproc.compare_hist_correl(imgproc.calc_hist(f), ref_h) for f in frames])
    if pct_thresh:
        corr = corr * 100
    hist_passed = [np.all(corr > t) for t in hist_thresh]
    if top_left is None:
        top_left, roi, _ = find_face(refs if test else frames, label, refs, roi=roi, metric=metric)
    else:
        roi = roi or FACE_ROI[label]
    (y1, y2), (x1, x2) = roi
    err = (x1, y1) - np.median(np.array(top_left), axis=0)
    h, w = frames[0].shape[:2]
    if pct_thresh:
        err_pct = np.array([abs(e) / d * 100 for e, d in zip(err, (h, w))])
        face_passed = [np.all(err_pct < t) for t in pos_thresh]
    else:
        face_passed = [np.all(np.abs(err) < t) for t in pos_thresh]
    pass_map = {0: QC.FAIL, 1: QC.WARNING, 2: QC.PASS}
    return overall_outcome([pass_map[int(sum(face_passed))], pass_map[int(sum(hist_passed))]], agg=min)


def focus_measures(frames, rois, equalize=True):
    """Ibllib's two focus measures for each frame, in the given order.

    Returns
    -------
    lpc_var : (n, len(rois)) array
        Variance of the Laplacian in each ROI.
    filt_mean : (n,) array
        Mean of the high-pass (FFT) filtered frame.
    """
    lpc_var = np.empty((len(frames), len(rois)))
    filt_mean = np.empty(len(frames))
    for i, frame in enumerate(frames):
        f = imgproc.equalize_hist(frame) if equalize else np.asarray(frame)
        lpc = imgproc.laplacian(f)
        lpc_var[i] = [lpc[r].var() for r in rois]
        filt_mean[i] = imgproc.highpass_mean(f)
    return lpc_var, filt_mean


def check_focus(frame_samples=None, label: str = "left", refs=None, n=20, threshold=(100, 6),
                roi=False, test=False, equalize=True, return_measures=False, top_left=None):
    """Check the video is in focus (Laplacian variance or high-pass energy).

    Parameters
    ----------
    frame_samples : (N, h, w) uint8 array
        Sample frames; ``n`` of them are used (``unique(linspace(0, N-1, n))``).
    label : str
        Camera label.
    refs : array, optional
        Reference frames, needed for ``roi=False`` (face ROI by template matching)
        and ``test``.
    n : int
        Number of frames used.
    threshold : (float, float)
        Lower bounds of the Laplacian variance and the high-pass mean.
    roi : False, None or sequence of slices
        False: the face ROI found by template matching; None: fixed ROIs per camera.
    test : bool
        Use the first reference frame blurred with growing box filters.
    equalize : bool
        Equalise each frame's histogram first.
    return_measures : bool
        Also return ``(lpc_var, filt_mean)``.
    top_left : list, optional
        The face matches :func:`find_face` already found in ``frame_samples``.

    Returns
    -------
    QC
        PASS if every Laplacian variance exceeds ``threshold[0]`` or every high-pass
        mean exceeds ``threshold[1]``, else FAIL.
    """
    no_frames = frame_samples is None or len(frame_samples) == 0
    if not test and no_frames:
        return QC.NOT_SET
    if roi is False:
        if refs is None:
            return QC.NOT_SET
        rois = (face_roi(refs if test else frame_samples, label, refs, None if test else top_left),)
    else:
        rois = roi or FOCUS_ROI[label]
    if test:
        ref = np.asarray(refs)[0]
        kernels = np.unique(np.linspace(0, 15, n, dtype=int))
        img = np.stack([ref.copy() if k == 0 else imgproc.box_blur(ref, int(k)) for k in kernels])
    else:
        samples = np.asarray(frame_samples)
        idx = np.unique(np.linspace(0, len(samples) - 1, n, dtype=int))
        img = samples[idx]
    lpc_var, filt_mean = focus_measures(img[::-1], rois, equalize)
    passes = np.all(lpc_var > threshold[0]) or np.all(filt_mean > threshold[1])
    outcome = QC.PASS if passes else QC.FAIL
    return (outcome, lpc_var, filt_mean) if return_measures else outcome


def _why_no_refs(label: str, ctx: dict) -> str:
    """Why position and focus were not checked."""
    if ctx.get("refs_skipped"):
        return "skipped (refs=False, --no-refs)"
    if ctx.get("refs_size"):
        h, w = ctx["refs_size"]
        return (f"the reference frames are {w}x{h}, not this video's size: not checked "
                "(pass refs= frames of this camera)")
    if ctx.get("face_outside"):
        (y1, y2), (x1, x2) = FACE_ROI.get(label, ((0, 0), (0, 0)))
        return (f"ibllib's face region of the {label} camera (x {x1}-{x2}, y {y1}-{y2}) lies outside this "
                f"{ctx.get('width')}x{ctx.get('height')} video: not checked")
    return (f"no reference frames of this camera (install ibllib, or pass refs=<frames_{label}.npy>): "
            "not checked")


def explain(check: str, value, ctx: dict) -> str:
    """Why a check did not PASS, in words: what it measured against what it expects.

    Parameters
    ----------
    check : str
        The check's short name (``'brightness'``, ``'position'``...).
    value : QC or tuple
        Its outcome, as the check returned it.
    ctx : dict
        What the QC run knew: ``label``, ``kind``, ``brightness`` (the values checked),
        ``expected`` (fps, width, height or empty), ``fps``, ``width``, ``height``,
        ``refs_skipped`` (refs=False), ``refs_size`` (of reference frames dropped for not
        matching the video), ``face_outside`` (:func:`face_roi_fits` is False),
        ``position_err`` ((n, 2) pixels or None).
    """
    outcome, *extra = value if isinstance(value, tuple) else (value,)
    label, exp, kind = ctx.get("label", ""), ctx.get("expected") or {}, str(ctx.get("kind"))
    rig = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind} rig's {label} camera"
    no_refs = _why_no_refs(label, ctx)
    if check == "brightness":
        b = np.asarray(ctx.get("brightness", []), dtype=float)
        if not b.size:
            return "no frames to measure"
        inside = float(np.mean((b > 40) & (b < 200)))
        return (f"mean brightness of the {label} camera's region {np.median(b):.0f} (median; "
                f"{b.min():.0f}-{b.max():.0f}); {inside:.0%} of the frames within 40-200 (over 75% to pass), "
                f"standard deviation {b.std():.1f} (under 20 to pass)")
    if check == "file_headers":
        if outcome == QC.NOT_SET:
            return f"no expected frame rate for {rig} (pass kind=)"
        return f"the file says {ctx.get('fps')} fps; {rig} records {exp.get('fps')}"
    if check == "resolution":
        if outcome == QC.NOT_SET:
            return f"no expected size for {rig} (pass kind=)"
        size = f"{ctx.get('width')}x{ctx.get('height')}"
        return f"the video is {size}; {rig} records {exp.get('width')}x{exp.get('height')}"
    if check == "framerate":
        if outcome == QC.NOT_SET:
            return "no timestamps or no expected frame rate (pass kind=)"
        return f"the timestamps give {extra[0]} Hz; expected {exp.get('fps')} Hz (within 1 Hz to pass)"
    if check == "timestamps":
        return "the timestamps are not one strictly increasing time per frame" if outcome != QC.NOT_SET \
            else "no timestamps"
    if check == "camera_times":
        if outcome == QC.NOT_SET:
            return "no Bonsai camera times (raw_video_data/_iblrig_<label>Camera.timestamps.ssv): not checked"
        return f"{extra[0]:+d} Bonsai camera times against the frames (none to pass)"
    if check == "dropped_frames":
        if outcome == QC.NOT_SET:
            return "no frame counter (raw_video_data/_iblrig_<label>Camera.frameData.bin or GPIO): not checked"
        if not extra:
            return "the frame counter does not count up: unreadable"
        return (f"the camera's counter says {extra[0]} frames were dropped (under 0.1% to pass); "
                f"{extra[1]:+d} counter entries against the frames (none to pass, under 5 to warn)")
    if check == "pin_state":
        if outcome == QC.NOT_SET:
            return "no audio TTLs from the DAQ or Bpod, or no GPIO pin states: not checked"
        return (f"{extra[0]:+d} audio TTLs against the rising edges of the camera's GPIO pin (under 5 to pass); "
                f"{extra[1]:+d} pin-state rows against the frames")
    if check == "position":
        if outcome == QC.NOT_SET:
            return no_refs
        err = ctx.get("position_err")
        if err is None or not len(err):
            return "the face was not found where the reference frames have it"
        d = np.hypot(*np.asarray(err, dtype=float).T)
        return (f"the face is {np.median(d):.0f} pixels (median) from where the reference frames have it "
                "(under 10-15 to pass), or the picture differs from them (histogram correlation under 75-80)")
    if check == "focus":
        return no_refs if outcome == QC.NOT_SET else "the face is less sharp than in the reference frames"
    if check == "wheel_alignment":
        if outcome == QC.NOT_SET:
            if label == "body":
                return "the body camera does not see the wheel: not checked (as ibllib)"
            return "no wheel data in alf/ or no wheel movement to align on: not checked"
        if not extra:
            return "the wheel's movement period is outside the video"
        return f"the motion in the wheel's region is {extra[0]:+d} frames off the wheel's (at most 1 to pass)"
    return f"{outcome.name}"
