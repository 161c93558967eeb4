"""Pose estimates (DLC tables) on the camera's clock, drawn on frames; the demo's match its mouse."""

from __future__ import annotations

import numpy as np
import pytest
from one.api import One

from ibl_xvideo import open_camera
from ibl_xvideo.demo import DEMO_EID, DEMO_SESSION, build_demo
from ibl_xvideo.errors import InvalidOptionError, TimestampsMismatchError, VideoNotFoundError
from ibl_xvideo.pose import load_pose

#: the demo's left and body cameras, small: they film the running bout and the task
CAMERAS = {"left": (320, 256, 60, 30.0), "body": (320, 256, 30, 30.0)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = build_demo(tmp_path_factory.mktemp("pose") / "cache", cameras=CAMERAS, progress=False)
    return root, One(cache_dir=root, mode="local")


def test_the_demo_pose_loads_the_same_every_way(demo):
    root, one = demo
    cam = open_camera(DEMO_EID, "left", one=one)
    by_eid = load_pose(DEMO_EID, "left", one=one)
    by_folder = load_pose(root / DEMO_SESSION, "left")
    by_camera = cam.video.pose()
    assert dict(by_eid.sizes) == {"time": 1800, "keypoints": 9, "space": 2}
    assert {"nose_tip", "paw_l", "paw_r", "tongue_end_r", "pupil_top_r"} <= set(by_eid.keypoints.values)
    for other in (by_folder, by_camera):
        np.testing.assert_array_equal(other.position.values, by_eid.position.values)
    np.testing.assert_array_equal(by_camera.time.values, cam.time.values)  # on the camera's clock
    part = cam.isel(time=slice(100, 200))
    assert part.video.pose().sizes["time"] == 100 and int(part.video.pose().frame[0]) == 100


def test_the_demo_pose_is_where_the_mouse_is_drawn(demo):
    _, one = demo
    cam = open_camera(DEMO_EID, "left", one=one)
    pose = cam.video.pose()
    frames = cam.isel(time=slice(0, 1800, 37)).values
    at = pose.isel(time=slice(0, 1800, 37))
    for name in ("paw_l", "paw_r"):  # the paws: bright ellipses on the dark wheel
        xy = np.round(at.position.sel(keypoints=name).values).astype(int)
        assert np.median(frames[np.arange(len(xy)), xy[:, 1], xy[:, 0]]) > 140
    pupil = at.position.sel(keypoints=["pupil_top_r", "pupil_bottom_r", "pupil_left_r", "pupil_right_r"])
    centre = np.round(pupil.mean("keypoints").values).astype(int)  # inside the dark pupil
    assert np.median(frames[np.arange(len(centre)), centre[:, 1], centre[:, 0]]) < 40
    licks = pose.likelihood.sel(keypoints="tongue_end_r").values > 0.9
    assert 0 < licks.mean() < 0.2  # the tongue is out, and sure, only during licks after rewards


def test_pose_errors_are_typed(demo, tmp_path):
    root, one = demo
    with pytest.raises(VideoNotFoundError, match="right camera"):
        load_pose(DEMO_EID, "right", one=one)
    with pytest.raises(VideoNotFoundError, match="No DLC output"):
        load_pose(tmp_path, "left")
    body = open_camera(DEMO_EID, "body", one=one)
    with pytest.raises(TimestampsMismatchError, match="900 rows"):
        load_pose(root / DEMO_SESSION, "body", camera=open_camera(DEMO_EID, "left", one=one))
    with pytest.raises(InvalidOptionError, match="uncropped"):
        body.isel(y=slice(0, 100)).video.plot(20.0, pose=body.video.pose())


def test_frames_and_montages_with_their_pose(demo, tmp_path):
    pytest.importorskip("matplotlib")
    _, one = demo
    cam = open_camera(DEMO_EID, "left", one=one)
    pose = cam.video.pose()
    fig = cam.video.plot(20.0, pose=pose, out=tmp_path / "f.png")
    assert "frame 450" in fig.axes[0].get_title() and len(fig.axes[0].collections[0].get_offsets()) >= 8
    fig = cam.video.montage([14.0, 20.0, 26.0], pose=pose, ncols=2, out=tmp_path / "m.png")
    assert len(fig.axes) == 4 and (tmp_path / "m.png").exists()
    for ax, t in zip(fig.axes, (14.0, 20.0, 26.0)):  # each panel: the frame at its time, titled with it
        frame = cam.video.frame_at(t)
        assert ax.get_title().startswith(f"frame {int(frame.frame)},")
        np.testing.assert_array_equal(ax.images[0].get_array(), frame.values)
        assert len(ax.collections[0].get_offsets()) >= 8  # the pose's sure points on it


def test_a_clip_is_the_frames_of_its_time_range_with_their_times(demo, tmp_path):
    _, one = demo
    cam = open_camera(DEMO_EID, "left", one=one)
    part = cam.sel(time=slice(20.0, 21.0))
    plain = cam.video.to_mp4(tmp_path / "plain.mp4", time=slice(20.0, 21.0), roi="10:200,20:300", progress=False)
    clip = open_camera(plain, chunks=None)
    assert clip.shape == (part.sizes["time"], 190, 280)
    np.testing.assert_array_equal(np.load(tmp_path / "plain.times.npy"), part.time.values)
    diff = np.abs(clip.values.astype(int) - part.isel(y=slice(10, 200), x=slice(20, 300)).values)
    assert diff.mean() < 2  # crf 18: visually lossless
    # the time and the sure pose points burned in, where the points are
    marked = cam.video.to_mp4(tmp_path / "marked.mp4", time=slice(20.0, 21.0), pose=cam.video.pose(),
                              burn_time=True, progress=False)
    burned = open_camera(marked, chunks=None).values.astype(int)
    paw = np.round(cam.video.pose().position.sel(keypoints="paw_l", time=part.time).values).astype(int)
    k = np.arange(len(paw))
    assert np.abs(burned[k, paw[:, 1], paw[:, 0]] - part.values[k, paw[:, 1], paw[:, 0]]).mean() > 20
    assert np.abs(burned[:, 3:12, 3:100] - part.values[:, 3:12, 3:100]).mean() > 20  # the time, top left


def test_the_pose_of_a_peri_event_stack(demo, tmp_path):
    """Each (event, lag) gets its frame's pose; frames outside the video get none; the figure draws them."""
    from ibl_xvideo.events import peri_event_pose, plot_peri_event

    _, one = demo
    cam = open_camera(DEMO_EID, "left", one=one)
    pose = cam.video.pose()
    events = np.array([0.05, 14.0, 20.0, cam.time.values[-1]])  # the first and last reach outside the video
    stack = cam.video.peri_event(events, (-0.2, 0.3))
    at = peri_event_pose(pose, stack)
    assert dict(at.position.sizes) == {"event": 4, "lag": stack.sizes["lag"], "keypoints": 9, "space": 2}
    valid = stack.valid.values
    assert not valid.all() and np.isnan(at.position.values[~valid]).all() and (at.likelihood.values[~valid] == 0).all()
    e, g = np.argwhere(valid)[len(np.argwhere(valid)) // 2]
    frame = int(stack.frame[e, g])
    np.testing.assert_array_equal(at.position.values[e, g], pose.position.values[frame])
    # the paws at the stack's own frames are on the bright paws of its pictures
    paws = at.position.sel(keypoints="paw_r").values[valid].round().astype(int)
    pixels = stack.values[valid][np.arange(len(paws)), paws[:, 1], paws[:, 0]]
    assert np.median(pixels) > 140
    pytest.importorskip("matplotlib")
    fig = plot_peri_event(stack, tmp_path / "pe.png", n_lags=4, pose=pose)
    assert sum(len(ax.collections) for ax in fig.axes[:4]) >= 4 * 8  # dots and a median for each sure point
    with pytest.raises(InvalidOptionError, match="uncropped"):
        plot_peri_event(cam.isel(x=slice(0, 100)).video.peri_event(events, (-0.2, 0.3)), pose=pose)


def test_the_demo_pose_goes_through_movement_as_it_is(demo):
    """movement's own validator accepts the dataset, its confidence filter and kinematics run on it.

    Skipped without movement, but where CI installs it (IBL_XVIDEO_REQUIRE_MOVEMENT=1)."""
    import importlib
    import os

    if os.environ.get("IBL_XVIDEO_REQUIRE_MOVEMENT") == "1":
        movement = importlib.import_module("movement")
    else:
        movement = pytest.importorskip("movement")
    from movement.filtering import filter_by_confidence
    from movement.kinematics import compute_speed, compute_velocity
    from movement.validators.datasets import ValidPosesInputs

    root, one = demo
    cam = open_camera(DEMO_EID, "left", one=one)
    ds = load_pose(DEMO_EID, "left", one=one, camera=cam, movement=True)
    ValidPosesInputs.validate(ds)  # movement's check of a poses dataset: variables and dims
    assert ds.attrs["ds_type"] == "poses" and ds.attrs["fps"] == cam.attrs["fps"]
    _, _, kp, ind = ValidPosesInputs.DIM_NAMES
    assert dict(ds.position.sizes) == {"time": 1800, "space": 2, kp: 9, ind: 1}
    np.testing.assert_array_equal(ds.time.values, cam.time.values)  # the session clock
    sure = filter_by_confidence(ds.position, ds.confidence, threshold=0.9)
    assert np.isnan(sure.values).any() and not np.isnan(sure.sel({kp: "nose_tip"}).values).all()
    velocity = compute_velocity(sure)
    speed = compute_speed(sure.sel({kp: "paw_r"}))
    assert velocity.dims == sure.dims and np.nanmax(speed.values) > 0
    plain = load_pose(DEMO_EID, "left", one=one, camera=cam)
    np.testing.assert_array_equal(ds.position.sel({ind: "mouse"}).transpose("time", kp, "space").values,
                                  plain.position.values)
    assert movement.__name__ == "movement"
