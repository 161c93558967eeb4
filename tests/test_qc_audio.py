"""The pin-state check on the session's own audio TTLs: DAQ sync (nidq, Timeline) and Bpod task data."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from one.alf.spec import QC

from ibl_xvideo import qc
from ibl_xvideo.demo import (
    audio_pulses,
    camera_times,
    write_bpod_task_data,
    write_camera_session_files,
    write_daq_sync,
    write_timeline_daq,
)
from ibl_xvideo.demo.synth import make_video
from ibl_xvideo.errors import XVideoError
from ibl_xvideo.qc.raw import load_audio_ttls

N, FPS, T0 = 900, 30, 2.0


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A body camera whose GPIO audio pin follows the session's audio pulses; no sync files yet."""
    sp = tmp_path_factory.mktemp("audio") / "lab" / "Subjects" / "s1" / "2022-02-02" / "001"
    make_video(sp / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4", N, width=320, height=256, fps=FPS,
               preset="ultrafast")
    times = camera_times(N, FPS, t0=T0)
    pulses = audio_pulses(T0, times[-1])
    write_camera_session_files(sp, "body", times, audio=pulses)
    return sp, times, pulses


@pytest.fixture
def session(template, tmp_path):
    sp = tmp_path / "lab" / "Subjects" / "s1" / "2022-02-02" / "001"
    shutil.copytree(template[0], sp)
    return sp, template[1], template[2]


def _pin_state(sp, kind="ephys", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = qc.camera_qc(sp, "body", kind=kind, n_samples=5, progress=False, **kw)
    return res.metrics["_videoBody_pin_state"]


def test_daq_audio_ttls_give_pin_state_pass(session):
    sp, times, pulses = session
    assert len(pulses) >= 5
    write_daq_sync(sp, pulses, {"body": times})
    audio = load_audio_ttls(sp, "ephys")
    np.testing.assert_array_equal(audio, np.sort(pulses.ravel()))
    assert _pin_state(sp) == (QC.PASS, 0, 0)


def test_missing_audio_pulses_are_counted(session):
    sp, times, pulses = session
    write_daq_sync(sp, pulses[:-6], {"body": times})
    assert _pin_state(sp) == (QC.WARNING, -6, 0)


def test_wiring_file_moves_the_audio_channel(session):
    sp, times, pulses = session
    write_daq_sync(sp, pulses, {"body": times})
    folder = sp / "raw_ephys_data"
    # the audio pulses wired to P0.3 instead of P0.7
    ch = np.load(folder / "_spikeglx_sync.channels.npy")
    ch[ch == 7] = 3
    np.save(folder / "_spikeglx_sync.channels.npy", ch)
    assert load_audio_ttls(sp, "ephys").size == 0
    (folder / "_spikeglx_ephysData_g0_t0.nidq.wiring.json").write_text(json.dumps(
        {"SYSTEM": "3B", "SYNC_WIRING_DIGITAL": {"P0.3": "audio", "P0.2": "body_camera"}}))
    assert load_audio_ttls(sp, "ephys").size == pulses.size
    assert _pin_state(sp) == (QC.PASS, 0, 0)


def test_bpod_task_data_bnc2_fronts(session):
    sp, times, pulses = session
    write_bpod_task_data(sp, pulses, trial_length=3.0)
    audio = load_audio_ttls(sp, "training")
    n_trials = sum(1 for _ in open(sp / "raw_behavior_data" / "_iblrig_taskData.raw.jsonable"))
    empty = n_trials - np.unique(np.floor(pulses[:, 0] / 3.0)).size
    assert empty > 0
    # as ibllib: each trial without BNC2 events adds a NaN for the rise and one for the fall, sorted last
    np.testing.assert_allclose(audio[:pulses.size], np.sort(pulses.ravel()))
    assert np.isnan(audio[pulses.size:]).sum() == 2 * empty == audio.size - pulses.size
    # those NaNs count in audio[::2] as in ibllib: more "TTLs" than rising edges
    outcome, ndiff, size_diff = _pin_state(sp, kind="training")
    assert ndiff == empty and size_diff == 0
    assert outcome == (QC.PASS if empty < 5 else QC.WARNING)


def test_description_chooses_the_sync(session):
    sp, times, pulses = session
    write_daq_sync(sp, pulses, {"body": times})
    shutil.move(sp / "raw_ephys_data", sp / "raw_sync_data")
    (sp / "_ibl_experiment.description.yaml").write_text(
        "devices:\n  cameras:\n    body: {collection: raw_video_data, fps: 30, width: 320, height: 256}\n"
        "sync:\n  nidq: {collection: raw_sync_data, acquisition_software: spikeglx}\n")
    assert load_audio_ttls(sp).size == pulses.size
    assert _pin_state(sp, kind=None) == (QC.PASS, 0, 0)
    (sp / "_ibl_experiment.description.yaml").write_text(
        "devices:\n  cameras:\n    body: {collection: raw_video_data}\n"
        "sync:\n  nidq: {collection: raw_sync_data, acquisition_software: labview}\n")
    with pytest.raises(XVideoError, match="labview"):
        load_audio_ttls(sp)
    with pytest.warns(UserWarning, match="pin_state is NOT_SET"):
        res = qc.camera_qc(sp, "body", kind="ephys", n_samples=5, progress=False)
    assert res.metrics["_videoBody_pin_state"] == QC.NOT_SET


def test_given_audio_wins_and_no_files_is_not_set(session):
    sp, times, pulses = session
    assert load_audio_ttls(sp, "ephys") is None
    assert _pin_state(sp) == QC.NOT_SET
    assert _pin_state(sp, audio=pulses.ravel()) == (QC.PASS, 0, 0)


TIMELINE = ("devices:\n  cameras:\n    body: {collection: raw_video_data, fps: 30, width: 320, height: 256}\n"
            "sync:\n  nidq: {collection: raw_sync_data, acquisition_software: timeline}\n")


def test_timeline_daq_audio_ttls(session):
    """A mesoscope rig: the audio input of the Timeline DAQ recording, thresholded like ibllib."""
    sp, times, pulses = session
    folder = write_timeline_daq(sp, pulses, {"body": times})
    (sp / "_ibl_experiment.description.yaml").write_text(TIMELINE)
    audio = load_audio_ttls(sp)
    ts = np.load(folder / "_timeline_DAQdata.timestamps.npy")
    # each front at the first DAQ sample at or after it
    np.testing.assert_array_equal(audio, np.sort(ts[np.searchsorted(ts, pulses.ravel() - 1e-9)]))
    assert np.abs(audio - np.sort(pulses.ravel())).max() <= 1e-3 + 1e-9
    assert _pin_state(sp, kind=None) == (QC.PASS, 0, 0)
    # extracted sync files, when present, are read instead of the raw samples
    np.save(folder / "_timeline_sync.times.npy", np.array([1.0, 2.0, 3.0, 4.0]))
    np.save(folder / "_timeline_sync.channels.npy", np.array([2, 1, 2, 3]))
    np.testing.assert_array_equal(load_audio_ttls(sp), [1.0, 3.0])


def test_timeline_audio_counter_and_errors(session):
    sp, times, pulses = session
    folder = write_timeline_daq(sp, pulses, {"body": times})
    (sp / "_ibl_experiment.description.yaml").write_text(TIMELINE)
    meta_path = folder / "_timeline_DAQdata.meta.json"
    meta = json.loads(meta_path.read_text())
    # an edge counter on the audio line: one front per change of the count
    raw = np.load(folder / "_timeline_DAQdata.raw.npy")
    ts = np.load(folder / "_timeline_DAQdata.timestamps.npy")
    raw[:, 1] = np.searchsorted(np.sort(pulses.ravel()), ts, side="right")
    np.save(folder / "_timeline_DAQdata.raw.npy", raw)
    meta["inputs"][1]["measurement"] = "EdgeCount"
    meta_path.write_text(json.dumps(meta))
    assert load_audio_ttls(sp).size == pulses.size
    meta["inputs"][1]["measurement"] = "Position"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(XVideoError, match="Position"):
        load_audio_ttls(sp)
    meta["inputs"] = [x for x in meta["inputs"] if x["name"] != "audio"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(XVideoError, match="no 'audio' input"):
        load_audio_ttls(sp)
    meta_path.unlink()
    assert load_audio_ttls(sp) is None


def test_3a_probe_sync_audio(session):
    """A 3A rig has no nidq board: the audio is on channel 15 of the sync of the probe with the most fronts."""
    sp, times, pulses = session
    main_probe = write_daq_sync(sp, pulses, {"body": times}, probe="probe00")
    write_daq_sync(sp, pulses[:2], {}, probe="probe01")  # a second probe, fewer fronts
    assert not any((sp / "raw_ephys_data").glob("*nidq.meta"))
    np.testing.assert_array_equal(load_audio_ttls(sp, "ephys"), np.sort(pulses.ravel()))
    assert _pin_state(sp) == (QC.PASS, 0, 0)
    # the probe's wiring file moves the audio to another pin of its sync connector
    ch = np.load(main_probe / "_spikeglx_sync.channels.npy")
    np.save(main_probe / "_spikeglx_sync.channels.npy", np.where(ch == 15, 9, ch))
    assert load_audio_ttls(sp, "ephys").size == 0
    (main_probe / "_spikeglx_ephysData_g0_t0.imec.wiring.json").write_text(json.dumps(
        {"SYSTEM": "3A", "SYNC_WIRING_DIGITAL": {"pin12": "audio", "pin03": "left_camera"}}))
    assert load_audio_ttls(sp, "ephys").size == pulses.size


def test_the_rig_data_read_once_equals_the_separate_loaders(tmp_path):
    """load_camera_rig_data (the QC's one read of frameData.bin) gives what the ibllib-shaped loaders give."""
    from ibl_xvideo.demo import camera_times, write_camera_session_files
    from ibl_xvideo.qc import raw

    sp = tmp_path / "lab/Subjects/m/2026-01-01/001"
    (sp / "raw_video_data").mkdir(parents=True)
    write_camera_session_files(sp, "body", camera_times(500, 30, seed=3), seed=3)
    count, pin, bonsai, cam = raw.load_camera_rig_data(sp, "body")
    ref_count, ref_pin = raw.load_embedded_frame_data(sp, "body", raw=True)
    ref_bonsai, ref_cam = raw.load_camera_ssv_times(sp, "body")
    np.testing.assert_array_equal(count, ref_count)
    np.testing.assert_array_equal(pin, ref_pin)
    np.testing.assert_array_equal(bonsai, ref_bonsai)
    np.testing.assert_array_equal(cam, ref_cam)
    assert pin.dtype == bool and pin.shape == (500, 4)
    assert raw.load_camera_rig_data(tmp_path, "left") == (None, None, None, None)  # nothing of the rig's
