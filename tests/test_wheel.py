"""The wheel-alignment check finds a known delay between the video and the wheel."""

from __future__ import annotations

import numpy as np
import pytest
from one.alf.spec import QC

import ibl_xvideo
from ibl_xvideo import qc
from ibl_xvideo.qc import wheel

from .wheelvideo import MOVE, wheel_trace, write_wheel_video


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    t, pos = wheel_trace()
    out = {}
    for shift in (0, 4):
        sp = tmp_path_factory.mktemp(f"wheel{shift}") / "subj" / "2021-01-01" / "001"
        (sp / "raw_video_data").mkdir(parents=True)
        (sp / "alf").mkdir()
        times = write_wheel_video(sp / "raw_video_data" / "_iblrig_leftCamera.raw.mp4", t, pos, shift_frames=shift)
        np.save(sp / "alf" / "_ibl_leftCamera.times.npy", times)
        np.save(sp / "alf" / "_ibl_wheel.timestamps.npy", t)
        np.save(sp / "alf" / "_ibl_wheel.position.npy", pos)
        out[shift] = sp
    return t, pos, out


def test_period_is_inside_the_movement(sessions):
    t, pos, _ = sessions
    period = wheel.active_wheel_period(t, pos)
    start, end = MOVE
    assert period is not None and start <= period[0] < period[1] <= end + 0.5
    p, tt = wheel.interpolate_position(t, pos)
    on, off = wheel.movements(tt, p, pos_thresh=0.1, pos_thresh_onset=0.05)
    assert on[0] == pytest.approx(start, abs=0.1) and end - 1 < off[-1] < end + 0.1  # the turn, and only it
    assert np.all(on[1:] > off[:-1])


def test_alignment_measures_the_delay(sessions):
    t, pos, sps = sessions
    period = wheel.active_wheel_period(t, pos)
    offsets = {}
    for shift, sp in sps.items():
        cam = ibl_xvideo.open_camera(sp, "left", chunks=None)
        offsets[shift], peak, energy = wheel.align_motion(cam, t, pos, period, "left")
        assert energy.size == int(np.sum((cam.time >= period[0]) & (cam.time <= period[1]))) - 2
    assert offsets[4] - offsets[0] == 4  # a picture delayed by 4 frames correlates 4 frames later


def test_camera_qc_wheel_alignment(sessions):
    _, _, sps = sessions
    res = qc.camera_qc(sps[0], "left", n_samples=10, kind="ephys", progress=False)
    outcome, offset = res.metrics["_videoLeft_wheel_alignment"]
    assert isinstance(offset, int)
    # ibllib 4.1's rule: an offset beyond both tolerances is a WARNING ("0: FAIL -> WARNING Aug 2022")
    assert outcome == {0: QC.WARNING, 1: QC.WARNING, 2: QC.PASS}[int(np.sum(abs(offset) <= np.array([1, 2])))]
