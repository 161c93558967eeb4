"""Behaviour around events: peri-event frame stacks of a camera, and their montage.

``peri_event(cam, trials['stimOn_times'], window=(-1, 2))`` gives a lazy
``(event, lag, y, x)`` DataArray of the frames around each event. Each block of events
reads its frames with one visit per keyframe group, however many of its events share it
(see :func:`ibl_xvideo.engine.planning.planned_take`).
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import xarray as xr

from .camera import as_frames, check_uncropped
from .engine.planning import frames_source, nearest, planned_take
from .errors import InvalidOptionError, XVideoError
from .figures import pyplot, save_figure

__all__ = ["peri_event", "peri_event_mean", "peri_event_pose", "plot_peri_event"]

#: Target bytes of one Dask chunk of a peri-event stack (whole events per chunk).
CHUNK_BYTES = 64 * 2**20


def _concatenate(pieces, axis: int):
    import dask.array as dsa

    return dsa.concatenate(pieces, axis=axis)


def peri_event(camera: xr.DataArray, times, window=(-1.0, 2.0), *, events_per_chunk: int | None = None
               ) -> xr.DataArray:
    """The frames around each event: a lazy ``(event, lag, y, x)`` stack.

    Parameters
    ----------
    camera : xarray.DataArray
        A camera from :func:`ibl_xvideo.open_camera` (``(time, y, x)``, cropped or
        not, with or without Dask).
    times : array of float
        Event times on the session clock (the camera's ``time``), e.g.
        ``one.load_object(eid, 'trials')['stimOn_times']``. NaN times are skipped
        with a warning.
    window : (float, float)
        Seconds before (negative) and after each event.
    events_per_chunk : int, optional
        Events per Dask chunk (default: about 64 MiB a chunk).

    Returns
    -------
    xarray.DataArray
        Dims ``(event, lag, y, x)``, uint8, backed by Dask. Coordinates: ``lag`` (s,
        multiples of the camera's frame period), ``event_time`` (per event),
        ``time`` and ``frame`` (per event and lag: the frame shown, its session time;
        NaN and -1 where there is none) and ``valid`` (a frame within one frame period
        of the time asked for). Invalid entries (before the first frame, after the
        last, across dropped frames) hold zeros: mask them with
        ``stack.where(stack.valid)``.

    Raises
    ------
    InvalidOptionError
        For a window whose start is not before its end.
    XVideoError
        For an array that is not a camera's ``(time, y, x)`` frames.

    Examples
    --------
    >>> trials = one.load_object(eid, 'trials')  # doctest: +SKIP
    >>> stack = peri_event(cam, trials['stimOn_times'], window=(-0.5, 1.0))  # doctest: +SKIP
    >>> mean = peri_event_mean(stack).compute()  # the mean over valid events, in bounded memory  # doctest: +SKIP
    """
    camera = as_frames(camera, "peri_event")
    if "frame" not in camera.coords:
        raise XVideoError("peri_event needs a camera's frames with their 'frame' coordinate, as "
                          "ibl_xvideo.open_camera gives.")
    w0, w1 = _window(window)
    try:
        events = np.atleast_1d(np.asarray(times, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise InvalidOptionError(f"times must be event times in seconds (numbers); got {times!r:.80}.") from exc
    if events.ndim != 1:
        raise InvalidOptionError(f"times must be one event time per event (1-D); got shape {events.shape}.")
    missing = np.isnan(events)
    if missing.any():
        warnings.warn(f"{int(missing.sum())} of {events.size} event times are NaN: skipped.", stacklevel=2)
        events = events[~missing]
    fps = float(camera.attrs.get("fps") or 0) or 1 / float(np.median(np.diff(camera.time.values)))
    period = 1 / fps
    lags = np.arange(int(np.ceil(w0 * fps - 1e-9)), int(np.floor(w1 * fps + 1e-9)) + 1)
    cam_times = np.asarray(camera.time.values, dtype=np.float64)
    n = cam_times.size
    # the frame nearest each event, then its neighbours at each lag
    pos = (nearest(cam_times, events) if n else np.zeros(events.size, int))[:, None] + lags[None, :]
    inside = (pos >= 0) & (pos < n)
    shown = np.where(inside, cam_times[np.clip(pos, 0, max(n - 1, 0))], np.nan)
    valid = inside & (np.abs(shown - (events[:, None] + lags[None, :] * period)) <= period)
    source = frames_source(camera.variable._data)
    h, w = camera.sizes["y"], camera.sizes["x"]
    block = events_per_chunk or max(1, CHUNK_BYTES // max(1, lags.size * h * w))
    if source is not None:
        backend, frames, crop = source
        wanted = np.where(valid, frames[np.clip(pos, 0, max(n - 1, 0))], -1)
        # a long window: its lags in pieces too, so that a chunk (and a selection of a few lags) stays small
        step = lags.size if events_per_chunk or block > 1 else max(1, CHUNK_BYTES // max(1, h * w))
        pieces = [planned_take(backend, wanted[:, a:a + step], crop, block) for a in range(0, lags.size, step)]
        data = pieces[0] if len(pieces) == 1 else _concatenate(pieces, axis=1)
    else:  # a transformed camera: xarray's own selection (no planning), invalid entries zeroed
        picked = camera.isel(time=xr.DataArray(np.clip(pos, 0, max(n - 1, 0)), dims=("event", "lag")))
        data = picked.where(xr.DataArray(valid, dims=("event", "lag")), 0).astype(camera.dtype).data
    frame_coord = np.asarray(camera.frame.values)
    coords = {
        "event": np.arange(events.size),
        "event_time": ("event", events),
        "lag": ("lag", lags * period, {"units": "s"}),
        "time": (("event", "lag"), np.where(valid, shown, np.nan), {"units": "s"}),
        "frame": (("event", "lag"), np.where(valid, frame_coord[np.clip(pos, 0, max(n - 1, 0))], -1)),
        "valid": (("event", "lag"), valid),
    }
    out = xr.DataArray(data, dims=("event", "lag", "y", "x"), coords=coords, name=camera.name,
                       attrs={**camera.attrs, "window": [w0, w1]})
    for dim in ("y", "x"):
        if dim in camera.coords:
            out = out.assign_coords({dim: camera[dim].values})
    return out


def peri_event_mean(stack: xr.DataArray, *, valid_only: bool = True, chains: int | None = None) -> xr.DataArray:
    """The mean frame over events at each lag of a peri-event stack, in memory that does not grow with the events.

    Equal (to float precision) to ``stack.where(stack.valid).mean('event')`` (or, with
    ``valid_only=False``, ``stack.mean('event')``), but computed as a few running sums:
    each of ``chains`` chains of tasks adds its blocks of events, one after the other, into
    one frame of sums per lag (32-bit integers for 8-bit frames: exact). Peak memory is
    about ``chains`` x (a block of events + the sums), whatever the number of events;
    Dask's own mean keeps up to 16 partial sums a level of its tree, each a float frame
    per lag (gigabytes for a long stack, and a ``where`` first makes every block 4 times
    larger: float32).

    Parameters
    ----------
    stack : xarray.DataArray
        From :func:`peri_event` (dims ``event``, ``lag``, ``y``, ``x`` by name; any order).
    valid_only : bool
        Average only the valid entries (the ``valid`` coordinate: a frame within one
        frame period of the time asked for); lags without any are NaN.
    chains : int, optional
        Running sums computed side by side (default: 2, or the cluster's worker
        threads when one is used, at most the number of blocks).

    Returns
    -------
    xarray.DataArray
        ``(lag, y, x)`` float64, lazy (Dask), with the stack's lag, y and x coordinates
        and ``n_events`` (per lag: the events averaged).

    Examples
    --------
    >>> stack = cam.video.peri_event(trials['stimOn_times'], (-0.5, 0.5))  # doctest: +SKIP
    >>> mean = peri_event_mean(stack).compute()  # doctest: +SKIP
    """
    import dask
    import dask.array as dsa

    if not {"event", "lag", "y", "x"} <= set(stack.dims) or stack.ndim != 4:
        raise XVideoError(f"peri_event_mean needs a peri-event stack (dims event, lag, y, x); got dims {stack.dims}.")
    if valid_only and "valid" not in stack.coords:
        raise XVideoError("peri_event_mean(valid_only=True) needs the stack's 'valid' coordinate, as peri_event "
                          "gives; pass valid_only=False to average every entry.")
    stack = stack.transpose("event", "lag", "y", "x")
    valid = (stack.valid.transpose("event", "lag").values if valid_only
             else np.ones((stack.sizes["event"], stack.sizes["lag"]), bool))
    data = stack.data if isinstance(stack.data, dsa.Array) else dsa.from_array(np.asarray(stack.data))
    starts = np.r_[0, np.cumsum(data.chunks[0])]
    lag_starts = np.r_[0, np.cumsum(data.chunks[1])]
    blocks = data.to_delayed()  # (event blocks, lag blocks, y blocks, x blocks)
    n = blocks.shape[0]
    chains = max(1, min(n, chains or _threads()))
    bounds = np.linspace(0, n, chains + 1).round().astype(int)
    parts = np.empty(blocks.shape[1:], object)  # the mean of each (lag, y, x) block
    for j, iy, ix in np.ndindex(parts.shape):
        l0, l1 = lag_starts[j], lag_starts[j + 1]
        partial = []
        for c in range(chains):  # each chain adds its contiguous blocks of events in turn
            acc = None
            for i in range(bounds[c], bounds[c + 1]):
                block_valid = valid[starts[i]:starts[i + 1], l0:l1]
                acc = dask.delayed(_add_events, pure=True)(acc, blocks[i, j, iy, ix], block_valid)
            partial.append(acc)
        mean = dask.delayed(_mean_of, pure=True)(partial, valid[:, l0:l1].sum(axis=0))
        parts[j, iy, ix] = dsa.from_delayed(mean, (l1 - l0, data.chunks[2][iy], data.chunks[3][ix]), dtype=np.float64)
    out = dsa.block(parts.tolist()) if parts.size else dsa.zeros((0,) + tuple(stack.shape[2:]), np.float64)
    coords = {k: v for k, v in stack.coords.items() if set(v.dims) <= {"lag", "y", "x"}}
    return xr.DataArray(out, dims=("lag", "y", "x"), coords=coords, name=stack.name,
                        attrs=dict(stack.attrs)).assign_coords(n_events=("lag", valid.sum(axis=0)))


def _threads() -> int:
    """Worker threads of the distributed cluster in use, else 2."""
    if "distributed" in sys.modules:  # not imported: no cluster in use
        from distributed import get_client

        try:
            return max(1, sum(get_client().nthreads().values()))
        except ValueError:
            pass
    return 2


def _add_events(acc, block: np.ndarray, valid: np.ndarray):
    """``acc`` (a running sum per lag, or None) plus the sum of ``block``'s valid events.

    Frames of 8-bit values add up exactly in 32-bit integers (up to 16 million events), in half
    the memory of float64 sums; anything else adds up in float64.
    """
    dtype = np.uint32 if block.dtype in (np.uint8, np.bool_) else np.float64
    total = np.sum(block, axis=0, dtype=dtype, where=valid[:, :, None, None])
    if acc is None:
        return total
    if acc.dtype != total.dtype:  # (a stack whose blocks differ in dtype)
        acc = acc.astype(np.float64)
    return np.add(acc, total, out=acc)


def _mean_of(partial: list, counts: np.ndarray) -> np.ndarray:
    """The running sums of the chains added, divided by the events of each lag (NaN where none)."""
    total = partial[0].astype(np.float64)
    for p in partial[1:]:
        total += p
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / counts[:, None, None]


#: The longest peri-event window (seconds): a stack holds every frame of it for each event.
MAX_WINDOW = 120.0


def _window(window) -> tuple[float, float]:
    """``window`` as (start, end) seconds, checked: two finite numbers, start < end, at most MAX_WINDOW apart."""
    try:
        w0, w1 = (float(w) for w in window)
    except (TypeError, ValueError) as exc:
        raise InvalidOptionError(f"window must be two numbers (start, end) in seconds, e.g. (-1, 2); got "
                                 f"{window!r:.80}.") from exc
    if not (np.isfinite(w0) and np.isfinite(w1)) or not w0 < w1:
        raise InvalidOptionError(f"window must be (start, end) in finite seconds with start < end; got {window!r}.")
    if w1 - w0 > MAX_WINDOW:
        raise InvalidOptionError(f"window {window!r} spans {w1 - w0:g} s: a peri-event stack holds every frame of "
                                 f"its window for each event, at most {MAX_WINDOW:g} s; for a longer stretch "
                                 "select it with cam.sel(time=slice(start, end)).")
    return w0, w1


def peri_event_pose(pose: xr.Dataset, stack: xr.DataArray) -> xr.Dataset:
    """The pose of each frame of a peri-event stack: ``position (event, lag, keypoints, space)``, ``likelihood``.

    ``pose`` is a camera's pose (:func:`ibl_xvideo.pose.load_pose`: dims ``time``,
    ``keypoints``, ``space``, with a ``frame`` coordinate); rows are matched to the
    stack's frames by frame number. Entries without a frame (events near the edges) or
    without a pose row are NaN, with likelihood 0.

    Examples
    --------
    >>> stack = cam.video.peri_event(trials['stimOn_times'], (-0.5, 1.0))  # doctest: +SKIP
    >>> at = peri_event_pose(cam.video.pose(), stack)  # doctest: +SKIP
    >>> paw = at.position.sel(keypoints='paw_r').where(at.likelihood.sel(keypoints='paw_r') > 0.9)  # doctest: +SKIP
    """
    if "frame" not in pose.coords or not {"position", "likelihood"} <= set(pose.data_vars):
        raise XVideoError("peri_event_pose needs a pose Dataset (position, likelihood, a frame coordinate), "
                          "as ibl_xvideo.pose.load_pose gives.")
    rows = np.asarray(pose.frame.values)
    frames = np.asarray(stack.frame.values)
    xy = np.full(frames.shape + pose.position.shape[1:], np.nan)
    like = np.zeros(frames.shape + pose.likelihood.shape[1:])
    if rows.size:
        order = np.argsort(rows, kind="stable")
        at = order[np.clip(np.searchsorted(rows[order], frames), 0, rows.size - 1)]
        found = (frames >= 0) & (rows[at] == frames)
        xy[found], like[found] = pose.position.values[at[found]], pose.likelihood.values[at[found]]
    coords = {k: v for k, v in stack.coords.items() if set(v.dims) <= {"event", "lag"}}
    return xr.Dataset(
        {"position": (("event", "lag", "keypoints", "space"), xy, {"units": "pixels"}),
         "likelihood": (("event", "lag", "keypoints"), like)},
        coords={**coords, "keypoints": pose.keypoints.values, "space": pose.space.values},
        attrs=dict(pose.attrs))


def plot_peri_event(stack: xr.DataArray, out: str | os.PathLike | None = None, n_lags: int = 8,
                    pose: xr.Dataset | None = None, threshold: float = 0.9):
    """The average frame over events at ``n_lags`` lags of a peri-event stack, and the motion around the event.

    Top: the mean frame over the valid events at evenly spaced lags (a montage), with,
    given the camera's ``pose``, each event's sure points (likelihood >= ``threshold``,
    brainbox's 0.9) as small dots and their median over events as a ringed marker;
    bottom: the mean absolute difference between consecutive frames (motion) against
    the lag, with the event at 0.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if pose is not None:
        check_uncropped(stack, "make the stack of the uncropped camera to draw them")
    plt = pyplot(out)

    at = None if pose is None else peri_event_pose(pose, stack)
    picks = np.unique(np.linspace(0, stack.sizes["lag"] - 1, n_lags).round().astype(int))
    mean = peri_event_mean(stack.isel(lag=picks)).compute()
    motion = abs(stack.astype("float32").where(stack.valid).diff("lag")).mean(("event", "y", "x")).compute()
    fig = plt.figure(figsize=(2.2 * len(picks), 5.2), layout="constrained")
    grid = fig.add_gridspec(2, len(picks), height_ratios=(1.2, 1))
    for k, i in enumerate(picks):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(mean.isel(lag=k).values, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{float(stack.lag[i]):+.2f} s", fontsize=9)
        ax.set_axis_off()
        if at is not None:
            _draw_points(ax, at.isel(lag=i), threshold)
    ax = fig.add_subplot(grid[1, :])
    ax.plot(motion.lag.values, motion.values, "o-", ms=3)
    ax.axvline(0, color="tab:red", lw=1, label="event")
    n = int(stack.valid.any("lag").sum())
    ax.set(xlabel="time from event (s)", ylabel="mean |frame difference|",
           title=f"{stack.name}: {n} events, mean over events")
    ax.legend(fontsize=8)
    if out is not None:
        save_figure(fig, out)
    return fig


def _draw_points(ax, at: xr.Dataset, threshold: float) -> None:
    """Each event's sure pose points at one lag (dots) and their median over events (ringed), a colour a point."""
    import matplotlib as mpl

    sure = at.likelihood.values >= threshold  # (event, keypoints)
    xy = at.position.values  # (event, keypoints, space)
    colours = mpl.colormaps["tab10"](np.arange(xy.shape[1]) % 10)
    for k in range(xy.shape[1]):
        pts = xy[sure[:, k], k]
        if not len(pts):
            continue
        ax.scatter(pts[:, 0], pts[:, 1], s=3, color=colours[k], alpha=0.5, linewidths=0)
        mid = np.median(pts, axis=0)
        ax.scatter([mid[0]], [mid[1]], s=22, color=colours[k], edgecolors="white", linewidths=0.7)
