"""Shareable clips: a time range and region of a camera written as an H.264 mp4, with its timestamps.

``cam.video.to_mp4('trial12.mp4', time=slice(100, 104), roi='0:256,320:640')`` writes
the frames (H.264 through PyAV, ``yuv420p`` so that every player opens it) and
``trial12.times.npy`` beside it: the session time of each frame of the clip (a clip's
own clock starts at 0 and assumes a constant rate; the camera's does not). The
session time and the pose points can be burned into the picture.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import xarray as xr

from .camera import as_frames, check_uncropped
from .errors import InvalidOptionError, XVideoError
from .io.fileio import written
from .store import parse_roi

__all__ = ["to_mp4"]

#: Colours of the pose points burned into a clip (RGB), cycled over the keypoints.
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (188, 189, 34), (23, 190, 207)]


def to_mp4(camera: xr.DataArray, path: str | os.PathLike, *, time=None, roi=None, pose: xr.Dataset | None = None,
           threshold: float = 0.9, burn_time: bool = False, crf: int = 18, progress: bool = True) -> Path:
    """Write a camera's frames (a time range, a region) to an H.264 mp4 and their times beside it.

    Parameters
    ----------
    camera : xarray.DataArray
        From :func:`ibl_xvideo.open_camera` (uncropped when ``pose`` is given).
    path : PathLike
        The ``.mp4`` to write; ``<stem>.times.npy`` gets each frame's session time.
    time : slice, optional
        Session times to keep, e.g. ``slice(100, 104)``.
    roi : str or (slice, slice), optional
        Region kept, ``'y0:y1,x0:x1'`` or a pair of slices.
    pose : xarray.Dataset, optional
        From :func:`ibl_xvideo.pose.load_pose`: its points with a likelihood of at least
        ``threshold`` are burned in.
    burn_time : bool
        Write the session time and frame number in the top left corner.
    crf : int
        x264 quality (18: visually lossless; IBL records at 29).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> cam.video.to_mp4('stim.mp4', time=slice(100, 103), burn_time=True, pose=cam.video.pose())  # doctest: +SKIP
    """
    import av

    camera = as_frames(camera, "to_mp4")
    if camera.dtype != np.uint8:
        raise InvalidOptionError(f"to_mp4 encodes 8-bit grey frames, and this array is {camera.dtype}: bring its "
                                 "values to 0-255 and .astype('uint8') first (e.g. cam.clip(0, 255).astype('uint8')).")
    if pose is not None:
        check_uncropped(camera, "give the uncropped camera and roi= instead")
    clip = camera.sel(time=time) if time is not None else camera
    ys, xs = parse_roi(roi)
    y0, _, _ = ys.indices(camera.sizes["y"])
    x0, _, _ = xs.indices(camera.sizes["x"])
    clip = clip.isel(y=ys, x=xs)
    n, h, w = clip.shape
    if n == 0 or h < 2 or w < 2:
        raise InvalidOptionError(f"The clip is empty ({n} frames of {h}x{w}): check time= and roi=.")
    path = Path(path)
    fps = Fraction(float(camera.attrs.get("fps") or 30)).limit_denominator(1001)
    colour = burn_time or pose is not None
    times = path.with_suffix(".times.npy")
    with written(path, times) as (tmp, tmp_times):  # the clip and its times appear together, whole
        try:
            _encode(tmp, clip, fps, colour, pose, threshold, burn_time, (y0, x0), crf, progress, camera.name, path)
        except av.FFmpegError as exc:
            if isinstance(exc, OSError):  # the file system's word: written() makes it an OutputWriteError
                raise
            raise XVideoError(f"Cannot encode the clip {path}: {exc}") from exc
        np.save(tmp_times, np.asarray(clip.time.values, dtype=np.float64))
    return path


def _encode(tmp, clip, fps, colour: bool, pose, threshold: float, burn_time: bool, origin, crf: int,
            progress: bool, name: str, path: Path) -> None:
    """Encode ``clip``'s frames (a second at a time) to H.264 in ``tmp``."""
    import av
    from tqdm.auto import tqdm

    n, h, w = clip.shape
    with av.open(str(tmp), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = w - w % 2, h - h % 2  # yuv420p: even sizes
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(int(crf))}
        with tqdm(total=n, desc=f"{name} -> {path.name}", unit="frame", disable=not progress) as bar:
            step = max(1, int(round(float(fps))))  # a second of frames per read
            for a in range(0, n, step):
                part = clip.isel(time=slice(a, a + step))
                for k, frame in enumerate(np.asarray(part.values)):
                    picture = frame[:stream.height, :stream.width]
                    if colour:
                        picture = _annotate(picture, part.isel(time=k), pose, threshold, burn_time, origin)
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture),
                                                    format="rgb24" if colour else "gray")
                    for packet in stream.encode(vf):
                        out.mux(packet)
                bar.update(part.sizes["time"])
            for packet in stream.encode():
                out.mux(packet)


def _annotate(frame: np.ndarray, at: xr.DataArray, pose, threshold: float, burn_time: bool, origin) -> np.ndarray:
    """An RGB copy of ``frame`` with the session time and the sure pose points drawn on it."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame).convert("RGB")
    draw = ImageDraw.Draw(image)
    if burn_time:
        text = f"t = {float(at.time):.3f} s  frame {int(at.frame)}"
        draw.rectangle((0, 0, 8 + 6 * len(text), 14), fill=(0, 0, 0))
        draw.text((3, 2), text, fill=(255, 255, 255))
    if pose is not None:
        rows = np.flatnonzero(np.asarray(pose.frame.values) == int(at.frame))  # matched by frame, not by time
        if rows.size:
            row = pose.isel(time=int(rows[0]))
            r = max(2, frame.shape[1] // 160)
            for k, (xy, like) in enumerate(zip(row.position.values, row.likelihood.values)):
                if like >= threshold and np.isfinite(xy).all():
                    x, y = xy[0] - origin[1], xy[1] - origin[0]
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=COLOURS[k % len(COLOURS)])
    return np.asarray(image)
