"""Encoders start with no Python code in the forked child, so they never hang beside live thread pools.

A ``preexec_fn`` (as ``imageio_ffmpeg.write_frames`` passes) makes CPython fork and run
Python in the child; a lock another thread held at the fork (decoder pools, Dask
workers) then stays locked there forever. CPython runs the ``os.register_at_fork``
``before`` hooks exactly when it forks to run Python in the child, so counting those
calls tells, deterministically, whether an encode could hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.demo.synth import encode_frames, make_video, read_frame_number

# in the quick subset: pytest -m smoke
pytestmark = pytest.mark.smoke

_watching = threading.Event()
_python_forks: list[int] = []


def _count_fork():
    if _watching.is_set():
        _python_forks.append(threading.get_ident())


os.register_at_fork(before=_count_fork)


def test_the_fork_counter_sees_a_preexec_fn_and_only_it():
    code = ("import os, subprocess; n = []; os.register_at_fork(before=lambda: n.append(1)); "
            "subprocess.run(['true']); plain = len(n); "
            "subprocess.run(['true'], preexec_fn=os.setpgrp); print(plain, len(n))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["0", "1"]


def test_encoding_after_reads_with_live_pools_forks_no_python(videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["bframes"], chunks=30)
    # decoder threads and Dask's pool are alive and busy while the encoders start
    busy = threading.Thread(target=lambda: cam.isel(time=slice(0, 240)).max(("y", "x")).compute())
    busy.start()
    cam.isel(time=[5, 100, 250]).values
    _python_forks.clear()
    _watching.set()
    try:
        frames = (np.full((64, 96), 10 * i, np.uint8) for i in range(20))
        ramp = encode_frames(tmp_path / "ramp.mp4", frames, width=96, height=64, fps=30)
        synth = make_video(tmp_path / "synth.mp4", 30, width=320, height=256, gop=10, preset="ultrafast")
    finally:
        _watching.clear()
        busy.join()
    assert _python_forks == []
    ramp_cam = ibl_xvideo.open_camera(ramp)
    assert ramp_cam.sizes == {"time": 20, "y": 64, "x": 96}
    assert [read_frame_number(f) for f in ibl_xvideo.open_camera(synth).values] == list(range(30))


def test_a_failing_encode_names_the_file_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.mp4"
    frames = (np.zeros((64, 96), np.uint8) for _ in range(3))
    with pytest.raises(RuntimeError, match="ffmpeg failed to encode .*bad.mp4"):
        encode_frames(bad, frames, width=96, height=64, fps=30, output_args=["-c:v", "no-such-codec"])
    assert list(tmp_path.iterdir()) == []
