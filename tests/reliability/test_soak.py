"""A soak: thousands of random frames in mixed access patterns, with memory and descriptors flat."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.demo.synth import read_frame_number

from .cases import record

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def _rss_mib() -> float:
    with open("/proc/self/status") as fid:  # the current resident set, not the peak
        return next(int(line.split()[1]) for line in fid if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_ten_thousand_random_frames_keep_memory_and_descriptors_flat(videos):
    path = videos["bframes"]
    rng = np.random.default_rng(7)
    lazy = ibl_xvideo.open_camera(path, chunks=None)
    dask = ibl_xvideo.open_camera(path, chunks=25)
    n = lazy.sizes["time"]
    done, marks, wrong = 0, {}, 0
    for k in range(750):
        kind = k % 3
        if kind == 0:  # scattered, without Dask (more than the interactive cache keeps)
            frames = rng.integers(0, n, 24)
            got = lazy.isel(time=frames).values
        elif kind == 1:  # a run of frames through Dask's threads
            a = int(rng.integers(0, n - 20))
            frames = np.arange(a, a + 20)
            got = dask.isel(time=slice(a, a + 20)).values
        else:  # a camera opened afresh (its index from the cache), one frame
            frames = rng.integers(0, n, 1)
            got = ibl_xvideo.open_camera(path, chunks=None).isel(time=frames).values
        wrong += sum(read_frame_number(f) != int(i) for f, i in zip(got, frames))
        done += len(frames)
        if k in (149, 749):
            marks[k] = (_rss_mib(), _fds())
    (rss0, fd0), (rss1, fd1) = marks[149], marks[749]
    observed = f"{done} frames, {wrong} wrong; RSS {rss0:.0f} -> {rss1:.0f} MiB, descriptors {fd0} -> {fd1}"
    ok = wrong == 0 and fd1 <= fd0 + 2 and rss1 - rss0 < 64
    record("soak", "750 reads in three patterns", "exact frames, flat RSS and descriptors", observed, ok)
    assert ok, observed
    assert done >= 10_000
