"""``camera.video``: the accessor gives the same results as the functions it forwards to."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from one.alf.spec import QC

import ibl_xvideo
from ibl_xvideo import errors, qc
from ibl_xvideo.errors import XVideoError

from .conftest import SESSION_EID, checksums, needs_zarr


def test_meta_brightness_motion(one):
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one, chunks=30)
    assert cam.video.meta == ibl_xvideo.video_meta(SESSION_EID, "body", one=one)
    b = cam.video.brightness()
    assert b.name == "brightness" and b.sizes == {"time": cam.sizes["time"]}
    np.testing.assert_allclose(b.values, qc.frame_brightness(cam.values, "body"))
    e, s = cam.video.motion_energy()
    e2, s2 = qc.motion_energy(cam.values)
    np.testing.assert_allclose(np.asarray(e), np.asarray(e2))


@needs_zarr
def test_to_zarr_through_the_accessor(one, tmp_path):
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    store = cam.video.to_zarr(tmp_path / "b.zarr", progress=False)
    assert checksums(ibl_xvideo.open_store(store).values) == checksums(cam.values)


def test_qc_through_the_accessor(one):
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    with warnings.catch_warnings():  # no reference frames unless ibllib is installed
        warnings.simplefilter("ignore")
        ours = cam.video.qc(n_samples=10, kind="ephys", progress=False)
        ref = qc.camera_qc(SESSION_EID, "body", one=one, n_samples=10, kind="ephys", progress=False)
    assert ours.metrics == ref.metrics and ours.outcome == ref.outcome != QC.NOT_SET
    with pytest.raises(XVideoError, match="whole video"):
        cam.isel(time=slice(10, 20)).video.qc()
    with pytest.raises(XVideoError, match="whole video"):
        cam.isel(x=slice(0, 100)).video.qc()


def test_progress_shows_one_tqdm_bar_for_a_whole_video_reduction(videos, capsys):
    cam = ibl_xvideo.open_camera(videos["bframes"], chunks=60)
    with ibl_xvideo.progress("brightness"):
        out = cam.mean(("y", "x")).compute()
    err = capsys.readouterr().err
    assert out.sizes["time"] == 300
    assert "brightness" in err and "100%" in err and "[#" not in err  # tqdm's bar, not Dask's
    with ibl_xvideo.progress("quiet", disable=True):
        cam.max(("y", "x")).compute()
    assert "quiet" not in capsys.readouterr().err


def test_frame_at_a_session_time_refuses_times_outside_the_camera(one):
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    t = cam.time.values
    f = cam.video.frame_at(float(t[40]) + 0.001)
    assert int(f.frame) == 40 and f.shape == (256, 320)
    assert int(cam.video.frame_at(float(t[-1]) + 0.5 / cam.attrs["fps"]).frame) == len(t) - 1  # half a frame past
    for outside in (float(t[0]) - 1.0, float(t[-1]) + 3600):
        with pytest.raises(errors.TimeOutOfRangeError, match=r"outside the body camera's times \(.* session clock\)"):
            cam.video.frame_at(outside)
    with pytest.raises(KeyError):  # a KeyError, as xarray's own selection errors
        cam.video.frame_at(float(t[-1]) + 3600)


def test_the_backend_opens_a_session_as_a_datatree(one_cache, videos):
    import xarray as xr

    from ibl_xvideo.xarray_plugin import VideoBackendEntrypoint

    from .conftest import SESSION_REL

    session = one_cache / SESSION_REL
    tree = xr.open_datatree(session, engine="ibl_xvideo")
    assert "body" in tree.children and tree["body"]["bodyCamera"].dims == ("time", "y", "x")
    frame = tree["body"]["bodyCamera"].isel(time=3).values
    np.testing.assert_array_equal(frame, ibl_xvideo.open_camera(session, "body").isel(time=3).values)
    guess = VideoBackendEntrypoint().guess_can_open
    assert guess(session) and guess(session / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4")
    assert not guess(session / "alf") and not guess(object())
    # drop_variables drops from every camera's node
    dropped = xr.open_datatree(session, engine="ibl_xvideo", drop_variables=["frame"])
    assert "frame" not in dropped["body"].coords and dropped.attrs == tree.attrs
