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
from ibl_xvideo.io import remote
warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork() with threads running
idx = [50, 3, 30, 17, 40, 11]  # four keyframe groups
indexes = [ibl_xvideo.get_index(where) for where in sys.argv[1:]]  # the file, and the same over HTTP


def read():
    # the pool's threads, then this one; a scattered read over HTTP keeps the connections alive
    return [ibl_xvideo.read_frames(index, frames, workers=w) for index in indexes
            for frames, w in ((idx, 2), (idx[:2], 1))]


def numbers(got):
    return [[read_frame_number(f) for f in frames] for frames in got]


before = read()  # decoded and converted in the pool's threads, which keep their decoders


def child(conn):
    conn.send((numbers(read()), remote.STATS.retries))


parent, end = mp.Pipe()
p = mp.get_context("fork").Process(target=child, args=(end,))
p.start()
for _ in range(3):  # the parent reads on while the child does (each on connections of its own)
    ibl_xvideo.clear_caches()
    again = read()
p.join(60)
if p.is_alive():
    p.kill()
    print("hung")
else:
    print(p.exitcode, parent.recv() if p.exitcode == 0 else None, numbers(before) == numbers(again),
          remote.STATS.retries)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork() on this platform")
def test_a_forked_child_reads_exact_frames(tmp_path):
    """A process that read with its thread pool (decoders in its threads; frames whose chroma is not neutral
    converted there by swscale), from a file and over HTTP, forks: the child has none of those threads, and
    reads the same frames exactly, with a pool, decoders and connections of its own, while its parent reads on
    (with swscale's own threads, PyAV 19's child hung in fork())."""
    from ibl_xvideo.demo.synth import make_video

    from ..httpserver import FileServer

    # a camera-sized frame (swscale would start threads for it) whose chroma is not neutral (converted by swscale)
    video = make_video(tmp_path / "colour.mp4", 60, width=640, height=512, gop=15, chroma_jitter=True)
    server = FileServer(tmp_path)
    try:
        run = subprocess.run([sys.executable, "-c", _FORKER, str(video), server.url("colour.mp4")],
                             capture_output=True, text=True, timeout=300)
    finally:
        server.close()
    observed = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else f"exit {run.returncode}: {run.stderr}"
    want = [[50, 3, 30, 17, 40, 11], [50, 3]] * 2
    ok = observed == f"0 ({want}, 0) True 0"  # exact, and not one request retried
    record("concurrency", "fork after threaded reads (file, HTTP)", "exact frames", observed, ok)
    assert ok, observed
