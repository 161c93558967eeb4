"""Session-scoped fixtures: tiny IBL-encoded videos, their reference decodes, a ONE cache."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ibl_xvideo.demo.synth import make_video, read_frame_number

from .reliability import cases

# botocore's credential chain ends with the EC2 instance metadata service: never asked here (loopback only)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

SESSION_EID = "4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a"
SESSION_REL = "hoferlab/Subjects/SWC_043/2020-09-21/001"
OTHER_EID = "0c3d1e3a-1111-4b1e-9a44-5d4b2f3a9c01"
OTHER_REL = "hoferlab/Subjects/SWC_043/2020-09-22/001"

#: Zarr v3 export and cache: zarr-python 3 (Python >= 3.11); everything else runs on Python 3.10.
needs_zarr = pytest.mark.skipif(importlib.util.find_spec("zarr") is None,
                                reason="zarr-python 3 needs Python >= 3.11")

# name -> make_video keyword arguments (all 320x256 unless stated)
VIDEO_KINDS = {
    # x264 defaults: B-frames, keyframe every 60 frames
    "bframes": dict(n_frames=300, width=320, height=256, fps=30, gop=60),
    # monochrome (4:0:0) H.264
    "mono": dict(n_frames=200, width=320, height=256, fps=60, gop=50, pix_fmt="gray"),
    # presentation starts at 2.5 s
    "offset": dict(n_frames=150, width=320, height=256, fps=30, gop=40, start_time=2.5),
    # one keyframe interval longer than any chunk size used in the tests
    "longgop": dict(n_frames=400, width=320, height=256, fps=150, gop=250),
    # chroma varying in 127..129, as some rigs produce
    "chroma": dict(n_frames=120, width=320, height=256, fps=30, gop=30, chroma_jitter=True),
}


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep the index cache of the test run away from the user's."""
    d = tmp_path_factory.mktemp("xvideo_cache")
    old = os.environ.get("IBL_XVIDEO_CACHE_DIR")
    os.environ["IBL_XVIDEO_CACHE_DIR"] = str(d)
    # no network: reference frames are only downloaded by the test that serves them itself
    os.environ["IBL_XVIDEO_REFERENCE_URL"] = ""
    yield d
    if old is None:
        os.environ.pop("IBL_XVIDEO_CACHE_DIR", None)
    else:
        os.environ["IBL_XVIDEO_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def videos(video_dir):
    """name -> Path of each test video (encoded once per test session)."""
    out = {}
    for name, kw in VIDEO_KINDS.items():
        kw = dict(kw)
        n = kw.pop("n_frames")
        out[name] = make_video(video_dir / f"{name}.mp4", n, **kw)
    return out


def opencv_sequential(path) -> np.ndarray:
    """Full sequential decode with OpenCV, BGR channel 0: what ibllib reads."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[:, :, 0].copy())
    cap.release()
    return np.stack(frames)


@pytest.fixture(scope="session")
def reference(videos):
    """name -> (n, h, w) uint8 full sequential decode by OpenCV (channel 0)."""
    return {name: opencv_sequential(p) for name, p in videos.items()}


def _through_xarray(source, label=None, *, chunks="auto", **kwargs):
    """A camera opened through xarray's engine (``xr.open_dataset(..., engine="ibl_xvideo")``), as a DataArray."""
    import xarray as xr

    ds = xr.open_dataset(source, engine="ibl_xvideo", label=label,
                         chunks=None if chunks is None else {} if chunks == "auto" else {"time": chunks}, **kwargs)
    (name,) = ds.data_vars
    return ds[name]


@pytest.fixture(params=["open_camera", pytest.param("xr.open_dataset", marks=pytest.mark.xarray_door)])
def open_video(request):
    """Each I/O test through both doors, as rioxarray's tests do: ``open_camera`` and xarray's engine."""
    import ibl_xvideo

    return ibl_xvideo.open_camera if request.param == "open_camera" else _through_xarray


def checksums(frames: np.ndarray) -> list[str]:
    return [hashlib.sha1(np.ascontiguousarray(f).tobytes()).hexdigest()[:16] for f in frames]


def frame_numbers(frames: np.ndarray) -> list[int]:
    return [read_frame_number(f) for f in frames]


def assert_drawn_again(png, draw, tmp_path) -> None:
    """The PNG ``png`` shows, pixel for pixel, what ``draw(path)`` draws (a figure whose content its own
    test checks: a QC result's ``plot``, ``plot_peri_event``...), and not a blank image."""
    import imageio.v3 as iio

    again = Path(tmp_path) / "the_same_figure_drawn_again.png"
    draw(again)
    shown, drawn = iio.imread(png), iio.imread(again)
    assert shown.shape == drawn.shape and shown.std() > 0, png
    np.testing.assert_array_equal(shown, drawn, err_msg=str(png))


def assert_figure_of(png, res, tmp_path) -> None:
    """The PNG ``png`` is the figure of the QC result ``res`` (``res.plot()``: its title, brightness lines and
    samples are checked in ``test_qc_run.test_qc_report_figure``)."""
    assert_drawn_again(png, res.plot, tmp_path)


def make_camera(session_path, label, n, width=320, height=256, fps=30, gop=30, seed=0):
    """Write a camera's video, alf times and frameData into a session folder; return the video path."""
    from ibl_xvideo.demo import camera_times, write_camera_session_files

    video = make_video(Path(session_path) / "raw_video_data" / f"_iblrig_{label}Camera.raw.mp4", n, width=width,
                       height=height, fps=fps, gop=gop, seed=seed)
    write_camera_session_files(Path(session_path), label, camera_times(n, fps, seed=seed), seed=seed)
    return video


@pytest.fixture(scope="session")
def one_cache(tmp_path_factory):
    """A real ONE cache with two sessions: SESSION (body, left) and OTHER (body only)."""
    from ibl_xvideo.demo import make_one_cache

    root = tmp_path_factory.mktemp("one_cache")
    cams = {"body": (30, 90), "left": (60, 120)}
    for rel, labels in ((SESSION_REL, ("body", "left")), (OTHER_REL, ("body",))):
        for k, label in enumerate(labels):
            fps, n = cams[label]
            make_camera(root / rel, label, n, fps=fps, seed=k)
    # OTHER: body times one short (a count mismatch)
    t = np.load(root / OTHER_REL / "alf" / "_ibl_bodyCamera.times.npy")
    np.save(root / OTHER_REL / "alf" / "_ibl_bodyCamera.times.npy", t[:-1])
    make_one_cache(root, {SESSION_REL: SESSION_EID, OTHER_REL: OTHER_EID})
    return Path(root)


@pytest.fixture(scope="session")
def one(one_cache):
    from one.api import One

    return One(cache_dir=one_cache, mode="local")


@pytest.fixture(scope="module")
def client():
    """A real dask.distributed cluster: two worker processes on 127.0.0.1 (closed after the module,
    so that the other modules run on the default scheduler)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def pytest_collection_modifyitems(items):
    """Tests on a dask.distributed cluster (the ``client`` fixture) are marked ``cluster``."""
    for item in items:
        if "client" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


def pytest_runtest_logreport(report):
    """Tests elsewhere marked ``reliability`` (hostile environments) join the suite's table."""
    if report.when == "call" and "reliability" in report.keywords and "/reliability/" not in report.nodeid:
        name = report.nodeid.split("::", 1)[-1].removeprefix("test_")
        name = name.split("[")[0] + (f" ({name.split('[')[1].split('-')[0]})" if "[" in name else "")
        cases.record("environment", name, "as the test states", name.replace("_", " "), report.passed)


def pytest_terminal_summary(terminalreporter):
    cases.summary(terminalreporter)


@pytest.fixture
def small_tmpfs(tmp_path):
    """mount(kind, size): a real tmpfs of ``size`` bytes at a fresh folder, read-only for kind 'ro' (root only)."""
    mounted = []

    def mount(kind, size=1 << 20):
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root")
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if kind == "ro" else "")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)]).returncode:
            pytest.skip("this machine does not let us mount a tmpfs")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)])
