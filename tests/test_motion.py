"""Motion energy: brainbox's semantics on NumPy frames, and the same as Dask reductions."""

from __future__ import annotations

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.qc import motion


def test_brainbox_values():
    frames = np.stack([np.full((2, 2, 3), i, np.uint8) for i in range(12)])
    assert np.array_equal(motion.frame_diff(frames[1], frames[0]), np.ones((2, 2)))
    d = motion.frame_diffs(frames)
    assert d.shape == (11, 2, 2) and np.all(d == 1)
    assert np.all(motion.frame_diffs(frames[..., 0], diff=2) == 2)
    with pytest.raises(ValueError):
        motion.frame_diffs(frames, diff=20)
    with pytest.raises(ValueError):
        motion.frame_diff(frames[0], frames[0, :1])


def test_motion_energy_numpy_equals_dask(videos):
    cam = ibl_xvideo.open_camera(videos["bframes"], chunks=40)
    frames = cam.values
    e_np, s_np = motion.motion_energy(frames, diff=2)
    e_da, s_da = motion.motion_energy(cam, diff=2)
    np.testing.assert_allclose(e_da.values, e_np)
    np.testing.assert_allclose(s_da.values, s_np)
    assert e_da.sizes["time"] == 298 and float(e_da.time[0]) == float(cam.time[2])
    raw, _ = motion.motion_energy(frames, diff=2, normalize=False)
    exact = np.abs(frames[2:].astype(int) - frames[:-2]).sum(axis=(1, 2))
    # brainbox's float32 norm truncates some integer distances down by one: within 0.1%
    assert np.all(raw <= exact) and np.all(raw >= exact * 0.999)


def test_roi_motion_energy(videos):
    cam = ibl_xvideo.open_camera(videos["mono"], chunks=25)
    me = motion.roi_motion_energy(cam, roi=[100, 50, 20, 30])  # iblvideo's [w, h, x, y]
    g = cam.values[:, 30:80, 20:120].astype(np.float32)
    expect = np.abs(np.diff(g, axis=0)).mean(axis=(1, 2))
    np.testing.assert_allclose(me.values[:-1], expect, rtol=1e-6)
    assert me.values[-1] == me.values[-2] and me.sizes["time"] == cam.sizes["time"]
    with pytest.raises(ValueError, match="negative"):
        motion.roi_motion_energy(cam, roi=[10, 10, -1, 0])
