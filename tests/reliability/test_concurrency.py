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


_FORKER = """
import multiprocessing as mp, sys, warnings, ibl_xvideo
from ibl_xvideo.demo.synth import read_frame_number
warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork() with threads running
idx = [50, 3, 30, 17, 40, 11]  # four keyframe groups
index = ibl_xvideo.get_index(sys.argv[1])
# decoded and converted in the pool's threads, which keep their decoders; then in this thread
before = [ibl_xvideo.read_frames(index, idx, workers=2), ibl_xvideo.read_frames(index, idx[:2], workers=1)]


def child(conn):
    got = [ibl_xvideo.read_frames(index, idx, workers=2), ibl_xvideo.read_frames(index, idx[:2], workers=1)]
    conn.send([[read_frame_number(f) for f in frames] for frames in got])


parent, end = mp.Pipe()
p = mp.get_context("fork").Process(target=child, args=(end,))
p.start()
p.join(60)
if p.is_alive():
    p.kill()
    print("hung")
else:
    print(p.exitcode, parent.recv() if p.exitcode == 0 else None, [[read_frame_number(f) for f in b] for b in before])
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork() on this platform")
def test_a_forked_child_reads_exact_frames(tmp_path):
    """A process that read with its thread pool (decoders in its threads; frames whose chroma is not neutral
    converted there by swscale) forks: the child has none of those threads, and reads the same frames
    exactly, with a pool and decoders of its own (with swscale's own threads, PyAV 19's child hung in fork())."""
    from ibl_xvideo.demo.synth import make_video

    # a camera-sized frame (swscale would start threads for it) whose chroma is not neutral (converted by swscale)
    video = make_video(tmp_path / "colour.mp4", 60, width=640, height=512, gop=15, chroma_jitter=True)
    run = subprocess.run([sys.executable, "-c", _FORKER, str(video)], capture_output=True, text=True,
                         timeout=300)
    observed = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else f"exit {run.returncode}: {run.stderr}"
    ok = observed == "0 [[50, 3, 30, 17, 40, 11], [50, 3]] [[50, 3, 30, 17, 40, 11], [50, 3]]"
    record("concurrency", "fork after threaded reads", "exact frames", observed, ok)
    assert ok, observed
