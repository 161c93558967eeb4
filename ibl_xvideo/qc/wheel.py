"""Wheel-to-video alignment: ibllib's wheel-alignment check on ibl-xvideo's engine.

The wheel's rotary encoder signal is resampled at 1 kHz, low-pass filtered
(Butterworth, order 8, 20 Hz, zero phase) and differentiated; a period of active
wheel movement is chosen as ibllib does; the motion energy of the camera's wheel
region over that period is cross-correlated with the wheel speed, and the lag of the
peak is the frame offset (``MotionAlignment.align_motion`` semantics).
"""

from __future__ import annotations

import logging

import numpy as np

from ..engine.planning import nearest
from .motion import motion_energy

__all__ = ["interpolate_position", "velocity_filtered", "movements", "active_wheel_period", "align_motion",
           "WHEEL_ROI"]

_log = logging.getLogger(__name__)

#: Camera regions showing the wheel, ((y0, y1), (x0, x1)) (ibllib's MotionAlignment.roi).
WHEEL_ROI = {"left": ((800, 1020), (233, 1096)), "right": ((426, 510), (104, 545)), "body": ((402, 481), (31, 103))}


def interpolate_position(timestamps, position, freq: float = 1000):
    """Wheel position linearly resampled at ``freq`` Hz from the first to the last timestamp.

    Returns
    -------
    (position, t)
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    t = np.arange(timestamps[0], timestamps[-1], 1 / freq)
    if t[-1] > timestamps[-1]:
        t = t[:-1]
    return np.interp(t, timestamps, np.asarray(position, dtype=np.float64)), t


def velocity_filtered(pos, fs: float, corner_frequency: float = 20, order: int = 8):
    """Velocity and acceleration of evenly sampled positions after a zero-phase low-pass filter.

    Returns
    -------
    (velocity, acceleration)
        Same length as ``pos``; the first sample of each is 0.
    """
    from scipy import signal

    sos = signal.butter(N=order, Wn=corner_frequency / fs * 2, btype="lowpass", output="sos")
    vel = np.r_[0, np.diff(signal.sosfiltfilt(sos, pos))] * fs
    acc = np.r_[0, np.diff(vel)] * fs
    return vel, acc


def _forward_range(x: np.ndarray, width: int, batch: int = 1 << 16) -> np.ndarray:
    """Max - min of ``x[i:i + width]`` (truncated at the end) for every i."""
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.r_[x, np.full(width - 1, np.nan)]
    windows = sliding_window_view(padded, width)
    out = np.empty(x.size)
    for a in range(0, x.size, batch):
        w = windows[a:a + batch]
        out[a:a + batch] = np.nanmax(w, axis=1) - np.nanmin(w, axis=1)
    return out


def movements(t, pos, freq: float = 1000, pos_thresh: float = 8, t_thresh: float = 0.2, min_gap: float = 0.1,
              pos_thresh_onset: float = 1.5, min_dur: float = 0.05):
    """Onset and offset times of wheel movements (brainbox's ``movements`` rules).

    A sample is moving when the position changes by more than ``pos_thresh`` within
    the next ``t_thresh`` s; gaps shorter than ``min_gap`` are bridged; each onset is
    refined to the last sample of its window still within ``pos_thresh_onset`` of the
    onset position; movements shorter than ``min_dur`` are dropped, and a movement
    starting less than ``min_gap`` after the previous one is merged into it.

    Returns
    -------
    (onsets, offsets)
        Times in s.
    """
    t = np.asarray(t, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.float64)
    width = int(np.round(t_thresh * freq))
    moving = np.r_[False, _forward_range(pos, width) > pos_thresh]
    moving[-1] = False
    on = np.flatnonzero(~moving[:-1] & moving[1:])
    off = np.flatnonzero(moving[:-1] & ~moving[1:])
    for p in np.flatnonzero((on[1:] - off[:-1]) / freq < min_gap):
        moving[off[p]:on[p + 1] + 1] = True
    on = np.flatnonzero(~moving[:-1] & moving[1:])
    if on.size:
        padded = np.r_[pos, np.full(width, np.nan)]
        disp = np.abs(padded[on[:, None] + np.arange(width)] - pos[on][:, None])
        has_onset = disp > pos_thresh_onset
        last_false = np.argmin(has_onset[:, ::-1], axis=1)
        on = on + (width - last_false) - 1
    off = np.flatnonzero(moving[:-1] & ~moving[1:])
    onsets, offsets = t[on], t[off]
    keep = (offsets - onsets) >= min_dur
    onsets, offsets = onsets[keep], offsets[keep]
    if onsets.size:
        ok = (onsets[1:] - offsets[:-1]) >= min_gap
        onsets = onsets[np.r_[True, ok]]
        offsets = offsets[np.r_[ok, True]]
    return onsets, offsets


def active_wheel_period(timestamps, position, duration_range=(3.0, 20.0)):
    """A period of wheel movement lasting 3-20 s, the middle one of those found (or None).

    As ibllib (``CameraQC.get_active_wheel_period``), movements are detected on the
    filtered *acceleration* with a threshold of 0.1 (kept as is).
    """
    pos, t = interpolate_position(timestamps, position)
    _, acc = velocity_filtered(pos, 1000)
    on, off = movements(t, acc, pos_thresh=0.1)
    edges = np.c_[on, off]
    dur = np.diff(edges).ravel()
    idx = np.flatnonzero((dur > duration_range[0]) & (dur < duration_range[1]))
    if idx.size == 0:
        _log.warning("No period of wheel movement found for motion alignment.")
        return None
    return edges[idx[int(idx.size / 2)]]


def align_motion(camera, wheel_timestamps, wheel_position, period, label: str = "left", camera_times=None):
    """Frame offset between the video's wheel motion and the rotary encoder.

    Parameters
    ----------
    camera : xarray.DataArray
        The camera (from :func:`ibl_xvideo.open_camera`); only the frames in the
        period are decoded, cropped to :data:`WHEEL_ROI`.
    wheel_timestamps, wheel_position : array
        The wheel ALF object.
    period : (float, float)
        Times bounding the movement used (inclusive).
    label : str
        Camera label (selects the ROI).
    camera_times : array, optional
        Frame times (default the camera's ``time`` coordinate).

    Returns
    -------
    (offset, peak, energy)
        Frames by which the video is shifted (``argmax(xcorr) - n + 2`` as ibllib), the
        peak cross-correlation and the normalised motion energy.

    Raises
    ------
    ValueError
        If no frame falls within the period.
    """
    from scipy import signal

    times = np.asarray(camera.time.values if camera_times is None else camera_times, dtype=np.float64)
    mask = (times >= period[0]) & (times <= period[1])
    frames_idx = np.flatnonzero(mask)
    if frames_idx.size == 0:
        raise ValueError("No frames during given period")
    (y0, y1), (x0, x1) = WHEEL_ROI[label]
    sub = camera.isel(time=frames_idx, y=slice(y0, y1), x=slice(x0, x1))
    frames = np.asarray(sub.values)
    energy, _ = motion_energy(frames, 2)
    pos, t = interpolate_position(wheel_timestamps, wheel_position, 1000)
    vel, _ = velocity_filtered(pos, 1000)
    tmask = (t >= period[0]) & (t <= period[1])
    xs = np.unique(nearest(t[tmask], times[mask]))
    vs = np.abs(vel[tmask][xs])
    vs = (vs - vs.min()) / (vs.max() - vs.min())
    xcorr = signal.correlate(energy, vs)
    return int(np.argmax(xcorr) - xs.size + 2), float(np.max(xcorr)), energy
