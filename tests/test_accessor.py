"""``camera.video``: the accessor gives the same results as the functions it forwards to."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from one.alf.spec import QC

import ibl_xvideo
from ibl_xvideo import qc
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
