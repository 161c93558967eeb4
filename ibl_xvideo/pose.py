"""Pose estimates (IBL's DLC outputs) aligned to a camera's frames, and frames drawn with them.

IBL stores DLC's output per camera as ``alf/_ibl_<label>Camera.dlc.pqt``: one row per
frame, columns ``<point>_x``, ``<point>_y`` and ``<point>_likelihood``.
:func:`load_pose` reads it (through ONE, from a session folder or a file) as an
``xarray.Dataset`` on the camera's clock; :func:`plot_frame` and :func:`montage` draw
frames with the points DLC is sure of (likelihood at least 0.9 by default, as
brainbox's DLC helpers).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .camera import check_uncropped
from .errors import InvalidOptionError, TimestampsMismatchError, VideoNotFoundError, XVideoError
from .figures import pyplot
from .sources import assert_valid_label, is_eid, session_path_of

__all__ = ["load_pose", "plot_frame", "montage", "LIKELIHOOD_THRESHOLD"]

#: Points below this likelihood are hidden (brainbox's DLC helpers use 0.9).
LIKELIHOOD_THRESHOLD = 0.9


def _table(source, label, one):
    """The DLC table (a pandas DataFrame) and the session folder it belongs to (or None)."""
    import pandas as pd

    if isinstance(source, (str, os.PathLike)) and str(source).endswith(".pqt"):
        path = Path(source)
        session = path.parent.parent if path.parent.name == "alf" else None
    else:
        if label is None:
            raise InvalidOptionError("Give the camera label (left, right, body) of the pose to load.")
        session = session_path_of(one, source) if is_eid(source) and one is not None else Path(source)
        if is_eid(source) and one is not None:
            from one.alf.exceptions import ALFError

            try:  # through ONE, as any dataset (it knows its collection and revision)
                return one.load_dataset(str(source), f"_ibl_{label}Camera.dlc.pqt"), session
            except ALFError as exc:  # ONE's own errors: say what is missing, typed
                raise VideoNotFoundError(f"Session {source} has no DLC output of its {label} camera "
                                         f"(_ibl_{label}Camera.dlc.pqt): {exc}") from exc
        path = session / "alf" / f"_ibl_{label}Camera.dlc.pqt"
    if not path.exists():
        raise VideoNotFoundError(f"No DLC output at {path}: run DLC on the {label} camera, or download "
                                 f"_ibl_{label}Camera.dlc.pqt with ONE.")
    return pd.read_parquet(path), session


def load_pose(source, label: str | None = None, *, one=None, camera: xr.DataArray | None = None) -> xr.Dataset:
    """A camera's pose estimates on the camera's clock.

    Parameters
    ----------
    source : str, uuid.UUID, PathLike or xarray.DataArray
        An eid (with ``one``), a session folder, a ``.dlc.pqt`` file, or a camera from
        :func:`ibl_xvideo.open_camera` (its session and label).
    label : str, optional
        The camera (needed but for a camera or a file).
    one : one.api.One, optional
        For an eid.
    camera : xarray.DataArray, optional
        The camera whose ``time`` and ``frame`` the rows are aligned to (default: the
        session's camera times, else the row number).

    Returns
    -------
    xarray.Dataset
        ``position`` ``(time, keypoints, space)`` in pixels of the camera's frames and
        ``likelihood`` ``(time, keypoints)``, with coords ``time`` (s), ``frame``,
        ``keypoints`` (DLC's point names) and ``space`` (``x``, ``y``).

    Raises
    ------
    VideoNotFoundError
        When there is no DLC output for this camera.
    TimestampsMismatchError
        When the table does not have one row per frame of ``camera``.

    Examples
    --------
    >>> pose = load_pose(eid, 'left', one=one)  # doctest: +SKIP
    >>> nose = pose.position.sel(keypoints='nose_tip').where(pose.likelihood.sel(keypoints='nose_tip') > 0.9)
    """
    if isinstance(source, xr.DataArray):
        camera = source if camera is None else camera
        label = label or source.attrs.get("label")
        source = source.attrs.get("session_path") or ""
        if not source:
            raise XVideoError("This camera has no session folder: give the .dlc.pqt file instead.")
    if label is not None:
        label = assert_valid_label(label)
    table, session = _table(source, label, one)
    points = [c[:-2] for c in table.columns if c.endswith("_x") and f"{c[:-2]}_y" in table.columns]
    if not points:
        raise XVideoError(f"The DLC table of the {label} camera has no <point>_x / <point>_y columns.")
    n = len(table)
    xy = np.stack([np.stack([table[f"{p}_x"].to_numpy(float), table[f"{p}_y"].to_numpy(float)], axis=-1)
                   for p in points], axis=1)
    like = np.stack([table[f"{p}_likelihood"].to_numpy(float) if f"{p}_likelihood" in table.columns
                     else np.ones(n) for p in points], axis=1)
    if camera is not None:
        frames = np.asarray(camera.frame.values)
        if frames.size and frames.max() >= n:
            raise TimestampsMismatchError(f"The DLC table of the {label} camera has {n} rows but the camera has "
                                          f"frame {int(frames.max())}: it is not this video's pose.")
        times, xy, like = camera.time.values, xy[frames], like[frames]
    else:
        frames = np.arange(n)
        alf = session / "alf" / f"_ibl_{label}Camera.times.npy" if session is not None else None
        times = np.load(alf) if alf is not None and alf.exists() else frames.astype(np.float64)
        if times.size != n:
            raise TimestampsMismatchError(f"The DLC table of the {label} camera has {n} rows and its times "
                                          f"{times.size}: pass camera= to align them.")
    return xr.Dataset(
        {"position": (("time", "keypoints", "space"), xy, {"units": "pixels"}),
         "likelihood": (("time", "keypoints"), like)},
        coords={"time": ("time", np.asarray(times, dtype=np.float64), {"units": "s"}), "frame": ("time", frames),
                "keypoints": points, "space": ["x", "y"]},
        attrs={"label": label or "", "source": "DLC"},
    )


def _draw(ax, frame: xr.DataArray, pose: xr.Dataset | None, threshold: float) -> int:
    """Draw one frame (and the sure points of its pose) on ``ax``; return how many points were drawn."""
    ax.imshow(np.asarray(frame.values), cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"frame {int(frame.frame)}, t = {float(frame.time):.3f} s", fontsize=8)
    ax.set_axis_off()
    if pose is None:
        return 0
    at = pose.sel(time=float(frame.time), method="nearest")
    if int(at.frame) != int(frame.frame):
        return 0
    sure = at.likelihood.values >= threshold
    xy = at.position.values[sure]
    ax.scatter(xy[:, 0], xy[:, 1], s=14, c=np.arange(sure.sum()), cmap="tab10", edgecolors="white",
               linewidths=0.5)
    return int(sure.sum())


def _whole(camera: xr.DataArray, pose) -> None:
    """Refuse to draw a pose on a crop."""
    if pose is not None:
        check_uncropped(camera, "draw them on the uncropped camera")


def plot_frame(camera: xr.DataArray, time: float, *, pose: xr.Dataset | None = None,
               threshold: float = LIKELIHOOD_THRESHOLD, out: str | os.PathLike | None = None):
    """The frame at a session time, titled with its frame number and time, with its pose points.

    Points whose likelihood is below ``threshold`` are hidden. Raises
    :class:`~ibl_xvideo.errors.TimeOutOfRangeError` for a time outside the camera's.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _whole(camera, pose)
    plt = pyplot(out)
    frame = camera.video.frame_at(time)
    fig, ax = plt.subplots(figsize=(6, 6 * frame.shape[0] / frame.shape[1]), layout="constrained")
    _draw(ax, frame, pose, threshold)
    ax.set_title(f"{camera.name}: " + ax.get_title(), fontsize=9)
    if out is not None:
        fig.savefig(out, dpi=100)
    return fig


def montage(camera: xr.DataArray, times, *, pose: xr.Dataset | None = None, ncols: int = 4,
            threshold: float = LIKELIHOOD_THRESHOLD, out: str | os.PathLike | None = None):
    """The frames at session times on a grid, each titled with its frame and time, with pose points.

    The frames are read with one visit per keyframe group (a planned selection).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _whole(camera, pose)
    plt = pyplot(out)
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if not times.size:
        raise InvalidOptionError("montage needs at least one time.")
    for t in times:  # refuse times outside the camera's before reading anything
        camera.video.frame_at(float(t))
    frames = camera.sel(time=times, method="nearest").compute()
    ncols = min(ncols, times.size)
    nrows = -(-times.size // ncols)
    h, w = frames.shape[1:]
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3 * nrows * h / w + 0.3), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel()[times.size:]:
        ax.set_axis_off()
    for k, ax in enumerate(axes.ravel()[:times.size]):
        _draw(ax, frames.isel(time=k), pose, threshold)
    fig.suptitle(f"{camera.name}", fontsize=10)
    if out is not None:
        fig.savefig(out, dpi=100)
    return fig
