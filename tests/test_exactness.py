"""Frame exactness: frame i of our array is frame i of a full sequential decode, for every access."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import ibl_xvideo
from ibl_xvideo.engine.decode import clear_caches, iter_frames
from ibl_xvideo.engine.index import get_index

from .conftest import VIDEO_KINDS, checksums, frame_numbers

# in the quick subset: pytest -m smoke
pytestmark = pytest.mark.smoke


@pytest.fixture(scope="module")
def sequential(videos):
    """name -> our own full sequential decode (one pass, no seeks)."""
    out = {}
    for name, p in videos.items():
        index = get_index(p)
        out[name] = np.stack([f for _, f in iter_frames(index)])
    return out


def test_sequential_decode_is_every_frame_in_order(videos, sequential):
    for name, frames in sequential.items():
        n = VIDEO_KINDS[name]["n_frames"]
        assert frames.shape[0] == n, name
        assert frame_numbers(frames) == list(range(n)), name


def _patterns(n: int, fps: float, t0: float):
    rng = np.random.default_rng(42)
    times = t0 + np.arange(n) / fps
    return {
        "scalar_first": dict(isel=0),
        "scalar_mid": dict(isel=n // 2),
        "scalar_last": dict(isel=n - 1),
        "scalar_negative": dict(isel=-3),
        "slice": dict(isel=slice(5, 77)),
        "slice_step": dict(isel=slice(3, n, 7)),
        "slice_negative_step": dict(isel=slice(n - 2, 10, -9)),
        "reverse_all": dict(isel=slice(None, None, -1)),
        "fancy_unsorted_repeats": dict(isel=rng.integers(0, n, 40)),
        "fancy_sorted_sparse": dict(isel=np.linspace(0, n - 1, 9).astype(int)),
        "sel_nearest_many": dict(sel=times[rng.integers(0, n, 25)] + 0.3 / fps),
        "sel_scalar_nearest": dict(sel=float(times[n // 3]) - 0.2 / fps),
    }


@pytest.mark.parametrize("chunks", [None, "auto", 7, 40])
@pytest.mark.parametrize("name", list(VIDEO_KINDS))
def test_every_access_pattern_is_exact(videos, sequential, name, chunks, open_video):
    clear_caches()
    ref = sequential[name]
    n = ref.shape[0]
    cam = open_video(videos[name], chunks=chunks)
    assert cam.shape == ref.shape
    fps = cam.attrs["fps"]
    for pname, pat in _patterns(n, fps, float(cam.time[0])).items():
        if "isel" in pat:
            sub = cam.isel(time=pat["isel"])
            expect_idx = np.arange(n)[pat["isel"]]
        else:
            sub = cam.sel(time=pat["sel"], method="nearest")
            expect_idx = np.abs(np.subtract.outer(np.atleast_1d(pat["sel"]), cam.time.values)).argmin(1)
            expect_idx = expect_idx if np.ndim(pat["sel"]) else expect_idx[0]
        got = np.asarray(sub.values)
        expect = ref[expect_idx]
        assert got.shape == expect.shape, (name, chunks, pname)
        assert np.array_equal(np.atleast_1d(sub.frame.values), np.atleast_1d(expect_idx)), (name, pname)
        g3, e3 = got.reshape((-1,) + ref.shape[1:]), expect.reshape((-1,) + ref.shape[1:])
        assert checksums(g3) == checksums(e3), (name, chunks, pname)


@pytest.mark.parametrize("chunks", [None, "auto", 7])
def test_crops_are_exact(videos, sequential, chunks):
    ref = sequential["bframes"]
    cam = ibl_xvideo.open_camera(videos["bframes"], chunks=chunks)
    cases = [
        dict(time=slice(10, 90), y=slice(20, 100), x=slice(200, 310)),
        dict(time=[250, 3, 3, 120], y=slice(None, None, 3), x=slice(5, 300, 2)),
        dict(time=42, y=[7, 1, 100], x=slice(0, 40)),
        dict(time=slice(None, None, -25), y=17, x=[0, 319, 5]),
    ]
    for case in cases:
        got = cam.isel(**case).values
        expect = ref[np.arange(ref.shape[0])[case["time"]]]
        expect = expect[..., case["y"], :] if not isinstance(case["time"], int) else expect[case["y"], :]
        expect = expect[..., case["x"]]
        assert got.shape == expect.shape, case
        assert np.array_equal(got, expect), case


def test_full_array_chunked_compute_is_exact(videos, sequential):
    for name in ("bframes", "longgop"):
        cam = ibl_xvideo.open_camera(videos[name], chunks=7)
        got = cam.data.compute(scheduler="threads", num_workers=2)
        assert checksums(got) == checksums(sequential[name])


def test_auto_chunks_start_at_keyframes(videos):
    index = get_index(videos["bframes"])
    cam = ibl_xvideo.open_camera(videos["bframes"])
    starts = np.r_[0, np.cumsum(cam.chunks[0])[:-1]]
    assert set(starts) <= set(index.key_frames.tolist())
    assert sum(cam.chunks[0]) == index.length


def test_offset_video_keeps_frame_identity(videos, sequential):
    index = get_index(videos["offset"])
    assert index.start_time == pytest.approx(2.5, abs=1e-3)
    cam = ibl_xvideo.open_camera(videos["offset"], chunks=None)
    # without timestamps time = frame / fps, independent of the container start time
    assert float(cam.time[0]) == 0.0
    assert frame_numbers(cam.isel(time=[0, 1, 149]).values) == [0, 1, 149]


def test_warm_and_cached_reads_match_cold(videos, sequential):
    clear_caches()
    ref = sequential["longgop"]
    cam = ibl_xvideo.open_camera(videos["longgop"], chunks=None)
    order = [200, 201, 150, 249, 260, 259, 10, 399, 398, 0]
    for i in order:  # mixes cache hits, live-decoder continuation and seeks
        assert np.array_equal(cam.isel(time=i).values, ref[i]), i


def test_xarray_engine(videos, sequential):
    ds = xr.open_dataset(videos["bframes"], engine="ibl_xvideo")
    var = ds["camera"]
    assert var.dims == ("time", "y", "x")
    assert np.array_equal(var.isel(time=[4, 2]).values, sequential["bframes"][[4, 2]])
    ds2 = xr.open_dataset(videos["bframes"], engine="ibl_xvideo", chunks={})
    starts = np.r_[0, np.cumsum(ds2["camera"].chunks[0])[:-1]]
    assert set(starts) <= set(get_index(videos["bframes"]).key_frames.tolist())
    da = xr.open_dataarray(videos["mono"], engine="ibl_xvideo")
    assert da.shape == sequential["mono"].shape


def test_each_keyframe_group_is_decoded_once(videos):
    from ibl_xvideo.engine.decode import STATS

    index = get_index(videos["bframes"])  # keyframes every 60 frames
    clear_caches()
    STATS.reset()
    wanted = [65, 61, 100, 65, 99, 130, 170]  # groups 60-119 (x5) and 120-179 (x2)
    got = ibl_xvideo.read_frames(index, wanted)
    assert frame_numbers(got) == wanted
    assert STATS.seeks == 2
    # only each group's prefix, less the non-reference frames skipped before the first wanted
    assert 5 + 2 <= STATS.frames <= (100 - 60 + 1) + (170 - 120 + 1)


def test_unwanted_non_reference_frames_between_wanted_ones_are_skipped(videos, sequential):
    """Two frames far apart in one group: the non-reference frames between them are not decoded."""
    from ibl_xvideo.engine.decode import STATS

    index = get_index(videos["longgop"])  # one 250-frame group first, with B-frames
    clear_caches()
    STATS.reset()
    got = ibl_xvideo.read_frames(index, [3, 240])
    assert checksums(got) == checksums(sequential["longgop"][[3, 240]])
    skipped = 241 - STATS.frames
    clear_caches()
    STATS.reset()
    every = ibl_xvideo.read_frames(index, np.arange(3, 241))  # all of them wanted: none skipped after 3
    assert checksums(every) == checksums(sequential["longgop"][3:241])
    assert STATS.frames >= 238 and skipped > 241 - STATS.frames + 20


def test_scattered_read_flushes_and_the_next_read_seeks_again(videos, sequential):
    """A scattered read flushes each decoder once its wanted frames are in; later reads stay exact."""
    from ibl_xvideo.engine.decode import STATS

    for name in ("bframes", "longgop"):
        index = get_index(videos[name])
        ref = sequential[name]
        clear_caches()
        for wanted in ([5, 37, 38, 59], [60, 61], [39], [40, 41, 42], [20, 22], [30], [3, 250, 120], [119], [2, 1]):
            STATS.reset()
            got = ibl_xvideo.read_frames(index, wanted, workers=1)
            assert checksums(got) == checksums(ref[wanted]), (name, wanted)
        # a range is left open: the next frame continues the decoder without a seek
        ibl_xvideo.read_frames(index, [10, 11, 12], workers=1)
        STATS.reset()
        assert checksums(ibl_xvideo.read_frames(index, [13], workers=1)) == checksums(ref[[13]])
        assert STATS.seeks == 0


def test_lazy_isel_plans_per_group(videos):
    from ibl_xvideo.engine.decode import STATS

    clear_caches()
    cam = ibl_xvideo.open_camera(videos["longgop"], chunks=None)  # one 250-frame group, then 150
    STATS.reset()
    sub = cam.isel(time=[10, 5, 249, 260])
    assert frame_numbers(sub.values) == [10, 5, 249, 260]
    # two groups, each decoded once (in parallel threads, or 260 reached by decoding on from 249)
    assert STATS.seeks <= 2 and STATS.frames <= 250 + 11


@pytest.mark.parametrize("name", ["bframes", "longgop", "offset"])
def test_each_frame_streams_exact_frames(videos, sequential, name):
    """The export's streaming decode: every frame of a range across groups, in order, cropped."""
    from ibl_xvideo.engine.decode import each_frame

    ref = sequential[name]
    index = get_index(videos[name])
    start, stop = 3, min(ref.shape[0], 180)
    got = {}
    each_frame(index, start, stop, lambda i, f: got.__setitem__(i, f.copy()), y=slice(10, 90), x=slice(1, None, 2))
    assert sorted(got) == list(range(start, stop))
    assert checksums(np.stack([got[i] for i in range(start, stop)])) == checksums(ref[start:stop, 10:90, 1::2])


@pytest.mark.parametrize("chunks", ["auto", 7])
def test_dask_list_selections_decode_only_the_frames_wanted(videos, sequential, chunks):
    """On a Dask-backed camera a list of frames (or of times) is planned per keyframe group like chunks=None.

    Dask alone would decode every chunk holding a wanted frame to its end.
    """
    from ibl_xvideo.engine.decode import STATS

    ref = sequential["longgop"]  # a 250-frame group with B-frames, then 150 frames
    n = ref.shape[0]
    cam = ibl_xvideo.open_camera(videos["longgop"], chunks=chunks)
    wanted = [120, 5, 5, 3, 260]
    counts = []
    for read in (lambda: cam.isel(time=wanted).values, lambda: ibl_xvideo.read_frames(get_index(videos["longgop"]),
                                                                                      wanted)):
        clear_caches()
        STATS.reset()
        assert checksums(read()) == checksums(ref[wanted])
        counts.append(STATS.frames)
    # as the engine's scattered read: not the 250-frame chunk, nor the second group's end
    assert counts[0] == counts[1] <= 121 + 11
    times = cam.time.values[[200, 7]] + 0.1 / cam.attrs["fps"]
    assert frame_numbers(cam.sel(time=times, method="nearest").values) == [200, 7]
    # after a time slice, with crops, as a mask, empty, negative
    assert frame_numbers(cam.isel(time=slice(100, 300)).isel(time=[150, 20, 21]).values) == [250, 120, 121]
    assert frame_numbers(cam.isel(time=slice(300, 0, -2)).isel(time=[0, 100]).values) == [300, 100]
    np.testing.assert_array_equal(cam.isel(time=[9, 2], y=slice(3, 40), x=17).values, ref[[9, 2], 3:40, 17])
    mask = np.zeros(n, bool)
    mask[[7, 333]] = True
    assert frame_numbers(cam.isel(time=mask).values) == [7, 333]
    assert cam.isel(time=[]).values.shape == (0,) + ref.shape[1:]
    assert frame_numbers(cam.isel(time=[-1, -n]).values) == [n - 1, 0]
    with pytest.raises(IndexError):
        cam.isel(time=[n])
    # crops first (also nested, reversed, then an integer): still planned, cropped as decoded
    w = ref.shape[2]
    crops = [
        (lambda c: c.isel(x=slice(0, 50)), np.s_[:, :50]),
        (lambda c: c.isel(y=slice(5, None), x=slice(None, None, -1)).isel(y=slice(2, 30, 3), x=slice(4, 60)),
         np.s_[7:35:3, w - 5:w - 61:-1]),
        (lambda c: c.isel(time=slice(None, None, -1), y=slice(10, 20)).isel(y=-1), np.s_[19, :]),
    ]
    clear_caches()
    STATS.reset()
    ibl_xvideo.read_frames(get_index(videos["longgop"]), [1, 30, 260])
    engine = STATS.frames
    for crop, yx in crops:
        cropped = crop(cam)
        forward = cropped.time.values[0] < cropped.time.values[-1]
        clear_caches()
        STATS.reset()
        got = cropped.isel(time=[30, 1, 260] if forward else [n - 31, n - 2, n - 261]).values
        assert STATS.frames == engine, yx
        np.testing.assert_array_equal(got, ref[[30, 1, 260]][(slice(None),) + yx])


def test_clear_caches_closes_other_threads_decoders(videos, sequential):
    """After clear_caches() a worker thread's live decoder is not continued: its next read seeks."""
    from concurrent.futures import ThreadPoolExecutor

    from ibl_xvideo.engine.decode import STATS

    index = get_index(videos["bframes"])
    with ThreadPoolExecutor(max_workers=1) as worker:
        def read(frames):
            return worker.submit(ibl_xvideo.read_frames, index, frames, workers=1).result()

        read(np.arange(0, 10))
        STATS.reset()
        assert checksums(read([10])) == checksums(sequential["bframes"][[10]])
        assert STATS.seeks == 0  # the worker's decoder went on from frame 9
        read(np.arange(11, 20))
        clear_caches()
        STATS.reset()
        assert checksums(read([20])) == checksums(sequential["bframes"][[20]])
        assert STATS.seeks == 1


def _decoded(f) -> int:
    import dask

    from ibl_xvideo.engine.decode import STATS

    ibl_xvideo.clear_caches()
    STATS.reset()
    with dask.config.set(scheduler="sync"):
        f()
    return STATS.frames


def test_the_cost_of_a_selection_in_each_form(videos, reference):
    """Planned on the camera, a cropped camera and after elementwise operations, astype and transpose."""
    path = videos["bframes"]  # 300 frames, a keyframe every 60
    wanted = [7, 130, 131, 250]
    cam = ibl_xvideo.open_camera(path)
    groups = ibl_xvideo.get_index(path).group_of(np.array(wanted))
    whole = sum(cam.chunks[0][g] for g in np.unique(groups))
    assert all(size == 60 for size in cam.chunks[0])  # 'auto': one keyframe group per chunk
    frames = reference["bframes"][wanted]
    forms = {  # each form, and what it must give
        "cam": (lambda: cam.isel(time=wanted), frames),
        "cropped": (lambda: cam.isel(y=slice(10, 100), x=slice(0, 64)).isel(time=wanted), frames[:, 10:100, :64]),
        "cam + 0": (lambda: (cam + 0).isel(time=wanted), frames + 0),
        "255 - cam": (lambda: (255 - cam).isel(time=wanted), 255 - frames),
        "astype": (lambda: cam.astype("float32").isel(time=wanted), frames.astype("float32")),
        "chained": (lambda: (np.sqrt(cam.astype("float32")) * 2 > 20).isel(time=wanted),
                    np.sqrt(frames.astype("float32")) * 2 > 20),
        "transpose": (lambda: cam.transpose("y", "x", "time").isel(time=wanted), frames.transpose(1, 2, 0)),
        "transpose, crop": (lambda: cam.transpose("x", "time", "y").isel(y=slice(5, 50)).isel(time=wanted),
                            frames[:, 5:50].transpose(2, 0, 1)),
        "sel nearest": (lambda: (cam / 2).sel(time=cam.time.values[wanted] + 0.001, method="nearest"),
                        frames / 2),
    }
    for name, (form, expected) in forms.items():
        out = []
        cost = _decoded(lambda: out.append(form().values))
        np.testing.assert_array_equal(out[0], expected, err_msg=name)
        assert out[0].dtype == expected.dtype, name
        # each group up to its last wanted frame, non-reference frames skipped: 18 frames here
        assert cost == _decoded(lambda: cam.isel(time=wanted).values) < whole / 5, (name, cost, whole)
    # a selection the planner does not know (a vectorised one): Dask's own, the touched groups whole
    vectorised = (cam + 0).isel(time=xr.DataArray([wanted], dims=("a", "b")))
    assert _decoded(lambda: vectorised.values) == whole


def test_closing_a_camera_closes_its_decoders(videos, sequential):
    """``cam.close()`` and ``with open_camera(...) as cam:`` close the video's decoders; a later read reopens it."""
    import os

    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    clear_caches()
    before = open_fds()
    with ibl_xvideo.open_camera(videos["longgop"], chunks=None) as cam:
        assert checksums(cam.isel(time=[5]).values) == checksums(sequential["longgop"][[5]])
        assert open_fds() > before  # the decoder keeps its file open for the next read
    assert open_fds() == before
    assert checksums(cam.isel(time=[6]).values) == checksums(sequential["longgop"][[6]])  # opened again
    cam = ibl_xvideo.open_camera(videos["longgop"], chunks=None)
    cam.isel(time=[7]).values
    cam.close()
    assert open_fds() == before


@pytest.mark.parametrize("chunks", ["auto", 7])
@pytest.mark.parametrize("name", ["bframes", "chroma", "longgop"])
def test_per_frame_reductions_are_reduced_as_the_frames_are_decoded(videos, sequential, name, chunks):
    """``max/min/sum/mean`` over ``('y', 'x')`` of a Dask camera: one task per chunk, each reducing the frames
    as they are decoded (no chunk of frames held), equal to the reduction of the sequential decode's frames,
    after time slices (strided, reversed), crops, transposes and elementwise arithmetic."""
    ref = sequential[name]
    cam = ibl_xvideo.open_camera(videos[name], chunks=chunks)
    forms = [
        (lambda c: c, lambda r: r),
        (lambda c: c.isel(time=slice(None, None, -3), y=slice(10, 200, 2), x=slice(5, None))
         .transpose("x", "time", "y"), lambda r: r[::-1][::3, 10:200:2, 5:]),
        (lambda c: c.isel(time=slice(7, 190)) // 3 + 1, lambda r: r[7:190] // 3 + 1),
        (lambda c: c.isel(time=slice(40, 120)) > 100, lambda r: r[40:120] > 100),
    ]
    for form, expect in forms:
        sub, want = form(cam), expect(ref)
        for how in ("max", "min", "sum", "mean"):
            got = getattr(sub, how)(("y", "x"))
            assert got.dims == ("time",)
            # one task per chunk: the frames are reduced inside the task that decodes them
            assert len(got.data.__dask_graph__()) == got.data.numblocks[0], (name, how)
            expected = getattr(np, how)(want, axis=(1, 2))
            assert got.dtype == expected.dtype, (name, how)
            np.testing.assert_array_equal(got.values, expected, err_msg=f"{name} {chunks} {how}")
    # what a frame-by-frame reduction cannot do is Dask's own: over time, or after an assignment
    assert len(cam.max("time").data.__dask_graph__()) > cam.data.numblocks[0]
    assigned = cam.isel(time=slice(0, 3))
    assigned.data[0] = 0
    np.testing.assert_array_equal(assigned.max(("y", "x")).values,
                                  np.r_[0, ref[1:3].max(axis=(1, 2))])
