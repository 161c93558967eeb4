"""Streaming over HTTP from a real server on 127.0.0.1: exactness, auth, faults, bytes."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo import errors
from ibl_xvideo.engine.decode import clear_caches
from ibl_xvideo.io import remote
from ibl_xvideo.io.container import as_source

from .conftest import checksums, frame_numbers, needs_zarr
from .httpserver import PASSWORD, FileServer
from .test_exactness import _patterns

pytestmark = pytest.mark.http


@pytest.fixture(scope="module")
def server(videos):
    srv = FileServer(next(iter(videos.values())).parent, slow_seconds=3.0)
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def _fresh():
    clear_caches()
    yield


@pytest.mark.parametrize("chunks", [None, "auto", 7])
@pytest.mark.parametrize("name", ["bframes", "longgop", "offset"])
def test_streamed_frames_equal_local_for_every_pattern(server, videos, name, chunks, open_video):
    local = ibl_xvideo.open_camera(videos[name], chunks=None)
    ref = local.values
    cam = open_video(server.url(f"{name}.mp4"), chunks=chunks)
    assert cam.shape == ref.shape and cam.attrs["source"] == server.url(f"{name}.mp4")
    n = ref.shape[0]
    for pname, pat in _patterns(n, cam.attrs["fps"], float(cam.time[0])).items():
        if "isel" in pat:
            got, idx = cam.isel(time=pat["isel"]).values, np.arange(n)[pat["isel"]]
        else:
            sub = cam.sel(time=pat["sel"], method="nearest")
            got, idx = sub.values, sub.frame.values
        assert checksums(got.reshape((-1,) + ref.shape[1:])) == checksums(
            ref[idx].reshape((-1,) + ref.shape[1:])), (name, chunks, pname)


def test_only_needed_bytes_are_fetched(server, video_dir):
    from ibl_xvideo.demo.synth import make_video

    big = make_video(video_dir / "big.mp4", 1500, width=320, height=256, noise=8, gop=250)
    size = big.stat().st_size
    remote.STATS.reset()
    index = ibl_xvideo.get_index(server.url("big.mp4"))
    assert remote.STATS.bytes < size / 4  # the index comes from the container's tables
    remote.STATS.reset()
    cam = ibl_xvideo.open_camera(server.url("big.mp4"), chunks=None)
    assert frame_numbers(cam.isel(time=[760]).values) == [760]
    # one frame: its keyframe group (1/6 of the file) and a few blocks around it
    assert remote.STATS.bytes < size / 2, (remote.STATS.bytes, size, index.length)


def test_basic_auth_and_credentials_never_shown(server, tmp_path):
    url = server.url("mono.mp4", area="private", auth=True)
    cam = ibl_xvideo.open_camera(url, chunks=None)
    assert frame_numbers(cam.isel(time=[3, 150]).values) == [3, 150]
    text = repr(cam) + str(cam.attrs) + repr(ibl_xvideo.get_index(url))
    assert PASSWORD not in text and "alyx" not in text
    # credentials travel with the tasks (workers need them) but are not in the attrs
    assert pickle.loads(pickle.dumps(cam)).isel(time=1).values.shape == (256, 320)
    bare = server.url("mono.mp4", area="private")
    assert cam.attrs["source"] == bare
    # the camera reads its file as it was opened: its metadata too, from the bare URL in its attrs
    assert cam.video.meta["length"] == cam.sizes["time"]
    # but credentials that opened a URL once are not remembered by the process for anyone else
    with pytest.raises(remote.RemoteAuthError, match="401") as info:
        ibl_xvideo.open_camera(bare)
    assert PASSWORD not in str(info.value)
    with pytest.raises(remote.RemoteAuthError) as info:
        ibl_xvideo.open_camera(bare.replace("http://", "http://alyx:wrong@"))
    assert "wrong" not in str(info.value)
    cam = ibl_xvideo.open_camera(bare, storage_options={"username": "alyx", "password": PASSWORD}, chunks=None)
    assert frame_numbers(cam.isel(time=[7]).values) == [7]
    with pytest.warns(FutureWarning, match="storage_options"):  # the option of earlier releases still works
        cam = ibl_xvideo.open_camera(bare, auth=("alyx", PASSWORD), chunks=None)
    assert frame_numbers(cam.isel(time=[8]).values) == [8]


def test_a_url_through_xarray_s_engine_with_credentials(server, videos):
    import xarray as xr

    url = server.url("mono.mp4", area="private")
    ds = xr.open_dataset(url, engine="ibl_xvideo", storage_options={"auth": ("alyx", PASSWORD)}, timestamps=False)
    local = ibl_xvideo.open_camera(videos["mono"], timestamps=False, chunks=None)
    assert np.array_equal(ds[local.name].isel(time=[0, 77, 150]).values, local.isel(time=[0, 77, 150]).values)
    assert PASSWORD not in repr(ds) + repr(ds[local.name].attrs)
    with pytest.raises(remote.RemoteAuthError):
        xr.open_dataset(url, engine="ibl_xvideo", timestamps=False)  # no credentials: refused, typed


@needs_zarr
def test_credentials_are_not_written_to_a_store(server, tmp_path):
    url = server.url("mono.mp4", area="private", auth=True)
    store = tmp_path / "c.zarr"
    ibl_xvideo.to_zarr(ibl_xvideo.open_camera(url), store, progress=False)
    meta = "".join(p.read_text() for p in store.rglob("zarr.json"))
    assert "mono.mp4" in meta and PASSWORD not in meta


def test_redirect_is_followed(server, videos):
    cam = ibl_xvideo.open_camera(server.url("mono.mp4", area="redirect"), chunks=None)
    ref = ibl_xvideo.open_camera(videos["mono"], chunks=None)
    assert np.array_equal(cam.isel(time=[0, 99]).values, ref.isel(time=[0, 99]).values)


def test_not_found(server):
    with pytest.raises(remote.RemoteNotFoundError, match="404") as info:
        ibl_xvideo.open_camera(server.url("nope.mp4"))
    assert isinstance(info.value, errors.VideoNotFoundError)


@pytest.mark.parametrize("kind", ["drop", "500", "slow"])
def test_faults_end_in_identical_pixels(server, videos, kind):
    ref = ibl_xvideo.open_camera(videos["bframes"], chunks=None).values
    remote.STATS.reset()
    cam = ibl_xvideo.open_camera(server.url("bframes.mp4", area=f"fault/{kind}"), chunks=None,
                                 storage_options={"timeout": (2.0, 1.0), "backoff": 0.01})
    assert checksums(cam.values) == checksums(ref)
    assert remote.STATS.retries >= 1  # the fault did happen and was retried


def test_persistent_failure_raises_typed_error(server):
    with pytest.raises(errors.RemoteError, match="after|no answer"):
        ibl_xvideo.open_camera(server.url("bframes.mp4", area="fault/always500"),
                               storage_options={"backoff": 0.01, "retries": 2})


def test_streamed_camera_on_cluster(server, videos, client):
    cam = ibl_xvideo.open_camera(server.url("longgop.mp4", area="private", auth=True), chunks=50)
    got = client.compute(cam.max(("y", "x")).data).result()
    np.testing.assert_array_equal(got, ibl_xvideo.open_camera(videos["longgop"]).max(("y", "x")).values)


def test_compat_functions_stream_urls(server, videos, reference, tmp_path, monkeypatch):
    """ibllib's get_video_frame / _preload / _meta take URLs, credentials in the URL or ONE's parameters."""
    from iblutil.io import params as iopar
    from one import params as one_params

    from ibl_xvideo import compat

    from .httpserver import USER

    ref = reference["bframes"]
    idx = np.linspace(100, ref.shape[0] - 100, 20).astype(int)
    f = compat.get_video_frame(server.url("bframes.mp4", area="private", auth=True), 123)
    assert f.shape == (256, 320, 3) and np.array_equal(f[..., 0], ref[123])
    bare = server.url("bframes.mp4", area="private")
    monkeypatch.setenv("HOME", str(tmp_path))  # ONE's parameter files go there, not in the user's home
    with pytest.raises(remote.RemoteAuthError, match="401"):
        compat.get_video_frames_preload(bare, idx, mask=np.s_[:, :, 0], quiet=True)
    one_params.setup(client="http://127.0.0.1:9", silent=True, make_default=True, cache_dir=str(tmp_path / "one"))
    key = one_params._key_from_url("http://127.0.0.1:9")
    par = iopar.read(f"one/{key}")
    iopar.write(f"one/{key}", par.set("HTTP_DATA_SERVER_LOGIN", USER).set("HTTP_DATA_SERVER_PWD", PASSWORD))
    frames = compat.get_video_frames_preload(bare, idx, mask=np.s_[:, :, 0], quiet=True)
    assert np.array_equal(frames, ref[idx]) and frame_numbers(frames) == idx.tolist()
    meta = compat.get_video_meta(bare)
    assert (meta.length, meta.width, meta.size) == (ref.shape[0], 320, videos["bframes"].stat().st_size)


@pytest.mark.parametrize("name", ["bframes", "offset", "longgop", "mono"])
def test_remote_index_comes_from_the_parsed_tables(server, videos, name, monkeypatch):
    """Over HTTP too the timestamps come from the mp4's own tables, checked on zero-filled packets."""
    from ibl_xvideo.engine import index as index_mod

    local = index_mod.build_index(as_source(videos[name]), tables=False)

    def no_full_demux(*args):
        raise AssertionError("every packet was demuxed")

    monkeypatch.setattr(index_mod, "_demux_timestamps", no_full_demux)
    got = index_mod.build_index(as_source(server.url(f"{name}.mp4")))
    np.testing.assert_array_equal(got.frame_pts, local.frame_pts)
    np.testing.assert_array_equal(got.key_frames, local.key_frames)
    np.testing.assert_array_equal(got.key_dts, local.key_dts)


def _swap_same_size(path, mtime_step: int = 10):
    """Rewrite ``path`` in place with other bytes of the same size (frames from another encode) and a new mtime."""
    data = bytearray(path.read_bytes())
    lo = len(data) // 3
    data[lo:2 * lo] = bytes(len(data[lo:2 * lo]))  # the middle third (frame data) zeroed
    st = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + mtime_step * 10**9))


def test_a_file_replaced_on_the_server_is_never_read_half_and_half(server, videos, video_dir):
    name = "swapped.mp4"
    shutil.copy(videos["longgop"], video_dir / name)
    try:
        cam = ibl_xvideo.open_camera(server.url(name), chunks=None)
        assert frame_numbers(cam.isel(time=[0, 1]).values) == [0, 1]
        _swap_same_size(video_dir / name)
        # the test video (28 kB) fits in the decoder's buffer and one block: reopen both, as a
        # long session reading a 1 GB camera does all the time
        clear_caches()
        with pytest.raises(errors.SourceChangedError, match=rf"{server.url(name)} changed on the server .*ETag"):
            cam.isel(time=[390, 399]).values
    finally:
        (video_dir / name).unlink()


def test_a_download_of_a_file_that_changes_midway_fails_and_leaves_nothing(server, videos, video_dir, tmp_path):
    name = "moving.mp4"
    shutil.copy(videos["longgop"], video_dir / name)
    calls = []

    class SwapAfterTheFirstBlock(remote.Transport):  # a transport that sees the file change on the server
        def get(self, url, first, last, preload):
            calls.append(first)
            if len(calls) == 3:  # the probe, the first block, then the second block of another file
                _swap_same_size(video_dir / name)
            return super().get(url, first, last, preload)

    try:
        with pytest.raises(errors.SourceChangedError, match="changed on the server"):
            remote.download(server.url(name), tmp_path / "got.mp4", SwapAfterTheFirstBlock(), progress=False,
                            block=4096)
    finally:
        (video_dir / name).unlink()
    assert calls == [0, 0, 4096] and list(tmp_path.iterdir()) == []  # the second block raised


def test_a_local_file_changed_after_opening_is_an_error_at_the_next_decoder_open(videos, tmp_path):
    video = tmp_path / "v.mp4"
    shutil.copy(videos["bframes"], video)
    cam = ibl_xvideo.open_camera(video, chunks=None)
    assert frame_numbers(cam.isel(time=[3]).values) == [3]
    _swap_same_size(video)
    clear_caches()  # a new decoder (as on a Dask worker, or another thread) opens the file again
    with pytest.raises(errors.SourceChangedError, match=rf"{video} changed after it was opened"):
        cam.isel(time=[200]).values
    assert frame_numbers(ibl_xvideo.open_camera(shutil.copy(videos["bframes"], tmp_path / "w.mp4")).isel(
        time=[200]).values) == [200]


def _same_size_other_recording(src, dst, tmp_path):
    """``dst`` becomes another recording of ``src``'s exact size (its container says another creation time)."""
    out = tmp_path / "other.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(src), "-c", "copy",
                    "-metadata", "creation_time=2021-03-04T05:06:07Z", str(out)], check=True)
    assert out.stat().st_size == src.stat().st_size
    st = dst.stat()
    shutil.copyfile(out, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))  # the mtime restored


@needs_zarr
def test_a_same_size_swap_with_the_mtime_restored_is_caught(videos, tmp_path):
    video = tmp_path / "v.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(videos["bframes"]), "-c",
                    "copy", "-metadata", "creation_time=2020-01-01T00:00:00Z", str(video)], check=True)
    cam = ibl_xvideo.open_camera(video, chunks=None)
    store = tmp_path / "cache.zarr"
    assert ibl_xvideo.open_camera(video, cache=store).attrs["cache"] == "filled"
    old_index = ibl_xvideo.get_index(video)
    _same_size_other_recording(video, video, tmp_path)
    assert ibl_xvideo.get_index(video).fingerprint != old_index.fingerprint  # not the cached index
    with pytest.warns(UserWarning, match="rebuilding"):
        assert ibl_xvideo.open_camera(video, cache=store).attrs["cache"] == "refilled"
    clear_caches()
    with pytest.raises(errors.SourceChangedError, match="container tables"):
        cam.isel(time=[5]).values


def test_concurrent_reads_of_a_block_fetch_it_once(server, videos):
    """Eight threads reading the same frames at once: each byte crosses the network once, and all get it."""
    import threading

    url = server.url("longgop.mp4")
    ibl_xvideo.get_index(url)  # the tables, fetched once, not counted below
    ref = ibl_xvideo.open_camera(videos["longgop"], chunks=None).isel(time=[300, 301]).values
    clear_caches()
    before = server.bytes_sent
    got, start = [], threading.Barrier(8)

    def read():
        cam = ibl_xvideo.open_camera(url, chunks=None)
        start.wait()
        got.append(cam.isel(time=[300, 301]).values)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    together = server.bytes_sent - before
    assert len(got) == 8 and all(np.array_equal(g, ref) for g in got)
    clear_caches()
    before = server.bytes_sent
    ibl_xvideo.open_camera(url, chunks=None).isel(time=[300, 301]).values
    alone = server.bytes_sent - before
    assert together <= alone * 1.1, (together, alone)  # one fetch per block, whoever asks


def test_keyframe_reads_fetch_little_beyond_their_packets(server, video_dir):
    """Scattered keyframes over HTTP (the keyframe QC's read): the bytes fetched are the container's tables and
    the keyframe packets, and not much more (issue #25: at most 1.5x), though each packet is a few KiB here."""
    import av

    from ibl_xvideo.demo.synth import make_video

    path = make_video(video_dir / "kf.mp4", 2400, width=320, height=256, noise=8, gop=120)
    url = server.url("kf.mp4")
    index = ibl_xvideo.get_index(url)  # a reopen, as a batch has it: the index cached
    with av.open(str(path)) as c:
        key_bytes = np.array([p.size for p in c.demux(c.streams.video[0]) if p.is_keyframe and p.size])
    # keyframes far apart (the video has some close ones): a read never decodes from one to the next
    gaps = np.diff(index.key_frames)
    groups = np.flatnonzero((gaps > 100) & (np.r_[0, gaps[:-1]] > 100))[::2]
    wanted = index.key_frames[groups]
    assert wanted.size >= 5
    packets = int(key_bytes[groups].sum())
    clear_caches()
    before = server.bytes_sent
    ibl_xvideo.io.container.open_container(url, size=index.size, version=index.mtime_ns).close()
    tables = server.bytes_sent - before  # what opening the container reads: its tables, the first packet
    clear_caches()
    before = server.bytes_sent
    got = ibl_xvideo.read_frames(index, wanted, workers=2)
    fetched = server.bytes_sent - before
    assert frame_numbers(got) == list(wanted)
    assert fetched <= 1.5 * (tables + packets), (fetched, tables, packets)


def test_open_camera_options_read_as_choices(server, videos, tmp_path):
    """Where the bytes come from is one option (fetch), how they are read another (storage_options); ten names
    in all, each reachable through xarray's engine too."""
    import inspect

    import xarray as xr

    from ibl_xvideo.engine.planning import recorded

    named = [p for p in inspect.signature(ibl_xvideo.open_camera).parameters.values() if p.kind != p.VAR_KEYWORD]
    assert len(named) <= 10, [p.name for p in named]
    url = server.url("mono.mp4", area="private")
    opts = {"username": "alyx", "password": PASSWORD, "timeout": 3, "retries": 1, "backoff": 0.01}
    cam = ibl_xvideo.open_camera(url, fetch="stream", storage_options=opts, chunks=None, threads=2, strict=True)
    assert cam.video.meta["length"] == cam.sizes["time"]  # the file's metadata, read as the camera reads it
    index = recorded(cam).index
    assert index.transport.retry == remote.Retry((3.0, 3.0), 1, 0.01)
    assert PASSWORD not in repr(index.transport) and PASSWORD not in repr(index)
    assert pickle.loads(pickle.dumps(index.transport)) == index.transport
    ds = xr.open_dataset(url, engine="ibl_xvideo", fetch="stream", storage_options=opts, threads=2, strict=True,
                         validate_times=False, timestamps=False)
    assert np.array_equal(ds[cam.name].isel(time=[5]).values, cam.isel(time=[5]).values)
    for bad, match in [({"fetch": "download"}, "fetch='download' does not apply"),
                       ({"fetch": "sideways"}, "fetch"),
                       ({"storage_options": {"timeout": -1}}, "timeout"),
                       ({"storage_options": {"retries": 1.5}}, "retries"),
                       ({"storage_options": {"user": "alyx"}}, "storage_options for http"),
                       ({"threds": 2}, "unknown options \\['threds'\\]"),
                       ({"strict": "yes"}, "strict is True or False")]:
        with pytest.raises(errors.InvalidOptionError, match=match):
            ibl_xvideo.open_camera(url, **bad)
    with pytest.raises(errors.InvalidOptionError, match="fetch='stream' does not apply"):
        ibl_xvideo.open_camera(videos["mono"], fetch="stream")  # a file is read where it is
    with pytest.raises(errors.InvalidOptionError, match="storage_options are for URLs"):
        ibl_xvideo.open_camera(videos["mono"], storage_options={"timeout": 3})


@needs_zarr
def test_the_engine_opens_a_camera_through_its_zarr_cache(videos, tmp_path):
    import xarray as xr

    store = tmp_path / "mono.zarr"
    cam = ibl_xvideo.open_camera(videos["mono"], cache=store, progress=False)
    assert cam.attrs["cache"] == "filled"
    ds = xr.open_dataset(videos["mono"], engine="ibl_xvideo", zarr_cache=store)
    assert ds[cam.name].attrs["cache"] == "hit"
    assert np.array_equal(ds[cam.name].values, ibl_xvideo.open_camera(videos["mono"], chunks=None).values)
