"""The IBL stack as users reach it: a real ``one.api.OneAlyx`` in remote mode, over HTTP, none of its files local.

A loopback Alyx (:mod:`tests.alyxserver`) serves the demo session's records and a data
server with basic auth (:class:`tests.httpserver.FileServer`) its files. The camera QC,
the session QC, the report and the command line, given only the eid and that ONE, give
the same outcome for every check as on the session on disk: what the checks read is
fetched through ONE, the videos are streamed (never downloaded). ONE's errors are typed.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo import errors
from ibl_xvideo.cli import main
from ibl_xvideo.demo import DEMO_EID, DEMO_SESSION, build_demo
from ibl_xvideo.qc import camera_qc, session_qc

from .alyxserver import PASSWORD, USER, AlyxServer, Sessions
from .httpserver import PASSWORD as DATA_PASSWORD
from .httpserver import USER as DATA_USER
from .httpserver import FileServer

pytestmark = pytest.mark.http

#: the demo's rig, small: each camera's QC has every input (rig files, DAQ sync, wheel, reference frames)
CAMERAS = {"left": (320, 256, 60, 6.0), "body": (320, 256, 30, 6.0)}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(Alyx URL, data server, the session on disk); ONE's settings in a HOME of their own."""
    tmp = tmp_path_factory.mktemp("alyx")
    home = tmp / "home"
    home.mkdir()
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)  # ONE's settings and token go here, not into the user's
    root = build_demo(tmp / "on_disk", cameras=CAMERAS, progress=False)
    served = tmp / "served"
    served.mkdir()
    data = FileServer(served)
    data_root = data.url("", area="private").rstrip("/")
    alyx = AlyxServer(Sessions(root, {DEMO_EID: DEMO_SESSION}, served, data_root))
    import one.params

    par = (one.params.default().set("ALYX_URL", alyx.url).set("ALYX_LOGIN", USER)
           .set("HTTP_DATA_SERVER", data_root).set("HTTP_DATA_SERVER_LOGIN", DATA_USER)
           .set("HTTP_DATA_SERVER_PWD", DATA_PASSWORD).set("CACHE_DIR", str(tmp / "one_cache")))
    one.params.save(par, alyx.url)
    yield alyx, data, root, tmp
    alyx.close()
    data.close()
    if old_home is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = old_home


@pytest.fixture()
def remote(servers):
    """A fresh remote ONE with an empty cache folder: nothing of the session is on this computer."""
    from one.api import OneAlyx

    alyx, _, _, tmp = servers
    cache = tmp / f"cache{len(list(tmp.glob('cache*')))}"
    return OneAlyx(base_url=alyx.url, username=USER, password=PASSWORD, cache_dir=cache, mode="remote",
                   silent=True)


def _on_disk(servers):
    from one.api import One

    return One(cache_dir=servers[2], mode="local")


def _checks(result) -> dict:
    return {k: (v[0] if isinstance(v, tuple) else v) for k, v in result.metrics.items()}


@pytest.mark.parametrize("label", list(CAMERAS))
def test_remote_camera_qc_equals_the_qc_of_the_session_on_disk(servers, remote, label):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        far = camera_qc(DEMO_EID, label, one=remote, n_samples=10, progress=False)
        near = camera_qc(DEMO_EID, label, one=_on_disk(servers), n_samples=10, progress=False)
    assert far.metrics == near.metrics and far.outcome == near.outcome
    assert far.not_run == near.not_run
    assert _checks(far)[f"_video{label.capitalize()}_pin_state"].name != "NOT_SET"  # the DAQ sync was fetched
    assert _checks(far)[f"_video{label.capitalize()}_dropped_frames"].name != "NOT_SET"  # the rig files too
    assert far.location.startswith("http://127.0.0.1")  # the video streamed...
    assert not list(remote.cache_dir.rglob("*.mp4"))  # ...and never downloaded
    size = (servers[2] / DEMO_SESSION / "raw_video_data" / f"_iblrig_{label}Camera.raw.mp4").stat().st_size
    # what it cost, reported: this small video whole (under a read-ahead's size), each byte once, and the
    # few bytes of the probe that pinned its size and version
    assert size <= far.measures.attrs["bytes_read"] <= size + 16


def test_remote_session_qc_lists_the_cameras_from_one(servers, remote):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = session_qc(DEMO_EID, one=remote, n_samples=8, progress=False)
        near = session_qc(DEMO_EID, one=_on_disk(servers), n_samples=8, progress=False)
    assert list(results) == list(near) == ["left", "body"]
    assert {lb: r.metrics for lb, r in results.items()} == {lb: r.metrics for lb, r in near.items()}


def test_the_command_line_reaches_a_remote_one(servers, remote, capsys, tmp_path):
    alyx = servers[0]
    assert main(["qc", DEMO_EID, "left", "--alyx", alyx.url, "--json", "--n-samples", "8"]) == 0
    printed = json.loads(capsys.readouterr().out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        near = camera_qc(DEMO_EID, "left", one=_on_disk(servers), n_samples=8, progress=False)
    assert printed["outcome"] == near.outcome.name and printed["metrics"] == near.to_dict()["metrics"]
    assert main(["report", DEMO_EID, "--alyx", alyx.url, "-o", str(tmp_path / "r.html"), "--samples-only"]) == 0
    page = (tmp_path / "r.html").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label in CAMERAS:  # each camera's outcome, as on the session on disk (the report's sampling)
            outcome = camera_qc(DEMO_EID, label, one=_on_disk(servers), progress=False).outcome.name
            assert f'<h2>{label} camera: <span class="{outcome}">{outcome}</span></h2>' in page, label
    assert main(["download", DEMO_EID, "body", "--alyx", alyx.url]) == 0
    video = capsys.readouterr().out.strip().splitlines()[-1]
    ref = ibl_xvideo.open_camera(servers[2] / DEMO_SESSION / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4",
                                 timestamps=False, chunks=None)
    assert np.array_equal(ibl_xvideo.open_camera(video, timestamps=False, chunks=None).values, ref.values)


def test_a_streamed_camera_from_a_remote_one_is_exact(servers, remote):
    cam = ibl_xvideo.open_camera(DEMO_EID, "left", one=remote)
    ref = ibl_xvideo.open_camera(DEMO_EID, "left", one=_on_disk(servers))
    picks = [0, 17, 200, 5, 359]
    assert np.array_equal(cam.isel(time=picks).values, ref.isel(time=picks).values)
    np.testing.assert_array_equal(cam.time.values, ref.time.values)


def test_one_s_errors_are_typed_and_keep_passwords_out(servers, tmp_path):
    """A wrong data-server password, a wrong Alyx password, an unknown eid: typed errors, no secret shown."""
    import one.params
    from one.api import OneAlyx

    alyx = servers[0]
    with pytest.raises(Exception) as caught:
        OneAlyx(base_url=alyx.url, username=USER, password="wrong", cache_dir=tmp_path / "c0", mode="remote",
                silent=True)
    assert "wrong" not in str(caught.value)
    par = one.params.get(alyx.url, silent=True)
    one.params.save(par.set("HTTP_DATA_SERVER_PWD", "not-the-password"), alyx.url)
    try:
        bad = OneAlyx(base_url=alyx.url, username=USER, password=PASSWORD, cache_dir=tmp_path / "c1",
                      mode="remote", silent=True)
        with pytest.raises(errors.RemoteError) as exc:
            ibl_xvideo.open_camera(DEMO_EID, "left", one=bad)
        assert "not-the-password" not in str(exc.value) and DATA_PASSWORD not in str(exc.value)
    finally:
        one.params.save(par, alyx.url)
    good = OneAlyx(base_url=alyx.url, username=USER, password=PASSWORD, cache_dir=tmp_path / "c2", mode="remote",
                   silent=True)
    with pytest.raises(errors.SessionNotFoundError):
        ibl_xvideo.open_camera("0c3d1e3a-1111-4b1e-9a44-5d4b2f3a9c01", "left", one=good)


def test_a_batch_over_a_remote_one_equals_the_qc_on_disk(servers, remote, client, tmp_path):
    """qc-batch: the remote ONE travels to the cluster's workers, each fetches what its camera's checks read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = ibl_xvideo.qc.batch_qc([DEMO_EID], one=remote, client=client, n_samples=8, progress=False,
                                       out=tmp_path / "t.parquet")
        near = session_qc(DEMO_EID, one=_on_disk(servers), n_samples=8, progress=False)
    assert sorted(table.label) == sorted(near) and not table.error_type.notna().any(), table.error.tolist()
    for row in table.itertuples():
        assert row.outcome == near[row.label].outcome.name
        assert json.loads(row.metrics) == {k.split("_", 2)[-1]: v
                                           for k, v in near[row.label].to_dict()["metrics"].items()}
    # the command line, with the ONE configured for that Alyx (--alyx), on the same cluster
    import pandas as pd

    out = tmp_path / "cli.parquet"
    assert main(["qc-batch", DEMO_EID, "--alyx", servers[0].url, "-o", str(out), "--n-samples", "8",
                 "--scheduler", client.scheduler.address]) == 0
    cli = pd.read_parquet(out)
    assert dict(zip(cli.label, cli.outcome)) == {label: r.outcome.name for label, r in near.items()}


def _same(a, b) -> bool:
    """Equal metrics: outcomes by name, numbers to float precision, tuples item by item."""
    from one.alf.spec import QC

    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, (QC, str)) or isinstance(b, (QC, str)):
        return QC.validate(a) == QC.validate(b)
    return a == pytest.approx(b, rel=1e-6, abs=1e-9)


@pytest.mark.parity
def test_remote_qc_equals_ibllib_camera_qc_on_the_downloaded_session(servers, remote):
    """Our QC through the remote ONE, check by check, against ibllib's CameraQC on the session on disk.

    Position and focus are left out here: the demo's synthetic scene has reference frames of its own, where
    ibllib's are of real rigs (they are compared on ibllib's frames in tests/test_qc_parity_ibllib.py)."""
    import logging

    camera = pytest.importorskip("ibllib.qc.camera")
    from ibllib.io import raw_data_loaders as raw
    from ibllib.io.extractors import ephys_fpga

    sp, label = servers[2] / DEMO_SESSION, "body"
    theirs = camera.CameraQC(sp, label, one=_on_disk(servers), n_samples=10, stream=False)
    names = ("brightness", "file_headers", "framerate", "pin_state", "dropped_frames", "timestamps", "camera_times",
             "resolution", "wheel_alignment")
    logging.disable(logging.CRITICAL)
    try:  # the inputs CameraQC.load_data reads for an ephys rig (its loader needs ibllib's extractor set-up)
        theirs.load_video_data()
        theirs.data["count"], theirs.data["pin_state"] = raw.load_embedded_frame_data(sp, label, raw=True)
        theirs.data["bonsai_times"], theirs.data["camera_times"] = raw.load_camera_ssv_times(sp, label)
        theirs.data["timestamps"] = np.load(sp / "alf" / f"_ibl_{label}Camera.times.npy")
        sync, chmap = ephys_fpga.get_sync_and_chn_map(sp, "raw_ephys_data")
        theirs.data["audio"] = ephys_fpga.get_sync_fronts(sync, chmap["audio"])["times"]
        theirs._type = "ephys"
        ibllib = {name: getattr(theirs, f"check_{name}")() for name in names}
    finally:
        logging.disable(logging.NOTSET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        far = camera_qc(DEMO_EID, label, one=remote, n_samples=10, progress=False)
    assert not list(remote.cache_dir.rglob("*.mp4"))  # streamed, not downloaded
    for name, value in ibllib.items():
        ours = far.metrics[f"_video{label.capitalize()}_{name}"]
        assert _same(ours, value), (name, ours, value)
    assert ibllib["pin_state"][0].name != "NOT_SET" and ibllib["dropped_frames"][0].name != "NOT_SET"
