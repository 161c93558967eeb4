"""Many readers at once: threads sharing one camera, and processes sharing its index cache, all read exact frames."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.demo.synth import read_frame_number

from .cases import record

pytestmark = pytest.mark.reliability

_READER = """
import sys, numpy as np, ibl_xvideo
from ibl_xvideo.demo.synth import read_frame_number
cam = ibl_xvideo.open_camera(sys.argv[1], chunks=None)
rng = np.random.default_rng(int(sys.argv[2]))
wrong = 0
for _ in range(40):
    idx = rng.integers(0, cam.sizes["time"], 8)
    wrong += sum(read_frame_number(f) != int(i) for f, i in zip(cam.isel(time=idx).values, idx))
print(wrong)
"""


def test_threads_and_processes_reading_at_once_read_exact_frames(videos, tmp_path):
    path = videos["longgop"]
    shared = {"lazy": ibl_xvideo.open_camera(path, chunks=None), "dask": ibl_xvideo.open_camera(path, chunks=50)}

    def reader(seed):
        rng = np.random.default_rng(seed)
        cam = shared["lazy" if seed % 2 else "dask"]
        wrong = 0
        for _ in range(30):
            idx = rng.integers(0, cam.sizes["time"], 6)
            wrong += sum(read_frame_number(f) != int(i) for f, i in zip(cam.isel(time=idx).values, idx))
        return wrong

    # two processes on the same file (and index cache) while eight threads read in this one
    procs = [subprocess.Popen([sys.executable, "-c", _READER, str(path), str(s)], stdout=subprocess.PIPE, text=True)
             for s in (1, 2)]
    with ThreadPoolExecutor(8) as pool:
        wrong_threads = sum(pool.map(reader, range(8)))
    outs = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    wrong_procs = sum(int(o.strip().splitlines()[-1]) for o, _ in outs) if codes == [0, 0] else None
    observed = f"8 threads: {wrong_threads} wrong of 1440; 2 processes: exit {codes}, {wrong_procs} wrong of 640"
    ok = wrong_threads == 0 and wrong_procs == 0
    record("concurrency", "8 threads + 2 processes", "exact frames", observed, ok)
    assert ok, observed
