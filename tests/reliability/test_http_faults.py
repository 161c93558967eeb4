"""A hostile HTTP server: every streamed read gives the local file's frames exactly, or a typed error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.engine.decode import clear_caches
from ibl_xvideo.io import remote

from ..httpserver import FileServer
from .cases import failure, record

pytestmark = [pytest.mark.reliability, pytest.mark.http]


@pytest.fixture(scope="module")
def server(videos, tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    shutil.copy(videos["bframes"], root / "v.mp4")
    srv = FileServer(root, slow_seconds=3.0)
    yield srv, root
    srv.close()


@pytest.mark.parametrize("kind, expect", [
    ("drop", "exact"), ("500", "exact"), ("slow", "exact"),  # retried
    ("always500", "typed"), ("norange", "typed"),  # no way to read it
    ("changed", "typed"),  # replaced on the server between two reads
])
def test_a_hostile_server_gives_exact_frames_or_a_typed_error(server, videos, kind, expect):
    srv, root = server
    clear_caches()
    ref = ibl_xvideo.open_camera(videos["bframes"], chunks=None).values
    area = "files" if kind == "changed" else f"fault/{kind}"
    try:
        cam = ibl_xvideo.open_camera(srv.url("v.mp4", area=area), chunks=None,
                                     storage_options={"timeout": (2.0, 1.0), "backoff": 0.01, "retries": 2})
        got = cam.isel(time=slice(0, 100)).values
        if kind == "changed":  # another recording of the same size, with a new mtime
            data = bytearray((root / "v.mp4").read_bytes())
            data[len(data) // 2:len(data) // 2 + 1000] = bytes(1000)
            (root / "v.mp4").write_bytes(bytes(data))
            clear_caches()
        got = np.concatenate([got, cam.isel(time=slice(100, None)).values])
        observed = "exact frames" if np.array_equal(got, ref) else "wrong frames"
    except Exception as exc:  # noqa: BLE001 - typed or not, the table says which
        observed = failure(exc)
    finally:
        shutil.copy(videos["bframes"], root / "v.mp4")
    ok = observed.startswith(expect)
    record("HTTP server", kind, f"{expect} frames" if expect == "exact" else "a typed error", observed, ok)
    assert ok, observed


def test_a_failed_response_is_drained_before_its_connection_is_reused(server, videos):
    """Every second request answered 503 with a body, on keep-alive connections: each retry is a new request
    that reads its own answer, so the whole video comes back exact with one retry per 503."""
    srv, _ = server
    clear_caches()
    ref = ibl_xvideo.open_camera(videos["bframes"], chunks=None).values
    before = remote.STATS.retries
    try:
        # one retry a block is enough when retries work
        got = ibl_xvideo.open_camera(srv.url("v.mp4", area="fault/alt503"), chunks=None,
                                     storage_options={"backoff": 0.0, "retries": 1}).values
        observed = "exact frames" if np.array_equal(got, ref) else "wrong frames"
    except Exception as exc:  # noqa: BLE001
        observed = failure(exc)
    record("HTTP server", "503 on every second request", "exact frames", observed, observed == "exact frames")
    assert observed == "exact frames"
    assert remote.STATS.retries - before >= 1
