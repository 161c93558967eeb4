"""Parity with ibllib's CameraQC: the same inputs give the same outcomes, check by check.

Runs only when ibllib is installed (``pip install ibllib``); skipped otherwise.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
from one.alf.spec import QC

camera = pytest.importorskip("ibllib.qc.camera")

from ibl_xvideo import qc  # noqa: E402
from ibl_xvideo.demo import (  # noqa: E402
    audio_pulses,
    make_one_cache,
    write_bpod_task_data,
    write_camera_session_files,
    write_daq_sync,
    write_timeline_daq,
)
from ibl_xvideo.qc.raw import load_audio_ttls  # noqa: E402

from .conftest import make_camera  # noqa: E402

pytestmark = pytest.mark.parity

REL = "cortexlab/Subjects/KS000/2021-01-01/001"
EID = "aaaaaaaa-1111-4222-8333-444444444444"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity_cache")
    sp = root / REL
    make_camera(sp, "body", 400, width=640, height=512, gop=60)
    # the session's audio TTLs, seen by the camera's GPIO, on the DAQ and in the Bpod data
    times = np.load(sp / "alf" / "_ibl_bodyCamera.times.npy")
    pulses = audio_pulses(times[0], times[-1])
    write_camera_session_files(sp, "body", times, audio=pulses)
    write_daq_sync(sp, pulses, {"body": times})
    write_bpod_task_data(sp, pulses, trial_length=2.5)
    make_one_cache(root, {REL: EID})
    from one.api import One

    return sp, One(cache_dir=root, mode="local")


def _same(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (QC, str)) or isinstance(b, (QC, str)):
        return QC.validate(a) == QC.validate(b)
    return a == pytest.approx(b, rel=1e-6, abs=1e-9)


def test_camera_qc_matches_ibllib_run(session):
    sp, one = session
    theirs = camera.CameraQC(sp, "body", one=one, n_samples=20, stream=False)
    logging.disable(logging.CRITICAL)
    try:
        theirs.load_video_data()
        from ibllib.io import raw_data_loaders as raw

        theirs.data["count"], theirs.data["pin_state"] = raw.load_embedded_frame_data(sp, "body", raw=True)
        theirs.data["bonsai_times"], theirs.data["camera_times"] = raw.load_camera_ssv_times(sp, "body")
        theirs.data["timestamps"] = np.load(sp / "alf" / "_ibl_bodyCamera.times.npy")
        theirs.data["audio"] = _ibllib_audio(sp, "ephys")
        theirs._type = "ephys"
        outcome, metrics = theirs.run()
    finally:
        logging.disable(logging.NOTSET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = qc.camera_qc(sp, "body", one=one, n_samples=20, kind="ephys", progress=False)
    # the frames themselves are identical
    np.testing.assert_array_equal(qc.sample_indices(400, 20), theirs.frame_samples_idx)
    assert set(metrics) == set(ours.metrics)
    for key, value in metrics.items():
        assert _same(ours.metrics[key], value), (key, ours.metrics[key], value)
    assert QC.validate(outcome) == ours.outcome


def _ibllib_audio(sp, kind):
    """The audio TTL fronts as CameraQC.load_data gets them (nidq DAQ or Bpod)."""
    if kind == "ephys":
        from ibllib.io.extractors import ephys_fpga

        sync, chmap = ephys_fpga.get_sync_and_chn_map(sp, "raw_ephys_data")
        return ephys_fpga.get_sync_fronts(sync, chmap["audio"])["times"]
    from ibllib.io import raw_data_loaders as raw

    return raw.load_bpod_fronts(sp, data=raw.load_data(sp, "raw_behavior_data"))[1]["times"]


def test_audio_ttls_and_pin_state_match_ibllib(session, tmp_path):
    import json
    import shutil

    sp, one = session
    count, pin_state = qc.raw.load_embedded_frame_data(sp, "body", raw=True)
    for kind in ("ephys", "training"):
        theirs, ours = _ibllib_audio(sp, kind), load_audio_ttls(sp, kind)
        np.testing.assert_array_equal(ours, theirs)  # NaNs of Bpod trials without BNC2 included
        ref = camera.CameraQC(sp, "body", one=one, n_samples=5, stream=False)
        ref.data.update(pin_state=pin_state, audio=theirs, video={"length": 400})
        assert _same(qc.check_pin_state(pin_state, ours, 400), ref.check_pin_state())
    # a wiring file that moves the audio to another DAQ line
    moved = tmp_path / "moved" / REL
    shutil.copytree(sp, moved)
    folder = moved / "raw_ephys_data"
    ch = np.load(folder / "_spikeglx_sync.channels.npy")
    np.save(folder / "_spikeglx_sync.channels.npy", np.where(ch == 7, 5, ch))
    (folder / "_spikeglx_ephysData_g0_t0.nidq.wiring.json").write_text(json.dumps(
        {"SYSTEM": "3B", "SYNC_WIRING_DIGITAL": {"P0.5": "audio"}}))
    np.testing.assert_array_equal(load_audio_ttls(moved, "ephys"), _ibllib_audio(moved, "ephys"))
    assert load_audio_ttls(moved, "ephys").size > 0


def test_timeline_audio_ttls_match_ibllib(session, tmp_path):
    """A mesoscope rig's Timeline DAQ: audio fronts as ibllib extracts them, from raw samples or sync files."""
    import shutil

    from ibllib.io.extractors.ephys_fpga import get_sync_fronts
    from ibllib.io.raw_daq_loaders import load_timeline_sync_and_chmap

    sp = tmp_path / REL
    shutil.copytree(session[0], sp)
    times = np.load(sp / "alf" / "_ibl_bodyCamera.times.npy")
    folder = write_timeline_daq(sp, audio_pulses(times[0], times[-1]), {"body": times})
    (sp / "_ibl_experiment.description.yaml").write_text(
        "sync:\n  nidq: {collection: raw_sync_data, acquisition_software: timeline}\n")
    sync, chmap = load_timeline_sync_and_chmap(folder, save=False)
    theirs = get_sync_fronts(sync, chmap["audio"])["times"]
    assert theirs.size >= 4  # two pulses: rises and falls
    np.testing.assert_array_equal(load_audio_ttls(sp), theirs)
    sync, chmap = load_timeline_sync_and_chmap(folder, save=True)  # writes _timeline_sync.*.npy
    assert any(folder.glob("_timeline_sync.times*.npy"))
    np.testing.assert_array_equal(load_audio_ttls(sp), get_sync_fronts(sync, chmap["audio"])["times"])


def test_3a_probe_audio_ttls_match_ibllib(session, tmp_path):
    """A 3A rig (no nidq board): the main probe's sync as ibllib's get_main_probe_sync picks it."""
    import json
    import shutil

    from ibllib.io.extractors.ephys_fpga import get_sync_and_chn_map, get_sync_fronts

    sp = tmp_path / REL
    shutil.copytree(session[0], sp)
    shutil.rmtree(sp / "raw_ephys_data")
    times = np.load(sp / "alf" / "_ibl_bodyCamera.times.npy")
    pulses = audio_pulses(times[0], times[-1])
    write_daq_sync(sp, pulses, {"body": times}, probe="probe00")
    second = write_daq_sync(sp, pulses[:1], {"body": times[:50]}, probe="probe01")
    (second / "_spikeglx_ephysData_g0_t0.imec.wiring.json").write_text(json.dumps(
        {"SYSTEM": "3A", "SYNC_WIRING_DIGITAL": {"pin12": "audio"}}))
    for probe in ("probe00", "probe01"):  # either probe may hold the most fronts
        if probe == "probe01":
            write_daq_sync(sp, pulses, {"body": times, "left": times}, probe="probe01")
            ch = np.load(second / "_spikeglx_sync.channels.npy")
            np.save(second / "_spikeglx_sync.channels.npy", np.where(ch == 15, 9, ch))
        sync, chmap = get_sync_and_chn_map(sp, "raw_ephys_data")
        theirs = get_sync_fronts(sync, chmap["audio"])["times"]
        assert theirs.size == pulses.size
        np.testing.assert_array_equal(load_audio_ttls(sp, "ephys"), theirs)


def test_test_mode_focus_and_position_match_ibllib(session):
    sp, one = session
    theirs = camera.CameraQC(sp, "left", one=one, n_samples=5, stream=False)
    theirs._type = "ephys"
    refs = theirs.load_reference_frames("left")
    assert QC.validate(theirs.check_focus(test=True)) == qc.check_focus(None, "left", refs, test=True)
    assert QC.validate(theirs.check_focus(test=True, roi=None)) == qc.check_focus(None, "left", refs,
                                                                                    test=True, roi=None)
    assert QC.validate(theirs.check_position(test=True)) == qc.check_position(None, "left", refs, test=True)
    assert QC.validate(theirs.check_position(test=True, pct_thresh=False)) == qc.check_position(
        None, "left", refs, test=True, pct_thresh=False)
    # the reference values ibllib's own tests give
    _, lpc, filt = qc.check_focus(None, "left", refs, test=True, return_measures=True)
    # the box blur rounds as cv2.blur does, every kernel: the numbers of ibllib's own test_check_focus
    # (ibllib/tests/qc/test_camera_qc.py), the Laplacian's to its two decimals, the FFT's to its one
    lpc_ibllib = [11.82, 12.94, 13.84, 14.52, 15.68, 16.76, 18.85, 21.9, 25.45, 31.3, 40.48, 54.05, 81.53, 133.19,
                  425.15, 425.15]
    fft_ibllib = [6.91, 7.2, 7.61, 8.08, 8.76, 9.47, 10.35, 11.22, 11.04, 11.42, 11.35, 11.94, 12.45, 13.22, 13.6,
                  13.6]
    np.testing.assert_array_equal(np.round(lpc[:, 0], 2), lpc_ibllib)
    np.testing.assert_array_almost_equal(np.round(filt, 2), fft_ibllib, 1)
    theirs.data["frame_samples"] = refs
    theirs.n_samples = 3
    assert QC.validate(theirs.check_brightness()) == qc.check_brightness(refs, "left", n_samples=3)
    np.testing.assert_allclose(qc.frame_brightness(refs, "left"), [72.00794903, 70.98228997, 78.25575987])


def test_raw_loaders_match_ibllib(session):
    from ibllib.io import raw_data_loaders as raw

    from ibl_xvideo.qc import raw as ours

    sp, _ = session
    a = raw.load_camera_frameData(sp, "body")
    b = ours.load_camera_frame_data(sp, "body")
    for col in ("Timestamp", "embeddedTimeStamp", "embeddedFrameCounter"):
        np.testing.assert_allclose(a[col].values, b[col].values)
    np.testing.assert_array_equal(np.stack(a["embeddedGPIOPinState"].values), np.stack(b["embeddedGPIOPinState"]))
    ga, gb = raw.load_camera_gpio(sp, "body", as_dicts=True), ours.load_camera_gpio(sp, "body", as_dicts=True)
    for pa, pb in zip(ga, gb):
        assert (pa is None) == (pb is None)
        if pa is not None:
            np.testing.assert_array_equal(pa["indices"], pb["indices"])
            np.testing.assert_array_equal(pa["polarities"], pb["polarities"])


def test_motion_energy_matches_brainbox(session):
    import brainbox.video as bbv

    import ibl_xvideo
    from ibl_xvideo.qc import motion

    sp, _ = session
    cam = ibl_xvideo.open_camera(sp / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4", chunks=50)
    frames = cam.isel(time=slice(0, 120)).values
    assert np.array_equal(motion.frame_diffs(frames, 2), bbv.frame_diffs(frames, 2))
    assert np.array_equal(motion.frame_diff(frames[3], frames[1]), bbv.frame_diff(frames[3], frames[1]))
    e_bb, s_bb = bbv.motion_energy(frames, diff=2)
    e_ours, s_ours = motion.motion_energy(cam.isel(time=slice(0, 120)), diff=2)
    np.testing.assert_allclose(e_ours.values, e_bb)
    np.testing.assert_allclose(s_ours.values, s_bb)


@pytest.fixture(scope="module")
def wheel_session(tmp_path_factory):
    from .wheelvideo import wheel_trace, write_wheel_video

    sp = tmp_path_factory.mktemp("wheel") / "subj" / "2021-01-01" / "001"
    (sp / "raw_video_data").mkdir(parents=True)
    (sp / "alf").mkdir()
    t, pos = wheel_trace()
    times = write_wheel_video(sp / "raw_video_data" / "_iblrig_leftCamera.raw.mp4", t, pos, shift_frames=3)
    np.save(sp / "alf" / "_ibl_leftCamera.times.npy", times)
    np.save(sp / "alf" / "_ibl_wheel.timestamps.npy", t)
    np.save(sp / "alf" / "_ibl_wheel.position.npy", pos)
    return sp, t, pos, times


def test_wheel_period_and_alignment_match_ibllib(wheel_session, session):
    import brainbox.behavior.wheel as wh
    from ibllib.io.extractors.video_motion import MotionAlignment
    from iblutil.util import Bunch

    import ibl_xvideo
    from ibl_xvideo.qc import wheel as ours

    sp, t, pos, times = wheel_session
    p1, tt1 = wh.interpolate_position(t, pos)
    p2, tt2 = ours.interpolate_position(t, pos)
    np.testing.assert_allclose(p1, p2)
    np.testing.assert_allclose(wh.velocity_filtered(p1, 1000)[0], ours.velocity_filtered(p2, 1000)[0])
    acc = wh.velocity_filtered(p1, 1000)[1]
    on1, off1, *_ = wh.movements(tt1, acc, pos_thresh=0.1)
    on2, off2 = ours.movements(tt2, acc, pos_thresh=0.1)
    np.testing.assert_array_equal(on1, on2)
    np.testing.assert_array_equal(off1, off2)
    period = camera.CameraQC.get_active_wheel_period(Bunch(timestamps=t, position=pos))
    np.testing.assert_array_equal(period, ours.active_wheel_period(t, pos))

    _, one = session
    aln = MotionAlignment(one=one, session_path=sp)
    aln.data["wheel"] = Bunch(timestamps=t, position=pos)
    aln.data["camera_times"] = {"left": times}
    aln.video_paths = {"left": sp / "raw_video_data" / "_iblrig_leftCamera.raw.mp4"}
    offset_theirs, peak_theirs, _ = aln.align_motion(period=period, side="left")
    cam = ibl_xvideo.open_camera(sp, "left", chunks=None)
    offset_ours, peak_ours, _ = ours.align_motion(cam, t, pos, period, "left")
    assert offset_ours == offset_theirs
    assert peak_ours == pytest.approx(peak_theirs, rel=1e-9)
    assert abs(offset_ours) <= 6  # the 3-frame delay is found to within the ROI's motion blur

    res = qc.camera_qc(sp, "left", n_samples=20, kind="ephys", progress=False)
    m = res.metrics["_videoLeft_wheel_alignment"]
    assert isinstance(m, tuple) and m[1] == offset_ours
