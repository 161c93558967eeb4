"""Behaviour around events: peri-event frame stacks of a camera, and their montage.

``peri_event(cam, trials['stimOn_times'], window=(-1, 2))`` gives a lazy
``(event, lag, y, x)`` DataArray of the frames around each event. Each block of events
reads its frames with one visit per keyframe group, however many of its events share it
(see :func:`ibl_xvideo.planning.planned_take`).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr

from .errors import InvalidOptionError, XVideoError
from .figures import pyplot
from .planning import frames_source, nearest, planned_take

__all__ = ["peri_event", "plot_peri_event"]

#: Target bytes of one Dask chunk of a peri-event stack (whole events per chunk).
CHUNK_BYTES = 64 * 2**20


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
    >>> mean = stack.where(stack.valid).mean('event').compute()  # doctest: +SKIP
    """
    if camera.dims != ("time", "y", "x") or "frame" not in camera.coords:
        raise XVideoError("peri_event needs a camera's (time, y, x) frames, as ibl_xvideo.open_camera gives; "
                          f"got dims {camera.dims}.")
    w0, w1 = (float(w) for w in window)
    if not w0 < w1:
        raise InvalidOptionError(f"window must be (start, end) in seconds with start < end; got {tuple(window)}.")
    events = np.atleast_1d(np.asarray(times, dtype=np.float64))
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
        data = planned_take(backend, wanted, crop, block)
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


def plot_peri_event(stack: xr.DataArray, out: str | os.PathLike | None = None, n_lags: int = 8):
    """The average frame over events at ``n_lags`` lags of a peri-event stack, and the motion around the event.

    Top: the mean frame over the valid events at evenly spaced lags (a montage);
    bottom: the mean absolute difference between consecutive frames (motion) against
    the lag, with the event at 0.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot(out)

    picks = np.unique(np.linspace(0, stack.sizes["lag"] - 1, n_lags).round().astype(int))
    masked = stack.astype("float32").where(stack.valid)
    mean = masked.isel(lag=picks).mean("event").compute()
    motion = abs(masked.diff("lag")).mean(("event", "y", "x")).compute()
    fig = plt.figure(figsize=(2.2 * len(picks), 5.2), layout="constrained")
    grid = fig.add_gridspec(2, len(picks), height_ratios=(1.2, 1))
    for k, i in enumerate(picks):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(mean.isel(lag=k).values, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{float(stack.lag[i]):+.2f} s", fontsize=9)
        ax.set_axis_off()
    ax = fig.add_subplot(grid[1, :])
    ax.plot(motion.lag.values, motion.values, "o-", ms=3)
    ax.axvline(0, color="tab:red", lw=1, label="event")
    n = int(stack.valid.any("lag").sum())
    ax.set(xlabel="time from event (s)", ylabel="mean |frame difference|",
           title=f"{stack.name}: {n} events, mean over events")
    ax.legend(fontsize=8)
    if out is not None:
        fig.savefig(out, dpi=100)
    return fig
