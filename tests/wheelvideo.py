"""A left-camera video whose wheel region moves with a synthetic rotary-encoder trace."""

from __future__ import annotations

import numpy as np

#: when the synthetic wheel turns (s)
MOVE = (4.0, 12.0)


def wheel_trace(duration: float = 16.0, move=MOVE, amplitude: float = 6.0):
    """1 kHz wheel timestamps and positions (rad): at rest, one smooth 8 s turn, at rest."""
    t = np.arange(0, duration, 0.001)
    pos = np.zeros_like(t)
    inside = (t >= move[0]) & (t <= move[1])
    phase = (t[inside] - move[0]) / (move[1] - move[0])
    pos[inside] = amplitude * (1 - np.cos(2 * np.pi * phase)) / 2 + amplitude * phase
    pos[t > move[1]] = amplitude
    return t, pos


def write_wheel_video(path, t_wheel, pos, fps: int = 60, t0: float = 0.0, shift_frames: int = 0):
    """Encode a 1280x1024 video (x264 ultrafast) whose ROI shows stripes following the wheel.

    ``shift_frames`` delays the picture relative to the wheel (a known misalignment).
    Returns the camera timestamps.
    """
    from ibl_xvideo.demo.synth import encode_frames

    n = int((t_wheel[-1] - t0) * fps)
    times = t0 + np.arange(n) / fps
    wheel_at = np.interp(times - shift_frames / fps, t_wheel, pos)
    xs = np.arange(1280)
    base = np.full((1024, 1280), 90, np.uint8)

    def frames():
        for k in range(n):
            frame = base.copy()
            stripes = (127 + 100 * np.sin(xs / 6.0 + wheel_at[k] * 8)).astype(np.uint8)
            frame[800:1020, :] = stripes[None, :]
            yield frame

    encode_frames(path, frames(), width=1280, height=1024, fps=fps)
    return times
