"""camera_qc on real sessions of a ONE cache: keys, aggregation, samples, full scans."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from one.alf.spec import QC

import ibl_xvideo
from ibl_xvideo import qc
from ibl_xvideo.cli import main

from .conftest import OTHER_EID, SESSION_EID, SESSION_REL, assert_figure_of, frame_numbers, needs_zarr

KEYS = ["brightness", "camera_times", "dropped_frames", "file_headers", "focus", "framerate", "pin_state",
        "position", "resolution", "timestamps", "wheel_alignment"]


def test_sample_indices_as_ibllib():
    np.testing.assert_array_equal(qc.sample_indices(30000, 100), np.linspace(100, 29900, 100).astype(int))
    assert qc.sample_indices(90, 5).min() >= 0 and qc.sample_indices(90, 5).max() < 90


def test_camera_qc_by_eid(one, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ibllib", None)  # as if ibllib were not installed
    with pytest.warns(UserWarning, match="reference frames"):
        res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=20, progress=False, kind="ephys")
    assert list(res.metrics) == [f"_videoBody_{k}" for k in KEYS]
    m = res.metrics
    # the test videos are 320x256 where ephys expects 640x512: resolution fails
    assert m["_videoBody_resolution"] == QC.FAIL
    assert m["_videoBody_file_headers"] == QC.PASS
    assert m["_videoBody_framerate"][0] == QC.PASS and m["_videoBody_framerate"][1] == pytest.approx(30, abs=0.1)
    assert m["_videoBody_timestamps"] == QC.PASS
    assert m["_videoBody_dropped_frames"] == (QC.PASS, 0, 0)
    assert m["_videoBody_camera_times"] == (QC.PASS, 0)
    assert m["_videoBody_position"] == QC.NOT_SET and m["_videoBody_focus"] == QC.NOT_SET
    assert m["_videoBody_pin_state"] == QC.NOT_SET  # no audio TTLs given
    assert res.outcome == QC.FAIL == qc.overall_outcome(v[0] if isinstance(v, tuple) else v for v in m.values())
    assert res.measures.sample_brightness.size == 20
    json.dumps(res.to_dict())


def test_camera_qc_samples_are_the_right_frames(one):
    res = qc.camera_qc(SESSION_EID, "left", one=one, n_samples=7, progress=False, refs=np.zeros((1, 256, 320)))
    idx = qc.sample_indices(120, 7)
    np.testing.assert_array_equal(res.measures.sample_frame, idx)
    cam = ibl_xvideo.open_camera(SESSION_EID, "left", one=one, chunks=None)
    frames = cam.isel(time=idx).values
    assert frame_numbers(frames) == idx.tolist()
    np.testing.assert_allclose(res.measures.sample_brightness, qc.frame_brightness(frames, "left"))


def test_full_qc_brightness_over_every_frame(one):
    res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=10, full=True, progress=False, kind="ephys",
                       refs=np.zeros((1, 256, 320)))
    b = res.measures.brightness
    assert b.sizes["frame"] == 90
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    np.testing.assert_allclose(b.values, qc.frame_brightness(cam, "body").values)
    assert res.metrics["_videoBody_brightness"] == qc.check_brightness(label="body", brightness=b.values)


def test_unknown_rig_type_warns(one):
    with pytest.warns(UserWarning, match="kind='ephys'"):
        res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=5, progress=False, refs=np.zeros((1, 256, 320)))
    assert res.metrics["_videoBody_resolution"] == QC.NOT_SET  # a training rig has no body camera


def test_qc_mismatched_timestamps_fail_not_raise(one):
    res = qc.camera_qc(OTHER_EID, "body", one=one, n_samples=5, progress=False, kind="ephys",
                       refs=np.zeros((1, 256, 320)))
    assert res.metrics["_videoBody_timestamps"] == QC.FAIL  # 89 stamps for 90 frames


def test_qc_without_timestamps_is_not_set(one_cache, tmp_path):
    sp = tmp_path / "subj" / "2020-01-01" / "001"
    shutil.copytree(one_cache / SESSION_REL / "raw_video_data", sp / "raw_video_data")
    with pytest.warns(UserWarning, match="NOT_SET"):
        res = qc.camera_qc(sp, "body", n_samples=5, progress=False)
    assert res.outcome == QC.NOT_SET and res.metrics == {}


def test_description_overrides_expected(one_cache, tmp_path):
    sp = tmp_path / "subj" / "2020-01-01" / "001"
    shutil.copytree(one_cache / SESSION_REL, sp)
    (sp / "_ibl_experiment.description.yaml").write_text(
        "sync:\n  nidq: {}\ndevices:\n  cameras:\n    body: {width: 320, height: 256, fps: 30}\n")
    res = qc.camera_qc(sp, "body", n_samples=5, progress=False, refs=np.zeros((1, 256, 320)))
    assert res.metrics["_videoBody_resolution"] == QC.PASS


def test_refs_false_skips_position_and_focus_quietly(one, one_cache, monkeypatch, capsys):
    """refs=False (--no-refs): position and focus NOT_SET on purpose, even where reference frames exist."""
    import warnings

    from ibl_xvideo.qc import run

    looked = []
    monkeypatch.setattr(run, "load_reference_frames", lambda *a, **k: looked.append(a) or np.full((1, 256, 320), 99))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=8, progress=False, kind="ephys", refs=False)
    assert looked == []
    assert res.metrics["_videoBody_position"] == QC.NOT_SET and res.metrics["_videoBody_focus"] == QC.NOT_SET
    with_refs = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=8, progress=False, kind="ephys")
    assert looked and with_refs.metrics["_videoBody_position"] != QC.NOT_SET
    assert main(["qc", str(one_cache / SESSION_REL), "body", "--json", "--n-samples", "5", "--kind", "ephys",
                 "--no-refs"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["_videoBody_focus"] == "NOT_SET"


def test_cli_qc_json(one_cache, capsys):
    code = main(["qc", str(one_cache / SESSION_REL), "body", "--json", "--n-samples", "5", "--kind", "ephys"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["_videoBody_resolution"] == "FAIL" and out["outcome"] == "FAIL"


def test_cli_qc_full_with_chosen_measures(one_cache, tmp_path, capsys):
    import ibl_xvideo as xv

    refs = tmp_path / "refs.npy"
    np.save(refs, xv.open_camera(one_cache / SESSION_REL, "body").isel(time=[40]).values)
    png = tmp_path / "qc.png"
    code = main(["qc", str(one_cache / SESSION_REL), "body", "--full", "--measures", "focus_lpc,position",
                 "--refs", str(refs), "--n-samples", "8", "--kind", "ephys", "--plot", str(png), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["_videoBody_position"] in ("PASS", "WARNING", "FAIL")
    res = qc.camera_qc(one_cache / SESSION_REL, "body", full=True, full_measures=["focus_lpc", "position"],
                       refs=str(refs), n_samples=8, kind="ephys", progress=False)
    assert_figure_of(png, res, tmp_path)


def test_qc_report_figure(one_cache, tmp_path, capsys):
    png = tmp_path / "qc.png"
    code = main(["qc", str(one_cache / SESSION_REL), "body", "--full", "--n-samples", "8", "--kind", "ephys",
                 "--plot", str(png)])
    assert code == 0 and png.exists()
    assert "_videoBody_brightness" in capsys.readouterr().out
    # what the figure shows: the outcome in its title, the samples' and every frame's brightness as measured
    res = qc.camera_qc(one_cache / SESSION_REL, "body", full=True, n_samples=8, kind="ephys", progress=False)
    ax = res.plot().axes[0]
    assert ax.get_title().endswith(f": {res.outcome.name}")
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["QC samples"].get_ydata(), res.measures["sample_brightness"].values)
    np.testing.assert_allclose(lines["every frame"].get_ydata(), res.measures["brightness"].values)


@pytest.mark.http
def test_reference_frames_downloaded_once_into_the_one_cache(one, tmp_path, monkeypatch):
    from .httpserver import FileServer

    monkeypatch.setitem(__import__("sys").modules, "ibllib", None)
    frames = np.random.default_rng(0).integers(0, 255, (2, 256, 320)).astype(np.uint8)
    np.save(tmp_path / "frames_body.npy", frames)
    srv = FileServer(tmp_path)
    try:
        monkeypatch.setenv("IBL_XVIDEO_REFERENCE_URL", srv.url("frames_{label}.npy"))
        got = qc.load_reference_frames("body", one=one)
        assert np.array_equal(got, frames)
        cached = one.cache_dir / "ibl_xvideo" / "reference" / "frames_body.npy"
        assert cached.exists()
        sent = srv.bytes_sent
        assert np.array_equal(qc.load_reference_frames("body", one=one), frames)
        assert srv.bytes_sent == sent  # from the cache
        monkeypatch.setenv("IBL_XVIDEO_REFERENCE_URL", srv.url("missing_{label}.npy"))
        assert qc.load_reference_frames("left", one=one) is None  # a failed download: None
    finally:
        srv.close()
        (one.cache_dir / "ibl_xvideo" / "reference" / "frames_body.npy").unlink(missing_ok=True)


def test_full_qc_per_frame_focus_and_position_measures(one):
    from ibl_xvideo.qc import checks

    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one, chunks=None)
    refs = cam.isel(time=[40]).values  # a "reference" taken from the video itself
    res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=10, full=True, progress=False, kind="ephys",
                       refs=refs)
    m = res.measures
    assert m.hist_corr.sizes["frame"] == 90 and m.focus_lpc.sizes["frame"] == 90
    assert m.hist_corr.sel(frame=40) == pytest.approx(100)  # the reference correlates perfectly with itself
    # the per-frame focus measure is ibllib's: equalise the frame, Laplacian, variance in the face ROI
    roi = checks.face_roi(res.samples, "body", refs)
    for i in (0, 40, 89):
        f = cam.isel(time=i).values
        lpc = qc.imgproc.laplacian(qc.imgproc.equalize_hist(f))
        assert float(m.focus_lpc.sel(frame=i)) == pytest.approx(lpc[roi].var())
    np.testing.assert_allclose(m.time.values, cam.time.values)
    # the FFT focus measure of every frame is ibllib's too (on the equalised frame)
    for i in (3, 40):
        f = cam.isel(time=i).values
        _, filt = checks.focus_measures([f], [roi])
        assert float(m.focus_fft.sel(frame=i)) == pytest.approx(filt[0])
    # the face position: no error on the reference frame itself; elsewhere the full-frame best match
    # wherever that lies within the search window
    assert float(m.position_err_x.sel(frame=40)) == 0 and float(m.position_err_y.sel(frame=40)) == 0
    (y1, _), (x1, _) = checks.FACE_ROI["body"]
    top_left, _, _ = checks.find_face(cam.values, "body", refs)
    center = np.median(np.array(checks.find_face(res.samples, "body", refs)[0]), axis=0).round()
    rx, ry = checks.search_radius("body", 256, 320)
    inside = [i for i, (x, y) in enumerate(top_left) if abs(x - center[0]) <= rx and abs(y - center[1]) <= ry]
    assert len(inside) > 45
    for i in inside:
        assert (m.position_err_x.values[i], m.position_err_y.values[i]) == (x1 - top_left[i][0], y1 - top_left[i][1])


def test_per_frame_position_error_of_shifted_frames():
    """The reference shifted by known amounts: the error is the shift, within the window or not."""
    import xarray as xr

    from ibl_xvideo.qc import checks

    rng = np.random.default_rng(3)
    ref = (rng.random((512, 640)) * 40).astype(np.uint8)
    ref[150:260, 100:330] += (rng.random((110, 230)) * 200).astype(np.uint8)  # a "face" to find
    shifts = [(0, 0), (4, -9), (-30, 12), (70, 0)]  # (dy, dx)
    frames = np.stack([np.roll(ref, s, axis=(0, 1)) for s in shifts])
    cam = xr.DataArray(frames, dims=("time", "y", "x"), coords={"time": np.arange(4) / 30})
    (y1, _), (x1, _) = checks.FACE_ROI["body"]
    for radius in (None, (None, None)):
        m = checks.frame_measures(cam, "body", ref[None], center=(x1, y1), radius=radius).compute()
        for k, (dy, dx) in enumerate(shifts):
            assert (m.position_err_x.values[k], m.position_err_y.values[k]) == (-dx, -dy), (radius, k)
    # a window too small to hold the shift finds the face elsewhere (or not at all), never the right place
    m = checks.frame_measures(cam, "body", ref[None], center=(x1, y1), radius=(5, 5)).compute()
    assert (m.position_err_x.values[2], m.position_err_y.values[2]) != (-12, 30)
    # a Dask camera chunked along time (and, rechunked, along y and x): the same measures
    whole = checks.frame_measures(cam, "body", ref[None], center=(x1, y1)).compute()
    for chunks in ({"time": 3}, {"time": 2, "y": 200, "x": 300}):
        got = checks.frame_measures(cam.chunk(chunks), "body", ref[None], center=(x1, y1)).compute()
        xr.testing.assert_equal(got, whole)


def test_reference_frames_of_another_size_are_not_used(one):
    refs = np.zeros((1, 512, 640), np.uint8)
    with pytest.warns(UserWarning, match="640x512 but the video .* is 320x256"):
        res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=8, kind="ephys", progress=False, refs=refs)
    assert res.metrics["_videoBody_position"] == QC.NOT_SET and res.metrics["_videoBody_focus"] == QC.NOT_SET
    assert "the reference frames are 640x512, not this video's size" in res.reasons["_videoBody_position"]
    with pytest.raises(ValueError, match="smaller than the"):
        qc.imgproc.match_template(np.zeros((100, 100), np.uint8), np.zeros((131, 249), np.uint8))


def test_full_qc_chosen_measures(one):
    from ibl_xvideo.qc import checks

    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    refs = cam.isel(time=[40]).values
    res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=10, full=True, progress=False, kind="ephys",
                       refs=refs, full_measures=("focus_lpc", "position"))
    every = {k for k, v in res.measures.data_vars.items() if "frame" in v.dims}
    assert every == {"brightness", "focus_lpc", "position_err_x", "position_err_y"}
    all_of_them = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=10, full=True, progress=False,
                               kind="ephys", refs=refs).measures
    for k in every:  # a subset gives the same values
        np.testing.assert_array_equal(res.measures[k].values, all_of_them[k].values)
    with pytest.raises(ValueError, match="unknown frame measures"):
        checks.frame_measures(cam, "body", refs, measures=("sharpness",))
    with pytest.raises(ValueError, match="need reference frames"):
        checks.frame_measures(cam, "body", None, measures=("focus_fft",))


def test_session_qc_runs_every_camera(one, one_cache, tmp_path, capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = qc.session_qc(SESSION_EID, one=one, n_samples=8, kind="ephys", progress=False)
        single = qc.camera_qc(SESSION_EID, "left", one=one, n_samples=8, kind="ephys", progress=False)
    assert list(results) == ["left", "body"]  # the cameras this session has, in label order
    assert results["left"].metrics == single.metrics and results["body"].label == "body"
    # (with ibllib installed its reference frames are 1280x1024: the 320x256 test videos do not match)
    assert results["left"].metrics["_videoLeft_position"] == QC.NOT_SET
    png = tmp_path / "qc.png"
    assert main(["qc", str(one_cache / SESSION_REL), "--n-samples", "8", "--kind", "ephys", "--json",
                 "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"left", "body"} and out["body"]["metrics"]["_videoBody_timestamps"] == "PASS"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_path = qc.session_qc(one_cache / SESSION_REL, n_samples=8, kind="ephys", progress=False)
    for label in ("left", "body"):
        assert_figure_of(tmp_path / f"qc_{label}.png", by_path[label], tmp_path)


@needs_zarr
def test_qc_reads_the_zarr_cache_instead_of_decoding(one, tmp_path, capsys):
    """camera_qc(cache=store): the store is filled once, then the QC (samples and full pass) decodes nothing."""
    from ibl_xvideo.engine.decode import STATS
    from ibl_xvideo.store import store_status

    refs = ibl_xvideo.open_camera(SESSION_EID, "body", one=one).isel(time=[40]).values
    kw = dict(one=one, n_samples=10, kind="ephys", progress=False, refs=refs, full=True)
    plain = qc.camera_qc(SESSION_EID, "body", **kw)
    store = tmp_path / "body.zarr"
    first = qc.camera_qc(SESSION_EID, "body", cache=store, **kw)  # fills the store
    assert store_status(store)["complete"]
    STATS.reset()
    again = qc.camera_qc(SESSION_EID, "body", cache=store, **kw)
    assert STATS.frames == 0 and STATS.seeks == 0  # every frame came from the store
    for res in (first, again):
        assert res.metrics == plain.metrics and res.outcome == plain.outcome
        np.testing.assert_array_equal(res.samples, plain.samples)
        for name in ("brightness", "focus_fft", "position_err_x"):
            np.testing.assert_array_equal(res.measures[name].values, plain.measures[name].values)
    # the accessor of a camera opened from the cache hands the store to the QC
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one, cache=store)
    STATS.reset()
    via = cam.video.qc(n_samples=10, kind="ephys", progress=False, refs=refs)
    assert STATS.frames == 0 and via.metrics == qc.camera_qc(SESSION_EID, "body", **{**kw, "full": False}).metrics
    np.save(tmp_path / "refs.npy", refs)
    capsys.readouterr()
    STATS.reset()
    assert main(["qc", str(one.cache_dir / SESSION_REL), "body", "--cache", str(store), "--refs",
                 str(tmp_path / "refs.npy"), "--n-samples", "10", "--kind", "ephys", "--json"]) == 0
    assert STATS.frames == 0
    out = json.loads(capsys.readouterr().out)["metrics"]
    assert out == {k: v for k, v in json.loads(json.dumps(via.to_dict()))["metrics"].items()}
    with pytest.raises(SystemExit, match="LABEL"):
        main(["qc", str(one.cache_dir / SESSION_REL), "--cache", str(store)])


def test_full_qc_without_refs_decodes_every_frame_once(one):
    """full=True without reference frames: the samples come from the same single pass as the brightness."""
    from ibl_xvideo.engine.decode import STATS, clear_caches

    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    n = cam.sizes["time"]
    clear_caches()
    STATS.reset()
    res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=10, full=True, progress=False, kind="ephys",
                       refs=False)
    assert STATS.frames == n  # every frame decoded once, the sample frames included
    idx = qc.sample_indices(n, 10)
    assert frame_numbers(res.samples) == idx.tolist()
    np.testing.assert_array_equal(res.samples, cam.isel(time=idx).values)
    np.testing.assert_allclose(res.measures.brightness.values, qc.frame_brightness(cam, "body").values)
    np.testing.assert_array_equal(res.measures.time.values, cam.time.values)
    np.testing.assert_allclose(res.measures.sample_brightness.values, qc.frame_brightness(res.samples, "body"))
    assert res.metrics["_videoBody_brightness"] == qc.check_brightness(label="body",
                                                                        brightness=res.measures.brightness.values)
    sampled = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=10, progress=False, kind="ephys", refs=False)
    assert {k: v for k, v in res.metrics.items() if k != "_videoBody_brightness"} == \
        {k: v for k, v in sampled.metrics.items() if k != "_videoBody_brightness"}


def test_every_metric_that_is_not_pass_says_why(one, one_cache, capsys):
    res = qc.camera_qc(SESSION_EID, "left", one=one, n_samples=8, progress=False, kind="ephys", refs=False)
    d = res.to_dict()
    not_pass = {k for k, v in d["metrics"].items() if (v[0] if isinstance(v, list) else v) != "PASS"}
    assert not_pass and set(d["reasons"]) == not_pass
    assert "skipped (refs=False" in d["reasons"]["_videoLeft_position"]
    assert all(len(r) > 20 and not r.isupper() for r in d["reasons"].values())
    # the resolution check of a 320x256 test video against a 1280x1024 left camera says both sizes
    assert "320x256" in d["reasons"]["_videoLeft_resolution"] and "1280x1024" in d["reasons"]["_videoLeft_resolution"]
    assert main(["qc", str(one_cache / SESSION_REL), "left", "--no-refs", "--n-samples", "8", "--kind", "ephys",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reasons"] == d["reasons"]
    assert main(["qc", str(one_cache / SESSION_REL), "left", "--no-refs", "--n-samples", "8", "--kind", "ephys"]) == 0
    out = capsys.readouterr().out
    assert d["reasons"]["_videoLeft_resolution"] in out


def test_keyframe_samples_decode_one_frame_each_and_agree_with_exact_samples(one, one_cache, capsys):
    import ibl_xvideo
    from ibl_xvideo.engine.decode import STATS
    from ibl_xvideo.errors import InvalidOptionError

    kw = dict(one=one, n_samples=8, progress=False, kind="ephys", refs=False)
    exact = qc.camera_qc(SESSION_EID, "body", **kw)
    ibl_xvideo.clear_caches()
    STATS.reset()
    fast = qc.camera_qc(SESSION_EID, "body", samples="keyframes", **kw)
    frames = fast.measures.sample_frame.values
    video = one_cache / SESSION_REL / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4"
    key_frames = ibl_xvideo.get_index(video).key_frames
    assert set(frames) <= set(key_frames) and frames.size == 8
    assert STATS.frames == np.unique(frames).size  # one intra-frame decode a sample
    assert fast.outcome == exact.outcome and fast.metrics == exact.metrics
    assert fast.to_dict()["samples"] == "keyframes" and exact.to_dict()["samples"] == "exact"
    with pytest.raises(InvalidOptionError, match="keyframes"):
        qc.camera_qc(SESSION_EID, "body", samples="nearest", **kw)
    assert main(["qc", str(one_cache / SESSION_REL), "body", "--no-refs", "--n-samples", "8", "--kind", "ephys",
                 "--samples", "keyframes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == "keyframes"


def test_nearest_keyframes():
    assert list(qc.nearest_keyframes(np.array([0, 30, 60]), np.array([0, 14, 15, 16, 59, 89]))) == [0, 0, 0, 30, 60, 60]
    assert list(qc.nearest_keyframes(np.array([0]), np.array([5, 50]))) == [0, 0]


def test_the_summary_never_lets_a_pass_hide_checks_that_did_not_run(one, videos, capsys):
    res = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=8, kind="ephys", progress=False, refs=False)
    not_set = [k.split("_", 2)[-1] for k, v in res.metrics.items()
               if (v[0] if isinstance(v, tuple) else v) == QC.NOT_SET]
    assert res.not_run == not_set and not_set  # no reference frames: position and focus at least
    assert res.outcome.name in str(res) and all(name in str(res) for name in not_set)
    assert res.to_dict()["not_run"] == not_set and res.to_dict()["summary"] == str(res)
    bare = qc.camera_qc(videos["bframes"], "body", progress=False)  # no session, no timestamps
    assert bare.outcome == QC.NOT_SET and "no check ran" in str(bare) and "timestamps" in str(bare)
    assert main(["qc", str(videos["bframes"]), "body", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["outcome"] == "NOT_SET" and printed["reasons"] and printed["summary"] == str(bare)
