"""The command line and the demo machinery (on a small demo session)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from one.alf.spec import QC

from ibl_xvideo import open_camera
from ibl_xvideo.cli import main
from ibl_xvideo.demo import DEMO_EID, DEMO_SESSION, build_demo, run_demo

from .conftest import OTHER_REL, SESSION_REL, assert_drawn_again, assert_figure_of, needs_zarr


def _png(path) -> np.ndarray:
    """The pixels of a PNG the package wrote (lossless: a frame's values exactly)."""
    import imageio.v3 as iio

    return iio.imread(path)

#: a small demo: its body camera films the task (trials from 21 s to 40 s)
SMALL = {"body": (320, 256, 30, 30.0), "right": (320, 256, 150, 1.0)}


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo") / "cache", cameras=SMALL, progress=False)


def test_demo_cache_is_a_real_one_cache(small_demo):
    from one.api import One

    one = One(cache_dir=small_demo, mode="local")
    assert str(one.eid2path(DEMO_EID)).replace("\\", "/").endswith(DEMO_SESSION)
    cam = open_camera(DEMO_EID, "body", one=one)
    t = cam.time.values
    assert cam.sizes["time"] == 900 and t[0] > 10  # session-clock offset
    d = np.diff(t)
    assert np.all(d > 0) and d.std() > 0  # jittered, increasing
    raw = small_demo / DEMO_SESSION / "raw_video_data" / "_iblrig_bodyCamera.frameData.bin"
    assert np.fromfile(raw, np.float64).size == 4 * 900
    assert build_demo(small_demo, cameras=SMALL, progress=False) == small_demo  # cached


def test_demo_eid_opens_without_one(small_demo, tmp_path, monkeypatch, capsys):
    """With no ONE configured, the demo's eid finds the built demo cache (CLI and API)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("IBL_XVIDEO_DEMO_DIR", str(small_demo))
    assert open_camera(DEMO_EID, "body").sizes["time"] == 900
    png = tmp_path / "f.png"
    assert main(["frame", DEMO_EID, "body", "--time", "13", "-o", str(png)]) == 0
    assert "frame 15" in capsys.readouterr().out
    np.testing.assert_array_equal(_png(png), open_camera(DEMO_EID, "body").isel(time=15).values)  # the frame


def test_run_demo_walkthrough(small_demo, tmp_path, capsys):
    out = run_demo(tmp_path / "f.png", root=small_demo, cameras=SMALL)
    assert out["first10"] == (10, 256, 320)
    assert out["frame"] == 899  # t=1000 s is past this short body video: nearest is the last frame
    cam = open_camera(small_demo / DEMO_SESSION / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4", chunks=None)
    np.testing.assert_array_equal(_png(tmp_path / "f.png"), cam.isel(time=899).values)  # that frame, saved
    printed = capsys.readouterr().out
    assert "video_meta" in printed and "camera QC" in printed
    # the small demo's 320x256 right camera: ibllib's face region (x 430-618) is outside it, and the QC says so
    assert "lies outside this 320x256 video" in out["qc"]["right"].reasons["_videoRight_position"]
    assert out["qc"]["body"].metrics["_videoBody_position"] == QC.PASS  # its face region is clipped, as ibllib


def test_cli_meta_and_frame(one_cache, tmp_path, capsys):
    session = one_cache / SESSION_REL
    assert main(["meta", str(session), "body"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["length"] == 90 and meta["fps"] == 30
    png = tmp_path / "f.png"
    assert main(["frame", str(session), "body", "--index", "7", "-o", str(png)]) == 0
    out = capsys.readouterr().out
    assert "frame 7" in out and "session clock" in out  # one clock, --index or not
    np.testing.assert_array_equal(_png(png), open_camera(session, "body").isel(time=7).values)
    assert main(["frame", str(session), "body", "--time", "14.0", "-o", str(png)]) == 0
    assert "session clock" in capsys.readouterr().out
    # a time or frame outside the video is an error, not the nearest frame hours away
    with pytest.raises(SystemExit, match="outside the body camera's times .*session clock"):
        main(["frame", str(session), "body", "--time", "5000", "-o", str(png)])
    with pytest.raises(SystemExit, match="90 frames"):
        main(["frame", str(session), "body", "--index", "90", "-o", str(png)])
    # a session whose times do not match its frames still gives a frame by index (on the video clock)
    other = one_cache / OTHER_REL
    assert main(["frame", str(other), "body", "--index", "5", "-o", str(png)]) == 0
    assert "frame 5" in capsys.readouterr().out


def test_cli_errors_and_info(tmp_path, capsys):
    assert main(["meta", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4" in capsys.readouterr().err
    assert main(["info"]) == 0
    assert "av:" in capsys.readouterr().out


def test_example_trial_frames_runs(small_demo):
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "trial_frames.py"
    module = runpy.run_path(str(path))
    out = module["main"](["--root", str(small_demo)])
    assert len(out["onset_frames"]) == out["n_trials"] >= 5 and np.all(np.diff(out["onset_frames"]) > 0)
    assert 59 <= out["clip"][0] <= 61 and out["clip"][1:] == (72, 128)  # 2 s at 30 Hz, the paws' region
    assert out["r"] > 0.5  # the paws move when the wheel turns


@needs_zarr
def test_example_qc_and_cache_runs(small_demo, tmp_path):
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "qc_and_cache.py"
    folder = tmp_path / "new" / "folder"  # created by the example
    out = runpy.run_path(str(path))["main"](["--root", str(small_demo), "--out", str(folder)])
    assert out["figure"] == folder / "qc_body.png"
    assert_figure_of(out["figure"], out["qc"], tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["body_10s.zarr", "qc_body.png"]  # the big cache removed
    assert out["clip"] == (300, 256, 320)  # 10 s of the small demo's body camera
    assert out["cache"] == ("filled", "hit")
    # the demo's cameras see the audio pulses its DAQ recorded
    assert out["metrics"]["_videoBody_pin_state"] == (QC.PASS, 0, 0)
    # the QC from the cache: the same verdicts
    assert out["cached_qc"].metrics == out["metrics"] and out["cached_qc"].outcome == out["outcome"]


def test_demo_build_progress_counts_frames(tmp_path, capsys):
    """The build's bar moves with every 100 frames encoded, not once per camera (minutes for the body camera)."""
    from ibl_xvideo.demo.synth import make_video

    calls = []
    make_video(tmp_path / "p.mp4", 250, width=64, height=64, progress=calls.append)
    assert calls == [100, 100, 50]
    build_demo(tmp_path / "cache", cameras={"body": (64, 64, 30, 5.0)}, progress=True)
    err = capsys.readouterr().err
    assert "building demo session" in err and "150/150" in err and "body camera" in err


def test_cli_mistakes_are_one_line_in_the_cli_s_words(one_cache, tmp_path, capsys, videos):
    session = str(one_cache / SESSION_REL)
    with pytest.raises(SystemExit) as exc:  # checked by argparse, before any decoding
        main(["export", session, "body", str(tmp_path / "s.zarr"), "--roi", "0:256"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--roi" in err and "y0:y1,x0:x1" in err and "Traceback" not in err
    with pytest.raises(SystemExit, match="the folder .*missing.* does not exist"):  # before the QC runs
        main(["qc", session, "body", "--no-refs", "--plot", str(tmp_path / "missing" / "qc.png")])


@needs_zarr
def test_cli_errors_name_the_cli_s_flags(one_cache, tmp_path, capsys, videos):
    session = str(one_cache / SESSION_REL)
    store = tmp_path / "s.zarr"
    assert main(["export", session, "body", str(store)]) == 0
    capsys.readouterr()
    assert main(["export", str(videos["mono"]), str(store)]) == 2  # another video's export is there
    err = capsys.readouterr().err
    assert "pass --overwrite" in err and "overwrite=True" not in err


def test_example_peri_event_runs(small_demo, tmp_path):
    import runpy
    from pathlib import Path

    pytest.importorskip("matplotlib")
    path = Path(__file__).resolve().parents[1] / "examples" / "peri_event.py"
    figure = tmp_path / "new" / "pe.png"  # its folder made by the example
    out = runpy.run_path(str(path))["main"](["--root", str(small_demo), "--out", str(figure)])
    assert out["stack"][0] >= 5 and out["stack"][1] == 61  # the trials, 2 s at 30 Hz
    assert 0.0 < out["peak_lag"] < 1.5  # the paws move after the stimulus, when the mouse turns the wheel
    from ibl_xvideo.events import plot_peri_event

    assert_drawn_again(figure, lambda again: plot_peri_event(out["peri_event"], again), tmp_path)


def test_example_session_report_runs(small_demo, tmp_path):
    import base64
    import re
    import runpy
    from pathlib import Path

    import imageio.v3 as iio

    pytest.importorskip("matplotlib")
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "session_report.py"))["main"]
    out = main(["--root", str(small_demo), "--out", str(tmp_path / "new" / "report.html")])
    assert out["images"] >= 2 * 3  # the QC figure and samples, each camera
    for picture in re.findall(r'src="data:image/png;base64,([^"]+)"', out["page"].read_text()):
        assert iio.imread(base64.b64decode(picture)).std() > 0  # a picture, not an empty canvas
    assert out["outcomes"]["right"] == "FAIL" and set(out["outcomes"]) == set(SMALL)  # the dropped frames


@pytest.mark.cluster
def test_example_peri_event_on_a_cluster(small_demo, tmp_path):
    """The same example with --cluster: the average over all trials computed on a LocalCluster, the same."""
    import runpy
    from pathlib import Path

    pytest.importorskip("matplotlib")
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "peri_event.py"))["main"]
    here = main(["--root", str(small_demo), "--out", str(tmp_path / "a.png")])
    there = main(["--root", str(small_demo), "--out", str(tmp_path / "b.png"), "--cluster"])
    assert there["average"].shape == (61,) + here["stack"][2:]
    np.testing.assert_allclose(there["average"].values, here["average"].values, rtol=1e-6)
    np.testing.assert_allclose(there["motion"].values, here["motion"].values, rtol=1e-6)


@pytest.mark.slow
def test_example_pose_clip_runs(tmp_path):
    import runpy
    from pathlib import Path

    pytest.importorskip("matplotlib")
    root = build_demo(tmp_path / "cache", cameras={"left": (1280, 1024, 60, 12.0)}, progress=False)
    path = Path(__file__).resolve().parents[1] / "examples" / "pose_clip.py"
    out = runpy.run_path(str(path))["main"](["--root", str(root), "--out", str(tmp_path / "new" / "folder")])
    montage = out["camera"].video.montage
    assert_drawn_again(out["montage"], lambda p: montage(out["times"], pose=out["pose"], out=p), tmp_path)
    clip = open_camera(out["clip"], chunks=None)
    assert clip.sizes["y"] == clip.sizes["x"] == 640 and clip.sizes["time"] == 72  # 1.2 s at 60 Hz
