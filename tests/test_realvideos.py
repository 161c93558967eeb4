"""Frame exactness on videos recorded by other labs' tools (``../shared/realvideos``, see its SOURCES.md).

Each file is read in every access pattern and compared with OpenCV's sequential read
(BGR channel 0, what ibllib keeps). The folder lives beside the project, never in it: a
user's clone has none and these tests skip; CI has it. ``IBL_XVIDEO_REALVIDEOS`` names
another folder.
"""

from __future__ import annotations

import functools
import os
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

from ibl_xvideo import clear_caches, compat, get_index, open_camera, video_meta
from ibl_xvideo.errors import XVideoError
from ibl_xvideo.verify import verify

from .conftest import needs_zarr, opencv_sequential

FOLDER = Path(os.environ.get("IBL_XVIDEO_REALVIDEOS") or Path(__file__).resolve().parents[2] / "shared" / "realvideos")
FILES = sorted(p.name for p in FOLDER.glob("*") if p.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv")) \
    if FOLDER.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason=f"no real videos in {FOLDER} (only CI has them)")


@pytest.fixture(scope="module")
def opencv():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = opencv_sequential(FOLDER / name)
        return cache[name]

    return get


def _sample(n: int, keys: np.ndarray, seed: int = 0) -> list[int]:
    """Every keyframe and the frame after it, both ends, and random others."""
    picked = {0, n - 1} | {int(k) for k in keys} | {int(k) + 1 for k in keys if k + 1 < n}
    rest = [i for i in range(n) if i not in picked]
    return sorted(picked | set(random.Random(seed).sample(rest, min(40, len(rest)))))


@functools.lru_cache(maxsize=None)
def _grey_tolerance(name: str) -> int:
    """Grey levels OpenCV may differ by: 0, but for BT.709-tagged colour files read by an OpenCV before 5.

    OpenCV 4.10 converts those with BT.601 coefficients (up to 4 levels from OpenCV 5.1,
    whose conversion follows the tag as ours does; docs/containers.md). Frame identity is
    checked exactly whatever the tolerance (verify, below, and the frame-by-frame match).
    """
    import av
    import cv2

    with av.open(str(FOLDER / name)) as container:
        frame = next(container.decode(video=0))
    colour = frame.format.name.startswith("yuv") and int(frame.colorspace or 2) == 1  # AVCOL_SPC_BT709
    return 4 if colour and int(cv2.__version__.split(".")[0]) < 5 else 0


def _same(got: np.ndarray, ref: np.ndarray, frames, what: str, name: str = "") -> None:
    tol = _grey_tolerance(name) if name else 0
    bad = [int(i) for k, i in enumerate(frames)
           if got[k].shape != ref[i].shape or np.abs(got[k].astype(int) - ref[i]).max() > tol]
    assert not bad, f"{what}: frames {bad[:10]} differ from OpenCV's sequential read"
    if tol:  # a tolerance must not let a neighbouring frame pass for this one
        for k, i in enumerate(frames):
            errs = [np.abs(got[k].astype(int) - ref[j]).mean() for j in range(max(0, i - 2), min(len(ref), i + 3))]
            assert int(np.argmin(errs)) == i - max(0, i - 2), f"{what}: frame {i} is nearer another frame"


@pytest.mark.parametrize("name", FILES or ["none"])
def test_every_access_pattern_equals_opencvs_sequential_read(name, opencv):
    path = FOLDER / name
    ref = opencv(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an intact file: no frame may be flagged as concealed
        cam = open_camera(path, timestamps=False)
        n = cam.sizes["time"]
        assert n == len(ref), f"{n} frames here, {len(ref)} for OpenCV"
        sample = _sample(n, get_index(path).key_frames)
        shuffled = random.Random(1).sample(sample, len(sample))
        _same(cam.values, ref, range(n), "the whole video (Dask)", name)
        for i in sample:  # a fresh decoder seeking to each keyframe is in a sequential decode's state
            clear_caches()
            _same(cam.isel(time=[i]).values, ref, [i], f"frame {i} alone", name)
        clear_caches()
        _same(cam.isel(time=shuffled).values, ref, shuffled, "a random list", name)
        clear_caches()
        _same(cam.isel(time=sample[::-1]).values, ref, sample[::-1], "a descending list", name)
        clear_caches()
        _same(open_camera(path, timestamps=False, chunks=None).isel(time=shuffled).values, ref, shuffled,
              "chunks=None", name)
        clear_caches()
        h, w = ref.shape[1:]
        y, x = slice(h // 4, 3 * h // 4), slice(w // 3, w - 1)
        crop = open_camera(path, timestamps=False, threads=2).isel(time=shuffled, y=y, x=x).values
        _same(crop, ref[:, y, x], shuffled, "a crop with decoder threads", name)
        clear_caches()
        times = cam.time.values[shuffled] + 0.2 / (cam.attrs["fps"] or 1)
        _same(cam.sel(time=times, method="nearest").values, ref, shuffled, "sel(method='nearest')", name)
        one = compat.get_video_frame(str(path), sample[-2])
        _same(one[None, :, :, 0], ref, [sample[-2]], "get_video_frame", name)
        listed = compat.get_video_frames_preload(str(path), shuffled, mask=np.s_[:, :, 0], quiet=True)
        _same(listed, ref, shuffled, "get_video_frames_preload", name)
    meta = video_meta(path)
    assert (meta["length"], meta["width"], meta["height"]) == (len(ref), ref.shape[2], ref.shape[1])


@needs_zarr
@pytest.mark.parametrize("name", FILES or ["none"])
def test_a_zarr_round_trip_is_exact(name, opencv, tmp_path):
    from ibl_xvideo import open_store, to_zarr

    ref = opencv(name)
    to_zarr(open_camera(FOLDER / name, timestamps=False), tmp_path / "s.zarr", progress=False)
    _same(open_store(tmp_path / "s.zarr").values, ref, range(len(ref)), "a Zarr round trip", name)


@pytest.mark.parametrize("name", FILES or ["none"])
def test_verify_finds_every_real_video_exact(name):
    result = verify(FOLDER / name, n_samples=20, progress=False)
    assert result.exact, str(result)
    assert set(result.reads) == {"whole", "single", "random", "descending", "no_dask", "crop_threads", "nearest"}


@pytest.mark.parametrize("name", FILES or ["none"])
def test_camera_qc_of_a_real_video_gives_a_result_or_a_typed_error(name):
    from ibl_xvideo.qc import camera_qc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = camera_qc(FOLDER / name, "body")
        except XVideoError:
            return
    assert result.outcome is not None


@pytest.mark.parametrize("name", FILES or ["none"])
def test_luma_is_the_range_expanded_luma_plane_whatever_the_colour_tags(name):
    import av

    with av.open(str(FOLDER / name)) as container:
        frame = next(container.decode(video=0))
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:frame.height, :frame.width].astype(float)
        full = frame.format.name.startswith(("yuvj", "gray")) or frame.color_range == 2
    expected = y if full else np.clip(np.round((y - 16) * 255 / 219), 0, 255)
    got = open_camera(FOLDER / name, timestamps=False, pixels="luma").isel(time=0).values
    assert np.array_equal(got, expected.astype(np.uint8))
