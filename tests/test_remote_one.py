"""Sessions whose video is not on this computer: streamed from the data server, or downloaded."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo import errors
from ibl_xvideo.cli import main
from ibl_xvideo.demo import make_one_cache

from .conftest import checksums, make_camera
from .httpserver import FileServer

pytestmark = pytest.mark.http

REL = "churchlandlab/Subjects/CSHL_001/2021-02-03/002"
EID = "bbbbbbbb-1111-4222-8333-555555555555"


@pytest.fixture(scope="module")
def remote_session(tmp_path_factory):
    """A ONE cache listing a body video that lives only on a data server (ONE's URL layout)."""
    root = tmp_path_factory.mktemp("one_remote")
    sp = root / REL
    video = make_camera(sp, "body", 120)
    make_one_cache(root, {REL: EID})
    from one.api import One

    one = One(cache_dir=root, mode="local")
    did = one.list_datasets(EID, details=True, collection="raw_video_data")
    did = [i for i, r in zip(did.index, did.rel_path) if r.endswith("bodyCamera.raw.mp4")][0]
    served = tmp_path_factory.mktemp("data_server")
    target = served / REL / "raw_video_data" / f"_iblrig_bodyCamera.raw.{did}.mp4"
    target.parent.mkdir(parents=True)
    reference = tmp_path_factory.mktemp("reference") / "body.mp4"
    shutil.copy(video, reference)
    shutil.move(video, target)  # the local copy is gone: only the server has it
    srv = FileServer(served)
    yield one, srv.url("").rstrip("/"), reference, sp
    srv.close()


def test_eid_without_local_copy_streams(remote_session):
    one, server, reference, _ = remote_session
    cam = ibl_xvideo.open_camera(EID, "body", one=one, storage_options={"data_server": server})
    assert cam.attrs["source"].startswith("http://127.0.0.1") and cam.attrs["eid"] == EID
    assert cam.attrs["timestamps"] == "alf"
    ref = ibl_xvideo.open_camera(reference, chunks=None).values
    assert checksums(cam.values) == checksums(ref)


def test_no_local_copy_and_no_server(remote_session):
    one, _, _, _ = remote_session
    with pytest.raises(errors.VideoNotFoundError, match="data_server"):
        ibl_xvideo.open_camera(EID, "body", one=one)
    with pytest.raises(errors.VideoNotFoundError, match="fetch='download'"):
        ibl_xvideo.open_camera(EID, "body", one=one, fetch="local",
                               storage_options={"data_server": "http://127.0.0.1:9/x"})
    with pytest.warns(FutureWarning, match="fetch='local'"):  # the options of earlier releases still work
        with pytest.raises(errors.VideoNotFoundError, match="fetch='download'"):
            ibl_xvideo.open_camera(EID, "body", one=one, stream=False, data_server="http://127.0.0.1:9/x")


def test_download_then_local(remote_session, capsys):
    one, server, reference, sp = remote_session
    local = sp / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4"
    assert not local.exists()
    assert main(["download", EID, "body", "--one-cache", str(one.cache_dir), "--data-server", server]) == 0
    assert local.exists() and local.read_bytes() == reference.read_bytes()
    cam = ibl_xvideo.open_camera(EID, "body", one=one)
    assert cam.attrs["source"] == str(local)
    assert np.array_equal(cam.isel(time=[0, 60, 119]).values,
                          ibl_xvideo.open_camera(reference, chunks=None).isel(time=[0, 60, 119]).values)
    local.unlink()  # leave the session as the other tests expect it


def test_remote_one_builds_the_url_and_credentials(remote_session, tmp_path, monkeypatch):
    """A real ``OneAlyx`` (local mode, no Alyx query): the URL from ``one.path2url``, auth from its parameters."""
    from one.api import OneAlyx

    from .httpserver import PASSWORD, USER

    one, server, reference, _ = remote_session
    monkeypatch.setenv("HOME", str(tmp_path))  # ONE writes its parameter file there, not in the user's home
    remote = OneAlyx(base_url="http://127.0.0.1:9", mode="local", cache_dir=one.cache_dir, silent=True)
    private = server.rsplit("/", 1)[0] + "/private"  # the same files behind basic auth
    remote.alyx._par = remote.alyx._par.set("HTTP_DATA_SERVER", private)
    with pytest.raises(errors.XVideoError, match="401|credentials|auth"):
        ibl_xvideo.open_camera(EID, "body", one=remote).values
    remote.alyx._par = remote.alyx._par.set("HTTP_DATA_SERVER_LOGIN", USER).set("HTTP_DATA_SERVER_PWD", PASSWORD)
    cam = ibl_xvideo.open_camera(EID, "body", one=remote)
    assert cam.attrs["source"].startswith(private) and PASSWORD not in repr(cam.attrs)
    assert checksums(cam.values) == checksums(ibl_xvideo.open_camera(reference, chunks=None).values)
    # ibllib's get_video_meta(url, one=): the credentials come from that ONE
    from ibl_xvideo import compat

    assert compat.get_video_meta(cam.attrs["source"], one=remote)["length"] == cam.sizes["time"]
