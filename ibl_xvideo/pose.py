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

from .camera import as_frames, check_uncropped
from .engine.planning import nearest
from .errors import InvalidOptionError, PoseTableError, TimestampsMismatchError, VideoNotFoundError, XVideoError
from .figures import pyplot, save_figure
from .io.sources import assert_valid_label, is_eid, session_path_of

__all__ = ["load_pose", "to_movement", "plot_frame", "montage", "LIKELIHOOD_THRESHOLD"]

#: Points below this likelihood are hidden (brainbox's DLC helpers use 0.9).
LIKELIHOOD_THRESHOLD = 0.9


def _table(source, label, one):
    """The DLC table (a pandas DataFrame), the session folder it belongs to (or None), and what it is (for messages)."""
    if isinstance(source, (str, os.PathLike)) and str(source).endswith(".pqt"):
        path = Path(source)
        session = path.parent.parent if path.parent.name == "alf" else None
    else:
        if label is None:
            raise InvalidOptionError("Give the camera label (left, right, body) of the pose to load.")
        session = session_path_of(one, source) if is_eid(source) and one is not None else Path(source)
        if is_eid(source) and one is not None:
            from one.alf.exceptions import ALFError

            name = f"_ibl_{label}Camera.dlc.pqt"
            try:  # through ONE, as any dataset (it knows its collection and revision)
                return one.load_dataset(str(source), name), session, f"{name} of session {source}"
            except ALFError as exc:  # ONE's own errors: say what is missing, typed
                raise VideoNotFoundError(f"Session {source} has no DLC output of its {label} camera "
                                         f"({name}): {exc}") from exc
            except Exception as exc:  # pyarrow's, for a damaged file
                raise PoseTableError(f"{name} of session {source} cannot be read as a Parquet table ({exc}): "
                                     "download it again.") from exc
        path = session / "alf" / f"_ibl_{label}Camera.dlc.pqt"
    if not path.is_file():
        raise VideoNotFoundError(f"No DLC output at {path}: run DLC on the {label} camera, or download "
                                 f"_ibl_{label}Camera.dlc.pqt with ONE.")
    return _read_parquet(path), session, str(path)


def _read_parquet(path: Path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow's ArrowInvalid, OSError...: not a (whole) Parquet file
        raise PoseTableError(f"{path} cannot be read as a Parquet table ({type(exc).__name__}: {exc}): it is "
                             "empty, truncated or not a DLC table; download it again.") from exc


def _columns(table, where: str) -> dict:
    """``{point: (x, y, likelihood) column names}`` of a DLC table, in its order, checked.

    IBL's tables name columns ``<point>_x``, ``<point>_y``, ``<point>_likelihood``; DLC's own
    have a header of (scorer,) bodyparts and coords levels, read here as the same names.
    """
    import pandas as pd

    if isinstance(table.columns, pd.MultiIndex):  # DLC's (scorer, bodyparts, coords) header
        if table.columns.nlevels > 3 or "individuals" in (table.columns.names or []):
            raise PoseTableError(f"{where}: a multi-animal DLC table (an 'individuals' level) is not read here: "
                                 "select one individual's columns first.")
        table.columns = [f"{c[-2]}_{c[-1]}" for c in table.columns]
    cols = [str(c) for c in table.columns]
    points = []
    for c in cols:
        for suffix in ("_x", "_y", "_likelihood"):
            if c.endswith(suffix) and c[:-len(suffix)] not in points:
                points.append(c[:-len(suffix)])
    if not points:
        raise PoseTableError(f"{where} has no <point>_x, <point>_y, <point>_likelihood columns: it is not a DLC "
                             "table.")
    out = {}
    for p in points:
        need = [f"{p}_x", f"{p}_y", f"{p}_likelihood"]
        missing = [c for c in need if c not in cols]
        if missing:
            raise PoseTableError(f"{where}: point {p!r} lacks {', '.join(missing)}: every point needs its x, y and "
                                 "likelihood columns (none is guessed).")
        out[p] = tuple(need)
    return out


def _numbers(table, column: str, where: str) -> np.ndarray:
    try:
        return table[column].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise PoseTableError(f"{where}: column {column!r} holds values that are not numbers ({exc}).") from exc


def load_pose(source, label: str | None = None, *, one=None, camera: xr.DataArray | None = None,
              movement: bool = False) -> xr.Dataset:
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
    movement : bool
        Return the pose as a ``movement`` poses dataset (:func:`to_movement`), ready for
        its filtering and kinematics.

    Returns
    -------
    xarray.Dataset
        ``position`` ``(time, keypoints, space)`` in the video's pixels (the values of a
        camera's ``x`` and ``y`` coordinates, so a crop of the camera, whose coordinates keep
        their place in the frame, finds a point with ``crop.sel(x=..., y=..., method='nearest')``) and
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
    table, session, where = _table(source, label, one)
    columns = _columns(table, where)
    points = list(columns)
    n = len(table)
    if not n:
        raise PoseTableError(f"{where} has no rows.")
    xy = np.stack([np.stack([_numbers(table, cx, where), _numbers(table, cy, where)], axis=-1)
                   for cx, cy, _ in columns.values()], axis=1)
    like = np.stack([_numbers(table, cl, where) for _, _, cl in columns.values()], axis=1)
    if camera is not None:
        frames = np.asarray(camera.frame.values)
        length = int(camera.attrs.get("length") or 0)
        if (length and n != length) or (frames.size and frames.max() >= n):
            raise TimestampsMismatchError(
                f"{where} has {n} rows but the {label} camera's video has {length or int(frames.max()) + 1} frames: "
                "DLC gives one row per frame, so it is not this video's pose.")
        times, xy, like = camera.time.values, xy[frames], like[frames]
    else:
        frames = np.arange(n)
        alf = session / "alf" / f"_ibl_{label}Camera.times.npy" if session is not None else None
        times = np.load(alf) if alf is not None and alf.exists() else frames.astype(np.float64)
        if times.size != n:
            raise TimestampsMismatchError(f"{where} has {n} rows and the {label} camera's times "
                                          f"{times.size}: pass camera= to align them.")
    pose = xr.Dataset(
        {"position": (("time", "keypoints", "space"), xy,
                      {"units": "pixels", "space": "the video's pixels: a camera's x and y coordinates"}),
         "likelihood": (("time", "keypoints"), like)},
        coords={"time": ("time", np.asarray(times, dtype=np.float64), {"units": "s"}), "frame": ("time", frames),
                "keypoints": points, "space": ["x", "y"]},
        attrs={"label": label or "", "source": "DLC", "source_file": where,
               "fps": float(camera.attrs["fps"]) if camera is not None and camera.attrs.get("fps") else None},
    )
    return to_movement(pose) if movement else pose


def _movement_dims() -> tuple[str, ...]:
    """The dims of a movement poses dataset: the installed movement's (0.17 names them in the singular)."""
    try:
        from movement.validators.datasets import ValidPosesInputs

        return tuple(ValidPosesInputs.DIM_NAMES)
    except (ImportError, AttributeError):
        return ("time", "space", "keypoint", "individual")


def to_movement(pose: xr.Dataset, individual: str = "mouse") -> xr.Dataset:
    """A pose from :func:`load_pose` as a ``movement`` poses dataset, on the camera's session clock.

    ``movement`` (neuroinformatics-unit) holds ``position`` ``(time, space, keypoint,
    individual)`` and ``confidence`` ``(time, keypoint, individual)`` (the plural names of
    its releases before 0.17 when one of those is installed) with its own
    attributes (``ds_type``, ``source_software``, ``fps``, ``time_unit``); its filtering
    (e.g. ``movement.filtering.filter_by_confidence``) and kinematics
    (``movement.kinematics.compute_velocity``) apply to it as they are. ``time`` is in
    seconds on the session clock (dropped frames keep their gaps); ``frame`` rides along.

    Examples
    --------
    >>> from movement.kinematics import compute_speed  # doctest: +SKIP
    >>> ds = load_pose(eid, 'left', one=one, movement=True)  # doctest: +SKIP
    >>> speed = compute_speed(ds.position.sel(keypoints='nose_tip'))  # doctest: +SKIP
    """
    if not {"position", "likelihood"} <= set(pose.data_vars):
        raise XVideoError("to_movement takes a pose from ibl_xvideo.pose.load_pose (position, likelihood).")
    _, _, kp, ind = _movement_dims()
    position = (pose.position.transpose("time", "space", "keypoints").rename(keypoints=kp)
                .expand_dims({ind: [individual]}, axis=-1))
    confidence = pose.likelihood.transpose("time", "keypoints").rename(keypoints=kp).expand_dims(
        {ind: [individual]}, axis=-1)
    fps = pose.attrs.get("fps")
    if not fps and pose.sizes["time"] > 1:
        fps = float(1 / np.median(np.diff(pose.time.values)))
    attrs = {"ds_type": "poses", "source_software": "DeepLabCut", "time_unit": "seconds",
             "fps": float(fps) if fps else None, "source_file": pose.attrs.get("source_file"),
             "camera": pose.attrs.get("label", "")}
    return xr.Dataset({"position": position, "confidence": confidence}, attrs=attrs)


def _draw(ax, frame: xr.DataArray, pose: xr.Dataset | None, threshold: float) -> int:
    """Draw one frame (and the sure points of its pose) on ``ax``; return how many points were drawn."""
    ax.imshow(np.asarray(frame.values), cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"frame {int(frame.frame)}, t = {float(frame.time):.3f} s", fontsize=8)
    ax.set_axis_off()
    if pose is None:
        return 0
    rows = np.flatnonzero(np.asarray(pose.frame.values) == int(frame.frame))  # matched by frame, not by time
    if not rows.size:
        return 0
    at = pose.isel(time=int(rows[0]))
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
    camera = as_frames(camera, "plot")
    _whole(camera, pose)
    plt = pyplot(out)
    frame = camera.video.frame_at(time)
    fig, ax = plt.subplots(figsize=(6, 6 * frame.shape[0] / frame.shape[1]), layout="constrained")
    _draw(ax, frame, pose, threshold)
    ax.set_title(f"{camera.name}: " + ax.get_title(), fontsize=9)
    if out is not None:
        save_figure(fig, out)
    return fig


def montage(camera: xr.DataArray, times, *, pose: xr.Dataset | None = None, ncols: int = 4,
            threshold: float = LIKELIHOOD_THRESHOLD, out: str | os.PathLike | None = None):
    """The frames at session times on a grid, each titled with its frame and time, with pose points.

    The frames are read with one visit per keyframe group (a planned selection).

    Returns
    -------
    matplotlib.figure.Figure
    """
    camera = as_frames(camera, "montage")
    _whole(camera, pose)
    plt = pyplot(out)
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if not times.size:
        raise InvalidOptionError("montage needs at least one time.")
    for t in times:  # refuse times outside the camera's before reading anything
        camera.video.frame_at(float(t))
    cam_times = np.asarray(camera.time.values)
    order = np.argsort(cam_times, kind="stable")  # the array's times may be a list in any order
    frames = camera.isel(time=order[nearest(cam_times[order], times)]).compute()
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
        save_figure(fig, out)
    return fig
