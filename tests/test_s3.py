"""s3:// sources against a real S3-compatible server (moto, started on 127.0.0.1 by the tests).

One server is open (a public bucket, read anonymously); the other checks every
request's signature (moto's IAM authentication): its objects read with keys only; wrong keys are a typed error
that never shows them; a changed object is refused; frames equal the local file's.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import ibl_xvideo
from ibl_xvideo import qc
from ibl_xvideo.errors import SourceChangedError
from ibl_xvideo.io import remote, sources
from ibl_xvideo.io.remote import RemoteAuthError, RemoteNotFoundError

from .conftest import SESSION_EID, SESSION_REL, checksums

boto3 = pytest.importorskip("boto3")
pytestmark = pytest.mark.http

ROOT_KEYS = {"aws_access_key_id": "root", "aws_secret_access_key": "root-secret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto(env: dict):
    """A moto S3 server on a free loopback port: (process, endpoint)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=dict(os.environ, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def s3(videos):
    """Two moto S3 servers on loopback: one open to anyone (a public bucket), one enforcing signatures
    after its set-up (a private bucket and a lab user's keys)."""
    open_proc, open_endpoint = _moto({})
    proc, endpoint = _moto({"INITIAL_NO_AUTH_ACTION_COUNT": "5", "AWS_ACCESS_KEY_ID": "root",
                            "AWS_SECRET_ACCESS_KEY": "root-secret"})
    try:
        body = videos["bframes"].read_bytes()
        public = boto3.client("s3", endpoint_url=open_endpoint, region_name="us-east-1", **ROOT_KEYS)
        public.create_bucket(Bucket="ibl-public")
        public.put_object(Bucket="ibl-public", Key="lab/raw_video_data/_iblrig_bodyCamera.raw.mp4", Body=body,
                          ACL="public-read")
        kw = dict(endpoint_url=endpoint, region_name="us-east-1", **ROOT_KEYS)
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="lab")  # the five unauthenticated set-up actions
        keys = iam.create_access_key(UserName="lab")["AccessKey"]
        iam.put_user_policy(UserName="lab", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        root = boto3.client("s3", **kw)
        root.create_bucket(Bucket="ibl-private")
        root.put_object(Bucket="ibl-private", Key="lab/_iblrig_bodyCamera.raw.mp4", Body=body)
        lab = {"key": keys["AccessKeyId"], "secret": keys["SecretAccessKey"], "endpoint_url": endpoint}
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=lab["key"], aws_secret_access_key=lab["secret"])
        yield {"open_endpoint": open_endpoint, "endpoint": endpoint, "lab": lab, "client": client}
    finally:
        for p in (open_proc, proc):
            p.kill()
            p.wait()


PUBLIC = "s3://ibl-public/lab/raw_video_data/_iblrig_bodyCamera.raw.mp4"
PRIVATE = "s3://ibl-private/lab/_iblrig_bodyCamera.raw.mp4"


def test_public_object_anonymously(s3, videos, reference, open_video):
    cam = open_video(PUBLIC, storage_options={"anon": True, "endpoint_url": s3["open_endpoint"]}, timestamps=False)
    assert cam.name == "bodyCamera" and cam.sizes["time"] == len(reference["bframes"])
    wanted = [0, 7, 130, len(reference["bframes"]) - 1]
    assert checksums(cam.isel(time=wanted).values) == checksums(reference["bframes"][wanted])
    assert cam.attrs["source"] == f"{s3['open_endpoint']}/ibl-public/lab/raw_video_data/_iblrig_bodyCamera.raw.mp4"


def test_private_object_with_keys_whole_and_on_workers(s3, reference):
    opts = s3["lab"]
    cam = ibl_xvideo.open_camera(PRIVATE, "body", storage_options=opts, timestamps=False)
    assert checksums(cam.values) == checksums(reference["bframes"])  # every chunk, each request signed
    # the keys travel with the tasks (pickled), and nothing shows them
    data = pickle.loads(pickle.dumps(cam.data))
    assert checksums(np.asarray(data[[3, 4]])) == checksums(reference["bframes"][[3, 4]])
    shown = repr(cam) + repr(cam.attrs) + repr(cam.data.dask)
    assert opts["secret"] not in shown and opts["key"] not in shown
    assert opts["secret"] not in repr(remote.s3_location(PRIVATE, opts)[1])


def test_a_private_object_through_xarray_s_engine(s3, reference):
    import xarray as xr

    ds = xr.open_dataset(PRIVATE, engine="ibl_xvideo", label="body", storage_options=s3["lab"], timestamps=False,
                         chunks={})
    assert checksums(ds["bodyCamera"].isel(time=[0, 5, 9]).values) == checksums(reference["bframes"][[0, 5, 9]])
    assert s3["lab"]["secret"] not in repr(ds) + repr(ds["bodyCamera"].attrs)


@pytest.mark.parametrize("opts, what", [({"anon": True}, "anonymous"), ({"key": None, "secret": "wrong"}, "wrong")])
def test_private_object_refused_typed_and_quiet(s3, opts, what):
    opts = {**s3["lab"], **opts} if what == "wrong" else {**opts, "endpoint_url": s3["endpoint"]}
    if what == "wrong":
        opts["key"] = s3["lab"]["key"]
    with pytest.raises(RemoteAuthError, match="access denied") as info:
        ibl_xvideo.open_camera(PRIVATE, "body", storage_options=opts, timestamps=False)
    assert "wrong" not in str(info.value) and s3["lab"]["secret"] not in str(info.value)
    assert "storage_options" in str(info.value)


def test_missing_object_and_bad_options(s3):
    with pytest.raises(RemoteNotFoundError):
        ibl_xvideo.open_camera("s3://ibl-private/nothing/_iblrig_bodyCamera.raw.mp4", storage_options=s3["lab"],
                               timestamps=False)
    with pytest.raises(ibl_xvideo.errors.InvalidOptionError, match="storage_options for s3:// take"):
        ibl_xvideo.open_camera(PRIVATE, storage_options={"profil": "x"})  # a misspelt option
    with pytest.raises(ibl_xvideo.errors.InvalidOptionError, match="storage_options are for URLs"):
        ibl_xvideo.open_camera("/some/file.mp4", storage_options={"anon": True})
    with pytest.raises(ibl_xvideo.errors.VideoNotFoundError, match="gs:// URLs are not read here.*endpoint_url"):
        ibl_xvideo.open_camera("gs://bucket/_iblrig_bodyCamera.raw.mp4")


def test_changed_object_is_refused(s3, videos, reference):
    """The object is pinned by size and ETag when opened: bytes of a new version are never used."""
    key = "lab/changing/_iblrig_bodyCamera.raw.mp4"
    s3["client"].put_object(Bucket="ibl-private", Key=key, Body=videos["bframes"].read_bytes())
    cam = ibl_xvideo.open_camera(f"s3://ibl-private/{key}", "body", storage_options=s3["lab"], timestamps=False,
                                 chunks=None)
    first = cam.isel(time=0).values
    s3["client"].put_object(Bucket="ibl-private", Key=key, Body=videos["longgop"].read_bytes())
    ibl_xvideo.clear_caches()
    with pytest.raises(SourceChangedError, match="changed on the server"):
        cam.isel(time=len(reference["bframes"]) - 1).values
    assert checksums(first[None]) == checksums(reference["bframes"][:1])


def test_camera_qc_of_an_s3_video(s3):
    res = qc.camera_qc(PRIVATE, "body", storage_options=s3["lab"], n_samples=5, refs=False, kind="ephys",
                       timestamps=np.arange(300) / 30, progress=False, samples="keyframes")
    assert res.location == f"{s3['endpoint']}/ibl-private/lab/_iblrig_bodyCamera.raw.mp4"
    assert res.measures.attrs["samples"] == "keyframes" and res.measures.attrs["frames"] == 300
    assert res.metrics["_videoBody_framerate"][0].name == "PASS"
    assert res.metrics["_videoBody_resolution"].name == "FAIL"  # 320x256 where ephys expects 640x512


def test_an_eid_streamed_from_the_object_store(s3, one, one_cache):
    """An eid of a local ONE cache resolves to its object in ONE's layout (IBL's public bucket by default)."""
    session = one_cache / SESSION_REL
    rel, dataset_id = _listed(one)
    public = sources.dataset_url(one, session, rel, dataset_id, sources.IBL_PUBLIC_BUCKET)
    assert public == (f"s3://ibl-brain-wide-map-public/data/{SESSION_REL}/raw_video_data/"
                      f"_iblrig_bodyCamera.raw.{dataset_id}.mp4")
    key = f"data/{SESSION_REL}/raw_video_data/_iblrig_bodyCamera.raw.{dataset_id}.mp4"
    local = session / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4"
    s3["client"].put_object(Bucket="ibl-private", Key=key, Body=local.read_bytes())
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one, fetch="stream",
                                 storage_options={**s3["lab"], "data_server": "s3://ibl-private/data"})
    assert cam.attrs["source"] == f"{s3['endpoint']}/ibl-private/{key}"
    here = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    assert checksums(cam.values) == checksums(here.values)
    np.testing.assert_array_equal(cam.time.values, here.time.values)  # the session's own timestamps


def _listed(one):
    """(rel_path, dataset id) of the test session's body video, from ONE's datasets table."""
    df = one.list_datasets(SESSION_EID, collection="raw_video_data", details=True)
    row = df[df["rel_path"].str.contains("_iblrig_bodyCamera.raw")]
    did = row.index[0]
    return str(row["rel_path"].iloc[0]), str(did[-1] if isinstance(did, tuple) else did)


def test_batch_qc_of_s3_videos_counts_their_bytes(s3, client):
    """A batch over object storage: each row says how many bytes its camera fetched, as the same QC here does."""
    opts = dict(storage_options=s3["lab"], samples="keyframes", n_samples=5, refs=False, kind="ephys")
    ibl_xvideo.open_camera(PRIVATE, storage_options=s3["lab"], timestamps=False)  # its index cached on disk
    table = qc.batch_qc([PRIVATE], client=client, progress=False, **opts)
    (row,) = table.itertuples()
    assert pd.isna(row.error_type) and row.label == "body" and row.frames == 300
    ibl_xvideo.clear_caches()  # the same reads in this process, from nothing cached but the index
    before = remote.STATS.bytes_by_source()
    res = qc.camera_qc(PRIVATE, progress=False, **opts)
    here = remote.STATS.bytes_by_source().get(res.location, 0) - before.get(res.location, 0)
    assert row.bytes_read == here > 0


def test_keys_from_an_aws_profile(s3, reference, tmp_path, monkeypatch):
    """A named profile in the shared credentials file (AWS_PROFILE, or profile=), as the AWS tools read it;
    anon=True still reads anonymously (and is refused by the private bucket)."""
    lab = s3["lab"]
    creds = tmp_path / "credentials"
    creds.write_text(f"[lab]\naws_access_key_id = {lab['key']}\naws_secret_access_key = {lab['secret']}\n"
                     "[other]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "lab")
    cam = ibl_xvideo.open_camera(PRIVATE, "body", storage_options={"endpoint_url": lab["endpoint_url"]},
                                 timestamps=False)
    assert checksums(cam.isel(time=[0, 5]).values) == checksums(reference["bframes"][[0, 5]])
    monkeypatch.delenv("AWS_PROFILE")
    with pytest.raises(RemoteAuthError):  # the other profile's keys are refused
        ibl_xvideo.open_camera(PRIVATE, "body", storage_options={"profile": "other",
                                                                 "endpoint_url": lab["endpoint_url"]})
    with pytest.raises(RemoteAuthError):  # anonymous, whatever the files hold
        ibl_xvideo.open_camera(PRIVATE, "body", storage_options={"anon": True, "endpoint_url": lab["endpoint_url"]})
    with pytest.raises(ibl_xvideo.errors.InvalidOptionError, match="nobody-here"):
        ibl_xvideo.open_camera(PRIVATE, "body", storage_options={"profile": "nobody-here",
                                                                 "endpoint_url": lab["endpoint_url"]})


def test_keys_from_botocore_s_credential_chain(s3, reference, tmp_path, monkeypatch):
    """Beyond key files: a profile of the config file whose keys come from a credential process (as SSO helpers
    and vaults give them), found by botocore's chain as the AWS tools find it."""
    import json
    import sys

    lab = s3["lab"]
    helper = tmp_path / "keys.py"
    helper.write_text(f"import json; print(json.dumps({{'Version': 1, 'AccessKeyId': {lab['key']!r}, "
                      f"'SecretAccessKey': {lab['secret']!r}}}))\n")
    config = tmp_path / "config"
    config.write_text(f"[profile vault]\ncredential_process = {sys.executable} {helper}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RemoteAuthError):  # no keys anywhere: anonymous, refused by the private bucket
        ibl_xvideo.open_camera(PRIVATE, "body", storage_options={"endpoint_url": lab["endpoint_url"]})
    monkeypatch.setenv("AWS_PROFILE", "vault")
    cam = ibl_xvideo.open_camera(PRIVATE, "body", storage_options={"endpoint_url": lab["endpoint_url"]},
                                 timestamps=False)
    assert checksums(cam.isel(time=[0, 5]).values) == checksums(reference["bframes"][[0, 5]])
    assert lab["secret"] not in repr(cam) + json.dumps(cam.attrs, default=str)


def test_no_key_reaches_any_output(s3, tmp_path, capsys):
    """A camera read with S3 keys: every file written from it (a Zarr export, a clip and its times, a figure, the QC
    as JSON and its figure) and everything printed holds neither the key nor the secret."""
    import importlib.util
    import json

    lab = s3["lab"]
    cam = ibl_xvideo.open_camera(PRIVATE, "body", storage_options=lab, timestamps=False)
    out = tmp_path / "out"
    out.mkdir()
    cam.isel(time=slice(0, 10)).video.to_mp4(out / "clip.mp4", progress=False)
    cam.video.plot(1.0, out=out / "frame.png")
    res = ibl_xvideo.qc.camera_qc(PRIVATE, "body", storage_options=lab, n_samples=5, progress=False)
    (out / "qc.json").write_text(json.dumps(res.to_dict()))
    res.plot(out / "qc.png")
    print(cam, res, cam.attrs)
    if importlib.util.find_spec("zarr") is not None:  # zarr-python 3: Python >= 3.11
        cam.isel(time=slice(0, 30)).video.to_zarr(out / "s.zarr", progress=False)
    printed = capsys.readouterr()
    for secret in (lab["key"], lab["secret"]):
        leaks = [str(p) for p in out.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
        assert not leaks and secret not in printed.out + printed.err, leaks
