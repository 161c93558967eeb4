"""The built-in demo's rig: a mouse on a wheel whose QC outcomes are the ones the demo announces."""

from __future__ import annotations

import json

import numpy as np
import pytest
from one.api import One

from ibl_xvideo import open_camera
from ibl_xvideo.cli import main
from ibl_xvideo.demo import DEMO_DROPPED, DEMO_EID, DEMO_RUN, DEMO_SESSION, DEMO_TASK, build_demo
from ibl_xvideo.demo.rigscene import Behaviour, RigCamera
from ibl_xvideo.qc import load_reference_frames
from ibl_xvideo.qc.wheel import WHEEL_ROI

pytestmark = pytest.mark.slow

#: The demo's cameras at their real sizes and rates, shorter (the body camera's 1000 s
#: are the demo's only other difference); they still film the running bout and the task.
RIG = {"body": (640, 512, 30, 45.0), "left": (1280, 1024, 60, 30.0), "right": (640, 512, 150, 24.0)}


@pytest.fixture(scope="module")
def rig_demo(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("rig") / "cache", cameras=RIG, progress=False)


def _outcome(value):
    return value[0] if isinstance(value, list) else value


def test_demo_qc_is_what_the_demo_announces(rig_demo, capsys):
    """Good cameras PASS; the right camera's dropped frames FAIL its dropped_frames check, and only it."""
    assert main(["qc", DEMO_EID, "--json", "--one-cache", str(rig_demo)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {label: d[label]["outcome"] for label in RIG} == {"body": "PASS", "left": "PASS", "right": "FAIL"}
    failing = {k: v for k, v in d["right"]["metrics"].items() if _outcome(v) != "PASS"}
    dropped = sum(n for _, n in DEMO_DROPPED["right"])
    assert failing == {"_videoRight_dropped_frames": ["FAIL", dropped, 0]}
    for label in ("left", "right"):  # the video's wheel moves with the session's wheel (within a frame)
        outcome, offset = d[label]["metrics"][f"_video{label.capitalize()}_wheel_alignment"]
        assert outcome == "PASS" and abs(offset) <= 1
    for label in RIG:  # every metric that does not pass says why, in the JSON
        not_pass = {k for k, v in d[label]["metrics"].items() if _outcome(v) != "PASS"}
        assert set(d[label]["reasons"]) == not_pass
    assert f"{dropped} frames were dropped" in d["right"]["reasons"]["_videoRight_dropped_frames"]


def test_the_dropped_frames_are_gaps_in_the_camera_s_times_and_in_the_figure(rig_demo, tmp_path):
    from ibl_xvideo.qc import camera_qc

    one = One(cache_dir=rig_demo, mode="local")
    res = camera_qc(DEMO_EID, "right", one=one, progress=False, n_samples=10)
    assert list(res.measures["dropped_count"].values) == [k for _, k in DEMO_DROPPED["right"]]
    fig = res.plot(tmp_path / "qc.png")
    assert "frames dropped (counter)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    cam = open_camera(DEMO_EID, "right", one=one)
    n = int(round(RIG["right"][2] * RIG["right"][3]))
    assert cam.sizes["time"] == n - sum(k for _, k in DEMO_DROPPED["right"])
    dt = np.diff(cam.time.values)
    gaps = np.round(dt[dt > 1.5 / 150] * 150).astype(int) - 1
    assert sorted(gaps) == sorted(k for _, k in DEMO_DROPPED["right"])


def test_demo_session_has_the_task_and_the_wheel_in_alf(rig_demo):
    one = One(cache_dir=rig_demo, mode="local")
    trials = one.load_object(DEMO_EID, "trials")
    n = trials["stimOn_times"].size
    assert n >= 5 and trials["intervals"].shape == (n, 2)
    assert np.all((trials["intervals"] >= DEMO_TASK[0]) & (trials["intervals"] <= DEMO_TASK[1]))
    assert np.all(trials["stimOn_times"] < trials["firstMovement_times"])
    assert np.all(trials["firstMovement_times"] < trials["response_times"])
    assert set(np.unique(trials["feedbackType"])) <= {-1, 1}
    wheel = one.load_object(DEMO_EID, "wheel")
    t, pos = wheel["timestamps"], wheel["position"]
    assert t.shape == pos.shape and np.all(np.diff(t) > 0)
    # the wheel turns at each response and during the running bout, and rests before the task
    during = (t > DEMO_RUN[0]) & (t < DEMO_RUN[1])
    assert np.ptp(pos[during]) > 3
    still = (t > DEMO_RUN[1] + 0.1) & (t < DEMO_TASK[0])
    assert np.ptp(pos[still]) == 0


def test_reference_frames_of_the_demo_are_its_session_s_only(rig_demo, tmp_path, monkeypatch):
    """The demo's session has its own reference frames; another session keeps ibllib's (offline: none)."""
    monkeypatch.setenv("IBL_XVIDEO_REFERENCE_URL", "")
    session = rig_demo / DEMO_SESSION
    refs = load_reference_frames("left", session_path=session)
    assert refs.shape == (3, 1024, 1280) and refs.dtype == np.uint8
    assert np.array_equal(refs, np.load(session / "raw_video_data" / "_xvideo_leftCamera.referenceFrames.npy"))
    other = load_reference_frames("left", session_path=tmp_path)  # a session without its own
    assert other is None or not np.array_equal(other, refs)  # ibllib's when installed


def test_paws_and_wheel_move_together():
    """The wheel's region changes between two frames exactly when the wheel turned between them."""
    n = 32
    wheel = np.r_[np.zeros(16), np.linspace(0, 1, 16)]
    b = Behaviour(wheel=wheel, pupil=np.ones(n), whisk=np.zeros(n), lick=np.zeros(n, bool))
    for label in ("left", "right", "body"):
        paint = RigCamera(label, b, size=(320, 256))
        (y0, y1), (x0, x1) = WHEEL_ROI[label]
        scale = 320 / {"left": 1280, "right": 640, "body": 640}[label]
        roi = np.s_[int(y0 * scale):int(y1 * scale), int(x0 * scale):int(x1 * scale)]
        # frames 8 apart share their sensor noise: only what moved differs
        assert np.array_equal(paint(0)[roi], paint(8)[roi])  # the wheel at rest
        assert np.abs(paint(31)[roi].astype(int) - paint(23)[roi]).mean() > 1  # the wheel turned


def test_rig_camera_refuses_an_unknown_view():
    b = Behaviour(np.zeros(1), np.ones(1), np.zeros(1), np.zeros(1, bool))
    with pytest.raises(ValueError, match="belly"):
        RigCamera("belly", b)
