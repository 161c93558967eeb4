"""``camera_qc``: run the IBL camera QC on a session's video with ibl-xvideo's engine."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from one.alf.spec import QC

from ..camera import open_camera
from ..engine.decode import each_frame, read_frames
from ..engine.index import cache_dir, index_of
from ..engine.planning import nearest
from ..errors import InvalidTimestampsError, TimestampsError, XVideoError, check_count, check_option
from ..io.remote import STATS as HTTP_STATS
from ..io.remote import Retry, Transport, download
from ..io.sources import resolve, session_labels
from ..progress import progress as progress_bar
from . import checks
from .figure import plot_qc
from .inputs import fetch_qc_inputs
from .raw import load_audio_ttls, load_camera_rig_data, read_description
from .wheel import active_wheel_period, align_motion

__all__ = ["QCResult", "camera_qc", "session_qc", "sample_indices", "nearest_keyframes", "load_reference_frames",
           "session_type", "expected_properties", "SAMPLES"]

_log = logging.getLogger(__name__)

CHECK_NAMES = ("brightness", "camera_times", "dropped_frames", "file_headers", "focus", "framerate",
               "pin_state", "position", "resolution", "timestamps", "wheel_alignment")


@dataclass
class QCResult:
    """Outcome and metrics of a camera QC run.

    Attributes
    ----------
    outcome : one.alf.spec.QC
        Worst outcome over the metrics (ibllib's aggregation).
    metrics : dict
        ``'_video<Label>_<check>'`` -> QC or ibllib's tuple.
    label, eid : str
    measures : xarray.Dataset
        Frame-level measures: brightness of the sample frames (``sample`` dim); with
        reference frames, their face position error (``sample_position_err_x/y``,
        pixels) and the focus measures of the frames the focus check uses
        (``focus_sample`` dim); with ``full=True`` those of every frame (``frame``
        dim; see ``full``); from the camera's frame counter, where it dropped frames
        (``dropped_after``: the first frame after each gap, ``dropped_count``: frames
        lost; ``gap`` dim). Attributes: ``samples`` (how the sample frames were
        picked), ``frames`` (the video's frame count), and for a streamed video
        ``bytes_read`` (what reading its frames fetched over the network).
    samples : numpy.ndarray or None
        The sample frames the checks used, ``(n_samples, h, w)`` uint8.
    reasons : dict
        Why each metric that is not PASS is what it is, in words (same keys as
        ``metrics``); ibllib gives no reasons.
    location : str
        The video checked (a path or URL).
    """

    outcome: QC
    metrics: dict
    label: str = ""
    eid: str = ""
    measures: xr.Dataset = field(default_factory=xr.Dataset)
    samples: np.ndarray | None = field(default=None, repr=False)
    reasons: dict = field(default_factory=dict)
    location: str = ""

    @property
    def not_run(self) -> list[str]:
        """The checks that gave no verdict (NOT_SET): what a PASS says nothing about."""
        return [k.split("_", 2)[-1] for k, v in self.metrics.items()
                if (v[0] if isinstance(v, tuple) else v) == QC.NOT_SET]

    def summary(self) -> str:
        """One line: the outcome by name, and which checks did not run (a PASS never hides them)."""
        what = f"{self.label} camera of {self.eid or self.location}: {self.outcome.name}"
        if not self.metrics:
            return f"{what} (no check ran: {next(iter(self.reasons.values()), 'no inputs')})"
        if self.not_run:
            what += (f" ({len(self.metrics) - len(self.not_run)} of {len(self.metrics)} checks ran; not run: "
                     f"{', '.join(self.not_run)})")
        return what

    def __str__(self) -> str:
        return self.summary()

    def plot(self, out=None, refs=None):
        """The QC report figure (see :func:`ibl_xvideo.qc.figure.plot_qc`)."""
        return plot_qc(self, self.samples, refs, out)

    def to_dict(self) -> dict:
        """JSON-friendly outcome and metrics (QC values by name)."""
        def conv(v):
            if isinstance(v, QC):
                return v.name
            if isinstance(v, tuple):
                return [conv(x) for x in v]
            if isinstance(v, (np.integer, np.floating)):
                return v.item()
            return v

        return {"outcome": self.outcome.name, "label": self.label, "eid": self.eid,
                "metrics": {k: conv(v) for k, v in self.metrics.items()}, "reasons": dict(self.reasons),
                "not_run": self.not_run, "summary": self.summary(),
                "samples": self.measures.attrs.get("samples", "exact")}


#: How camera_qc picks its sample frames (see its ``samples``).
SAMPLES = ("exact", "keyframes")


def nearest_keyframes(key_frames: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The keyframe nearest each frame of ``idx`` (the earlier one on a tie), one per sample."""
    key_frames = np.asarray(key_frames, dtype=np.int64)
    return key_frames[nearest(key_frames, idx)]


def sample_indices(length: int, n_samples: int = 100) -> np.ndarray:
    """The frames CameraQC samples: ``linspace(100, length - 100, n_samples).astype(int)``.

    ibllib has no guard for videos under 200 frames; here the indices are clipped to
    the video.
    """
    idx = np.linspace(100, length - 100, n_samples).astype(int)
    return np.clip(idx, 0, max(length - 1, 0))


#: Where ibllib keeps its reference frames; ``$IBL_XVIDEO_REFERENCE_URL`` overrides it
#: (``{label}`` is replaced by the camera label; an empty value disables downloads).
REFERENCE_URL = ("https://raw.githubusercontent.com/int-brain-lab/ibllib/master/ibllib/qc/reference/"
                 "frames_{label}.npy")


def load_reference_frames(label: str, refs=None, one=None, session_path=None):
    """Reference frames for the position and focus checks, or None.

    Looked for in order: ``refs`` (array or ``.npy`` path); the session's own
    (``<session_path>/raw_video_data/_xvideo_<label>Camera.referenceFrames.npy``, as the
    built-in demo has them for its synthetic scene); ibllib's package data
    (``ibllib/qc/reference/frames_<label>.npy``) when ibllib is installed; a cached
    copy in ``<ONE cache>/ibl_xvideo/reference/`` (``one`` given) or
    ``<cache_dir>/reference/``; else a download from :data:`REFERENCE_URL` into that
    cache (one attempt; None when it fails, e.g. offline).
    """
    if refs is not None:
        return np.load(refs) if isinstance(refs, (str, os.PathLike)) else np.asarray(refs)
    own = Path(session_path, "raw_video_data", f"_xvideo_{label}Camera.referenceFrames.npy") if session_path else None
    if own is not None and own.exists():
        return np.load(own)
    try:
        import importlib.util

        spec = importlib.util.find_spec("ibllib")
        if spec is not None and spec.origin:
            f = Path(spec.origin).parent / "qc" / "reference" / f"frames_{label}.npy"
            if f.exists():
                return np.load(f)
    except (ImportError, ValueError):
        pass
    folder = (Path(one.cache_dir) / "ibl_xvideo" if one is not None else cache_dir()) / "reference"
    f = folder / f"frames_{label}.npy"
    if f.exists():
        return np.load(f)
    url = os.environ.get("IBL_XVIDEO_REFERENCE_URL", REFERENCE_URL)
    if not url:
        return None
    try:
        download(url.format(label=label), f, Transport(retry=Retry(retries=0)), progress=False)
        return np.load(f)
    except (XVideoError, OSError, ValueError) as exc:
        reason = str(exc).replace(url.format(label=label), "").strip(" :")
        _log.warning("Could not download the %s reference frames from %s: %s", label, url.format(label=label),
                     reason if len(reason) < 160 else reason[:157] + "...")
        return None


def session_type(session_path) -> str | None:
    """'ephys' when the session syncs on an FPGA (nidq), else 'training'; None if unknown.

    From ``_ibl_experiment.description*.yaml`` (``sync: nidq``) when present, else
    'ephys' if the session has ``raw_ephys_data``, else 'training'.
    """
    if session_path is None:
        return None
    sp = Path(session_path)
    desc = read_description(sp)
    if desc is not None:
        sync = desc.get("sync") or {}
        return "ephys" if "nidq" in sync else "training"
    return "ephys" if (sp / "raw_ephys_data").exists() else "training"


def expected_properties(label: str, kind: str | None, session_path=None) -> dict | None:
    """Expected fps / width / height of a camera, with the experiment description's override."""
    exp = dict(checks.EXPECTED.get(kind or "", {}).get(label, {}))
    desc = read_description(Path(session_path)) if session_path is not None else None
    if desc is not None:
        cam = ((desc.get("devices") or {}).get("cameras") or {}).get(label)
        if cam is None:
            raise XVideoError(f"The experiment description of {session_path} has no {label} camera.")
        exp.update({k: cam[k] for k in ("fps", "width", "height") if k in cam})
    return exp or None


def _load_wheel(session_path):
    """``(timestamps, position)`` of the session's ALF wheel object, or None."""
    if session_path is None:
        return None
    files = sorted(Path(session_path, "alf").rglob("*wheel.timestamps*.npy"))
    if not files:
        return None
    pos = sorted(files[0].parent.glob("*wheel.position*.npy"))
    if not pos:
        return None
    return np.load(files[0]).ravel(), np.load(pos[0]).ravel()


def _wheel_alignment(res, label, timestamps):
    """Ibllib's wheel-alignment check on the session's wheel and this video."""
    wheel = _load_wheel(res.session_path)
    if wheel is None or label == "body" or timestamps is None:
        return QC.NOT_SET
    wts, wpos = wheel
    period = active_wheel_period(wts, wpos)
    if period is None:
        return QC.NOT_SET
    times = np.asarray(timestamps, dtype=np.float64)
    outcome = checks.check_wheel_alignment(times, wts, period, label, offset=0)
    if not isinstance(outcome, tuple):  # NOT_SET or FAIL: the period is not in the video
        return outcome

    cam = open_camera(res.location, label, timestamps=times, on_mismatch="truncate", validate_times=False,
                      chunks=None, storage_options=res.transport)
    offset, _, _ = align_motion(cam, wts, wpos, period, label, camera_times=times[:cam.sizes["time"]])
    return checks.check_wheel_alignment(times, wts, period, label, offset=offset)


def _brightness_task(index, a: int, b: int, label: str, whole, pixels: str):
    """Brightness of frames [a, b) and the listed frames whole, decoding the range once."""
    ys, xs = checks.brightness_roi(label, index.height, index.width)
    out = np.empty(b - a)

    def measure(i, roi):
        out[i - a] = roi.mean()

    return out, each_frame(index, a, b, measure, y=ys, x=xs, pixels=pixels, whole=whole)


def _brightness_pass(res, label: str, idx: np.ndarray, progress: bool):
    """The sample frames and the brightness of every frame, in one decoding pass.

    One Dask task per keyframe-aligned chunk of the camera (as a full scan), on the
    active scheduler (a ``dask.distributed`` client included); each task streams its
    frames through one decoder and keeps the sample frames that fall in it.
    """
    import dask


    cam = open_camera(res.location, label, timestamps=False, storage_options=res.transport)
    index = index_of(res.source)
    bounds = np.cumsum((0,) + cam.data.chunks[0])
    want = np.unique(idx)
    tasks = [dask.delayed(_brightness_task, pure=True)(
        index, int(a), int(b), label, want[(want >= a) & (want < b)].tolist(), cam.attrs["pixels"])
        for a, b in zip(bounds[:-1], bounds[1:])]
    with progress_bar(f"{label} camera, every frame", disable=not progress):
        parts = dask.compute(*tasks)
    kept = {i: f for _, k in parts for i, f in k.items()}
    samples = np.stack([kept[int(i)] for i in idx])
    every = xr.Dataset({"brightness": ("frame", np.concatenate([p[0] for p in parts]))},
                       coords={"frame": ("frame", cam.frame.values)})
    return samples, every


def camera_qc(
    source,
    label: str | None = None,
    *,
    one=None,
    n_samples: int = 100,
    full: bool = False,
    refs=None,
    kind: str | None = None,
    audio=None,
    timestamps=None,
    progress: bool = True,
    full_measures=None,
    cache=None,
    samples: str = "exact",
    storage_options: dict | None = None,
) -> QCResult:
    """Run ibllib's camera QC on a video and return its outcome and metrics.

    Parameters
    ----------
    source : str, uuid.UUID or PathLike
        eid (with ``one``), session path or video file.
    label : str, optional
        Camera label.
    one : one.api.One, optional
        ONE instance for eids.
    n_samples : int
        Sample frames for the frame checks (``linspace(100, n - 100, n_samples)``).
    full : bool
        Also compute, in one Dask pass over every frame, the brightness (the
        brightness check is then judged on all frames) and, with reference frames,
        every frame's histogram correlation, focus measures (Laplacian variance in
        the face ROI, high-pass FFT mean) and face position error (the template
        searched around its median place in the samples, as far as the position
        check can pass; see :func:`ibl_xvideo.qc.frame_measures`), kept in
        ``measures``; the position and focus outcomes stay those of the samples, as
        ibllib.
    refs : array, path or False, optional
        Reference frames for position and focus (see :func:`load_reference_frames`);
        without any, those checks are NOT_SET with a warning; ``False`` skips them
        on purpose (NOT_SET, no warning, nothing looked for or downloaded).
    kind : {'ephys', 'training'}, optional
        Rig type for the expected fps and size; default from the session.
    audio : array, optional
        Audio TTL front times for the pin-state check; default the session's, from its
        DAQ sync (nidq, 3A probe or Timeline) or Bpod task data (see :func:`ibl_xvideo.qc.raw.load_audio_ttls`);
        NOT_SET without.
    timestamps : array or path, optional
        Camera timestamps; default the session's ``alf/_ibl_<label>Camera.times.npy``.
    progress : bool
        Show progress bars.
    full_measures : sequence of str, optional
        With ``full=True`` and reference frames, which per-frame measures to compute
        (:data:`ibl_xvideo.qc.checks.MEASURES`; default all). The FFT focus measure
        and the face position cost the most (about 3 and 1.6 ms a 640x512 frame).
    cache : str, PathLike or fsspec URL, optional
        A Zarr store of this video's decoded frames, as ``open_camera(..., cache=)``:
        the samples (and the full pass) are read from it when it is a complete
        export of this video, else it is filled first. The frames are the same;
        reading them from the store skips the decoding.
    samples : {'exact', 'keyframes'}
        ``'exact'``: ibllib's sample frames. ``'keyframes'``: for each of them the
        nearest keyframe, so that each sample costs one intra-frame decode (and, over
        HTTP, only that keyframe's bytes); the frame checks then judge frames up to
        half a keyframe interval away from ibllib's (see docs/benchmarks.md for how
        often the outcomes agree).
    storage_options : dict, optional
        For an ``s3://`` video (see :func:`ibl_xvideo.open_camera`).

    Returns
    -------
    QCResult
    """
    check_qc_options(n_samples=n_samples, samples=samples, kind=kind, full_measures=full_measures)
    before = HTTP_STATS.bytes_by_source()
    inputs = _load_inputs(source, label, one, n_samples, refs, kind, audio, timestamps, samples, storage_options)
    before = before.get(str(inputs.res.location), 0)
    result = _judge(inputs, _read_samples(inputs, full, progress, full_measures, cache), refs_skipped=refs is False)
    if "://" in str(inputs.res.location):  # what streaming the video cost, its index included (unless cached)
        result.measures.attrs["bytes_read"] = HTTP_STATS.bytes_by_source().get(str(inputs.res.location), 0) - before
    return result


def check_qc_options(*, n_samples: int = 100, samples: str = "exact", kind: str | None = None,
                     full_measures=None) -> None:
    """Check :func:`camera_qc`'s options on entry: :class:`~ibl_xvideo.errors.InvalidOptionError` naming the allowed."""
    check_count("n_samples", n_samples)
    check_option("samples", samples, SAMPLES)
    check_option("kind", kind, (None, *checks.EXPECTED))
    checks.check_measures(full_measures, "full_measures")


@dataclass
class _Inputs:
    """What the QC of one camera judges, besides its frames (loaded by :func:`_load_inputs`)."""

    res: object  # sources.Resolved: the video, its session and timestamps
    label: str
    index: object  # index.VideoIndex
    kind: str | None
    expected: dict | None
    idx: np.ndarray  # the sample frames
    sampling: str
    n_samples: int
    ref: np.ndarray | None = None  # reference frames for position and focus, None when they cannot be used
    refs_size: tuple | None = None  # the size of reference frames dropped for not matching the video
    face_outside: bool = False
    count: np.ndarray | None = None
    pin_state: np.ndarray | None = None
    audio: np.ndarray | None = None
    bonsai_times: np.ndarray | None = None
    camera_times: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.res.eid or str(self.res.location)


def _load_inputs(source, label, one, n_samples, refs, kind, audio, timestamps, sampling,
                 storage_options=None) -> _Inputs:
    """The video, timestamps, sample frames, reference frames and the session's raw data for the checks."""
    try:
        res = resolve(source, label, one=one, timestamps=timestamps, storage_options=storage_options)
    except TimestampsError as exc:
        # the QC itself judges the timestamps (NOT_SET without them, FAIL when wrong)
        if isinstance(exc, InvalidTimestampsError):  # there, but unreadable: say so, not "missing"
            warnings.warn(str(exc), stacklevel=3)
        res = resolve(source, label, one=one, timestamps=False, storage_options=storage_options)
    if res.label is None:
        raise XVideoError(f"Give the camera label for {source}.")
    if one is not None and res.eid:  # an online ONE: what the checks read, fetched once into its cache
        fetch_qc_inputs(one, res.eid, res.label)
    index = index_of(res.source)
    sp = res.session_path
    kind = kind or session_type(sp)
    idx = sample_indices(index.length, n_samples)
    if sampling == "keyframes":
        idx = nearest_keyframes(index.key_frames, idx)
    inputs = _Inputs(res, res.label, index, kind, expected_properties(res.label, kind, sp), idx, sampling,
                     n_samples, audio=audio)
    if sp is not None:
        inputs.count, inputs.pin_state, inputs.bonsai_times, inputs.camera_times = load_camera_rig_data(sp, res.label)
        if audio is None:
            try:
                inputs.audio = load_audio_ttls(sp, kind)
            except XVideoError as exc:
                warnings.warn(f"pin_state is NOT_SET: {exc}", stacklevel=3)
    ref = None if refs is False else load_reference_frames(res.label, refs, one, sp)
    if ref is not None and tuple(ref.shape[-2:]) != (index.height, index.width):
        warnings.warn(f"The {res.label} reference frames are {ref.shape[-1]}x{ref.shape[-2]} but the video of "
                      f"{inputs.name} is {index.width}x{index.height}: position and focus are "
                      "NOT_SET. Pass refs= frames of this camera's size.", stacklevel=3)
        ref, inputs.refs_size = None, tuple(ref.shape[-2:])
    inputs.face_outside = ref is not None and not checks.face_roi_fits(res.label, index.height, index.width)
    if inputs.face_outside:
        warnings.warn(f"ibllib's face region of the {res.label} camera lies outside the {index.width}x"
                      f"{index.height} video of {inputs.name}: position and focus are NOT_SET.", stacklevel=3)
        ref = None
    inputs.ref = ref
    return inputs


def _sample_threads() -> int:
    """Threads reading the samples: every core, but one in a task on a Dask cluster's worker.

    The cluster runs its tasks side by side, a core each: more threads a task would only
    share the same cores, at the cost of more decoders to open and to keep in step.
    """
    if "distributed" in sys.modules:  # not imported: not in a worker
        from distributed import get_worker

        try:
            get_worker()
            return 1
        except ValueError:
            pass
    return os.cpu_count() or 1


@dataclass
class _Samples:
    """The sample frames and what was measured on them (by :func:`_read_samples`)."""

    frames: np.ndarray
    measures: xr.Dataset
    every: xr.Dataset | None = None  # with full=True: every frame's measures
    faces: list | None = None  # the face template's top-left corner in each sample (with reference frames)
    focus: object = QC.NOT_SET  # the focus check's outcome (with reference frames)


def _read_samples(inputs: _Inputs, full: bool, progress: bool, full_measures, cache) -> _Samples:
    """The sample frames and their measures; with ``full``, every frame's measures."""
    from tqdm.auto import tqdm

    res, label, idx, ref = inputs.res, inputs.label, inputs.idx, inputs.ref
    cached = every = None
    if cache is not None:
        cached = open_camera(res.location, label, cache=cache, chunks=None, progress=progress, timestamps=False,
                             storage_options=res.transport)
        frames = cached.isel(time=idx).values
    elif full and ref is None:
        # no reference frames: nothing in the full pass depends on the samples, which it picks up
        frames, every = _brightness_pass(res, label, idx, progress)
    else:
        with tqdm(total=np.unique(idx).size, desc=f"QC samples {label}", unit="frame", disable=not progress,
                  leave=False) as bar:
            frames = read_frames(inputs.index, idx, workers=_sample_threads(), progress=bar.update)
    measures = xr.Dataset({"sample_brightness": ("sample", checks.frame_brightness(frames, label))},
                          coords={"sample_frame": ("sample", idx)},
                          attrs={"samples": inputs.sampling, "frames": inputs.index.length})
    # the face template is matched once in the samples, for position, focus and the full pass
    faces = checks.find_face(frames, label, ref)[0] if ref is not None else None
    focus = QC.NOT_SET
    if ref is not None:
        # the measures behind the position and focus outcomes, for the report and the user
        (y1, _), (x1, _) = checks.FACE_ROI[label]
        err = np.array([x1, y1]) - np.array(faces)
        focus, lpc, filt = checks.check_focus(frames, label, ref, top_left=faces, return_measures=True)
        used = np.unique(np.linspace(0, len(frames) - 1, 20, dtype=int))[::-1]  # check_focus's frames, in order
        measures = measures.assign(
            sample_position_err_x=("sample", err[:, 0]), sample_position_err_y=("sample", err[:, 1]),
            sample_focus_lpc=("focus_sample", lpc[:, 0]), sample_focus_fft=("focus_sample", filt),
        ).assign_coords(focus_frame=("focus_sample", idx[used]))
    if full and every is None:
        # the (now complete) store's shards as Dask chunks, or the video's keyframe groups
        cam = open_camera(res.location, label, timestamps=False, storage_options=res.transport,
                          **({} if cached is None else {"cache": cache}))
        roi = checks.face_roi(frames, label, ref, faces) if ref is not None else None
        center = tuple(np.median(np.array(faces), axis=0).round().astype(int)) if ref is not None else None
        lazy = checks.frame_measures(cam, label, ref, roi, center=center,
                                     measures=full_measures if ref is not None else ("brightness",))
        with progress_bar(f"{label} camera, every frame", disable=not progress):
            every = lazy.compute()
        every = every.swap_dims(time="frame").drop_vars("time")
    if full:
        timestamps = inputs.res.times
        if timestamps is not None and timestamps.size == inputs.index.length:
            every = every.assign_coords(time=("frame", timestamps))
        measures = measures.merge(every)
    return _Samples(frames, measures, every, faces, focus)


def _judge(inputs: _Inputs, samples: _Samples, refs_skipped: bool) -> QCResult:
    """Each check's outcome, the overall outcome and the reasons of what is not a PASS."""
    res, label, index, ref = inputs.res, inputs.label, inputs.index, inputs.ref
    frames, measures, every, faces = samples.frames, samples.measures, samples.every, samples.faces
    timestamps, length, eid = res.times, index.length, res.eid or ""
    whole = f"_video{label.capitalize()}"
    if timestamps is None:
        why = (f"No timestamps for the {label} camera of {inputs.name}: as ibllib, the QC is NOT_SET. Put the "
               f"session's alf/_ibl_{label}Camera.times.npy beside the video (or load it with ONE), or pass "
               "timestamps=.")
        warnings.warn(why, stacklevel=3)
        return QCResult(QC.NOT_SET, {}, label, eid, measures, frames, {whole: why}, str(res.location))
    if timestamps.size == 0:
        why = f"The {label} camera of {inputs.name} has an empty timestamps file: CRITICAL, as ibllib."
        return QCResult(QC.CRITICAL, {}, label, eid, measures, frames, {whole: why}, str(res.location))
    if ref is None and not refs_skipped:
        warnings.warn(
            f"No reference frames for the {label} camera: the position and focus checks are NOT_SET. "
            f"Install ibllib, pass refs=<frames_{label}.npy>, put that file in {cache_dir() / 'reference'}, "
            "or let it download (IBL_XVIDEO_REFERENCE_URL).", stacklevel=3)
    if not inputs.expected:
        warnings.warn(f"No expected fps/size for a {inputs.kind} rig's {label} camera: file_headers, framerate "
                      "and resolution are NOT_SET. Pass kind='ephys' or 'training', or describe the camera "
                      "in _ibl_experiment.description.yaml.", stacklevel=3)
    exp = inputs.expected or {}
    fps = exp.get("fps")
    brightness_all = None if every is None else every["brightness"].values
    results = {
        "brightness": checks.check_brightness(frames, label, n_samples=inputs.n_samples) if brightness_all is None
        else checks.check_brightness(label=label, brightness=brightness_all),
        "camera_times": checks.check_camera_times(inputs.camera_times, length, inputs.bonsai_times),
        "dropped_frames": checks.check_dropped_frames(inputs.count, length),
        "file_headers": checks.check_file_headers(int(index.fps), fps),
        "focus": samples.focus,
        "framerate": checks.check_framerate(timestamps, fps),
        "pin_state": checks.check_pin_state(inputs.pin_state, inputs.audio, length),
        "position": checks.check_position(frames, label, ref, top_left=faces) if ref is not None else QC.NOT_SET,
        "resolution": checks.check_resolution(index.width, index.height, exp.get("width"), exp.get("height")),
        "timestamps": checks.check_timestamps(timestamps, length),
        "wheel_alignment": _wheel_alignment(res, label, timestamps),
    }
    count = inputs.count
    if count is not None and len(count) > 1:  # where the camera's counter jumps: the frames it dropped
        jumps = np.diff(np.asarray(count, dtype=np.int64))
        gap = np.flatnonzero(jumps > 1)
        measures = measures.assign(dropped_after=("gap", gap + 1), dropped_count=("gap", jumps[gap] - 1))
    prefix = f"_video{label.capitalize()}_"
    metrics = {prefix + k: results[k] for k in CHECK_NAMES}
    outcome = checks.overall_outcome(v[0] if isinstance(v, tuple) else v for v in metrics.values())
    position_err = None if ref is None else np.column_stack([measures["sample_position_err_x"].values,
                                                             measures["sample_position_err_y"].values])
    ctx = {"label": label, "kind": inputs.kind, "expected": exp, "fps": int(index.fps), "width": index.width,
           "refs_skipped": refs_skipped, "refs_size": inputs.refs_size, "face_outside": inputs.face_outside,
           "height": index.height, "brightness": measures["sample_brightness"].values if brightness_all is None
           else brightness_all, "position_err": position_err}
    reasons = {prefix + k: checks.explain(k, results[k], ctx) for k in CHECK_NAMES
               if (results[k][0] if isinstance(results[k], tuple) else results[k]) != QC.PASS}
    return QCResult(outcome, metrics, label, eid, measures, frames, reasons, str(res.location))


def session_qc(source, labels=None, *, one=None, **kwargs) -> dict:
    """Ibllib's camera QC on each camera of a session (as ibllib's ``run_all_qc``).

    Parameters
    ----------
    source : str, uuid.UUID or PathLike
        eid (with ``one``) or session path.
    labels : sequence of str, optional
        Cameras; default every camera whose video the session has.
    **kwargs
        Passed to :func:`camera_qc` (``n_samples``, ``full``, ``refs``...).

    Returns
    -------
    dict
        label -> :class:`QCResult`.
    """
    labels = list(session_labels(source, one=one) if labels is None else labels)
    if not labels:
        raise XVideoError(f"{source} has no camera video (raw_video_data/_iblrig_<label>Camera.raw.mp4).")
    return {label: camera_qc(source, label, one=one, **kwargs) for label in labels}
