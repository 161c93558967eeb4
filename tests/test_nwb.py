"""IBL cameras in NWB: an external-mode ImageSeries (as IBL's conversion writes them) opens as the camera, and a
camera written with ``to_nwb`` passes nwbinspector and reopens as itself, frame for frame."""

from __future__ import annotations

import datetime
import shutil

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo import errors

from .conftest import checksums

pynwb = pytest.importorskip("pynwb")


def _write_nwb(path, series):
    nwbfile = pynwb.NWBFile(session_description="an IBL session", identifier="x-1",
                            session_start_time=datetime.datetime(2020, 9, 21, tzinfo=datetime.timezone.utc),
                            session_id="4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a")
    for s in series:
        nwbfile.add_acquisition(s)
    with pynwb.NWBHDF5IO(str(path), mode="w") as io:
        io.write(nwbfile)
    return path


def _series(name, video, **kw):
    return pynwb.image.ImageSeries(name=name, description="video", external_file=[video], format="external",
                                   starting_frame=[0], unit="n.a.", **kw)


@pytest.fixture()
def dandi_like(videos, tmp_path):
    """A session's NWB file and its two cameras' videos beside it, as on DANDI."""
    shutil.copy(videos["bframes"], tmp_path / "body.mp4")
    shutil.copy(videos["mono"], tmp_path / "left.mp4")
    body_times = 1000.0 + np.arange(300) / 30 + np.random.default_rng(0).normal(0, 1e-4, 300)
    left_times = 50.0 + np.arange(200) / 60
    path = _write_nwb(tmp_path / "sub-x_ses-y_behavior+image.nwb", [
        _series("OriginalVideoBodyCamera", "body.mp4", timestamps=body_times),
        _series("OriginalVideoLeftCamera", "left.mp4", timestamps=left_times)])
    return path, body_times


def test_an_external_image_series_opens_as_the_camera(dandi_like, videos):
    path, body_times = dandi_like
    cam = ibl_xvideo.open_camera(path, "body")
    ref = ibl_xvideo.open_camera(videos["bframes"], timestamps=False)
    assert cam.shape == ref.shape and checksums(cam.values) == checksums(ref.values)
    np.testing.assert_array_equal(cam.time.values, body_times)
    assert cam.attrs["eid"] == "4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a" and cam.attrs["timestamps"] == "nwb"
    left = ibl_xvideo.open_camera(path, "left", chunks=None)
    assert left.sizes["time"] == 200 and float(left.time[0]) == 50.0
    ds = ibl_xvideo.open_camera(path, "body").sel(time=1005.0, method="nearest")
    assert int(ds.frame) == 150


def test_nwb_errors_are_typed(dandi_like, videos, tmp_path):
    path, _ = dandi_like
    with pytest.raises(errors.InvalidLabelError, match="OriginalVideoBodyCamera"):
        ibl_xvideo.open_camera(path)  # two cameras: which?
    with pytest.raises(errors.VideoNotFoundError, match="right"):
        ibl_xvideo.open_camera(path, "right")
    (path.parent / "left.mp4").unlink()
    with pytest.raises(errors.VideoNotFoundError, match="left.mp4"):
        ibl_xvideo.open_camera(path, "left")
    short = _write_nwb(tmp_path / "short.nwb", [_series("OriginalVideoBodyCamera", "body.mp4",
                                                        timestamps=np.arange(299) / 30)])
    with pytest.raises(errors.TimestampsMismatchError, match="299 timestamps but 300 frames"):
        ibl_xvideo.open_camera(short, "body")
    inside = pynwb.image.ImageSeries(name="OriginalVideoBodyCamera", description="in the file",
                                     data=np.zeros((3, 8, 8), np.uint8), unit="n.a.", rate=30.0)
    with pytest.raises(errors.VideoNotFoundError, match="stores its frames in the file"):
        ibl_xvideo.open_camera(_write_nwb(tmp_path / "inside.nwb", [inside]), "body")


def test_a_series_with_a_rate_is_timed_by_it(videos, tmp_path):
    shutil.copy(videos["bframes"], tmp_path / "v.mp4")
    path = _write_nwb(tmp_path / "rate.nwb", [_series("OriginalVideoBodyCamera", "v.mp4", rate=30.0,
                                                      starting_time=12.0, num_samples=300)])
    cam = ibl_xvideo.open_camera(path, "body")
    np.testing.assert_allclose(cam.time.values, 12.0 + np.arange(300) / 30)


def test_to_nwb_passes_nwbinspector_and_reopens_as_the_camera(videos, tmp_path):
    nwbinspector = pytest.importorskip("nwbinspector")
    src = tmp_path / "src" / "_iblrig_bodyCamera.raw.mp4"
    src.parent.mkdir()
    shutil.copy(videos["bframes"], src)
    times = 3.0 + np.arange(300) / 30
    cam = ibl_xvideo.open_camera(src, "body", timestamps=times)
    (tmp_path / "out").mkdir()
    out = cam.video.to_nwb(tmp_path / "out" / "session.nwb")
    assert (tmp_path / "out" / src.name).is_file()  # the video copied beside it, referred to by its name
    problems = [m for m in nwbinspector.inspect_nwbfile(nwbfile_path=str(out))
                if m.importance.name in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")]
    assert not problems, problems
    again = ibl_xvideo.open_camera(out, "body")
    assert checksums(again.values) == checksums(cam.values)
    np.testing.assert_array_equal(again.time.values, times)
    with pytest.raises(errors.XVideoError, match="whole camera"):
        cam.isel(x=slice(0, 10)).video.to_nwb(tmp_path / "out" / "crop.nwb")


def test_the_nwb_command_writes_each_camera_of_a_session(one, tmp_path, capsys):
    pytest.importorskip("nwbinspector")
    from ibl_xvideo.cli import main

    from .conftest import SESSION_EID

    assert main(["nwb", SESSION_EID, "--one-cache", str(one.cache_dir), "-o", str(tmp_path / "out")]) == 0
    for label in ("body", "left"):
        path = tmp_path / "out" / f"{label}Camera.nwb"
        again = ibl_xvideo.open_camera(path, label)
        ref = ibl_xvideo.open_camera(SESSION_EID, label, one=one)
        assert checksums(again.values) == checksums(ref.values)
        np.testing.assert_array_equal(again.time.values, ref.time.values)
    assert "bodyCamera.nwb" in capsys.readouterr().out


def test_the_pose_goes_into_the_nwb_file_with_ndx_pose(tmp_path):
    """The demo's DLC pose beside its camera: one PoseEstimationSeries a keypoint on the video's timestamps."""
    pytest.importorskip("ndx_pose")
    nwbinspector = pytest.importorskip("nwbinspector")
    from one.api import One

    from ibl_xvideo.demo import DEMO_EID, build_demo

    root = build_demo(tmp_path / "demo", cameras={"left": (320, 256, 60, 4.0)}, progress=False)
    one = One(cache_dir=root, mode="local")
    cam = ibl_xvideo.open_camera(DEMO_EID, "left", one=one)
    pose = cam.video.pose()
    out = cam.video.to_nwb(tmp_path / "left.nwb", pose=pose)
    problems = [m for m in nwbinspector.inspect_nwbfile(nwbfile_path=str(out))
                if m.importance.name in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")]
    assert not problems, problems
    with pynwb.NWBHDF5IO(str(out), mode="r", load_namespaces=True) as io:
        f = io.read()
        est = f.processing["behavior"]["PoseEstimationLeftCamera"]
        nose = est.pose_estimation_series["nose_tip"]
        np.testing.assert_array_equal(nose.data[:], pose.position.sel(keypoints="nose_tip").values)
        np.testing.assert_array_equal(nose.timestamps[:], cam.time.values)
        assert sorted(est.pose_estimation_series) == sorted(pose.keypoints.values.tolist())
    with pytest.raises(errors.XVideoError, match="camera's times"):
        cam.video.to_nwb(tmp_path / "bad.nwb", pose=pose.isel(time=slice(0, 10)))
