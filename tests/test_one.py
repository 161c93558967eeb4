"""Opening cameras through a real one.api.One on a local cache, session paths and files."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
import xarray as xr

import ibl_xvideo
from ibl_xvideo.engine.decode import iter_frames
from ibl_xvideo.engine.index import get_index
from ibl_xvideo.io.container import as_source

from .conftest import SESSION_EID, SESSION_REL, frame_numbers

# in the quick subset: pytest -m smoke
pytestmark = pytest.mark.smoke


def test_open_camera_by_eid(one, one_cache):
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    times = np.load(one_cache / SESSION_REL / "alf" / "_ibl_bodyCamera.times.npy")
    assert cam.name == "bodyCamera"
    assert cam.dims == ("time", "y", "x") and cam.dtype == np.uint8
    np.testing.assert_array_equal(cam.time.values, times)
    np.testing.assert_array_equal(cam.frame.values, np.arange(times.size))
    for key, value in dict(eid=SESSION_EID, label="body", width=320, height=256, length=90,
                           timestamps="alf", timestamps_policy="raise").items():
        assert cam.attrs[key] == value, key
    assert cam.attrs["fps"] == pytest.approx(30)
    assert cam.attrs["duration"] == pytest.approx(3.0)
    assert cam.attrs["size"] == (one_cache / SESSION_REL / "raw_video_data" /
                                 "_iblrig_bodyCamera.raw.mp4").stat().st_size
    # the frame at a session time is the one whose timestamp is nearest
    t = times[61] + 0.004
    frame = cam.sel(time=t, method="nearest")
    assert int(frame.frame) == 61
    assert frame_numbers(frame.values[None]) == [61]


def test_offline_one_does_not_hash_the_timestamps(one, one_cache, monkeypatch):
    """Offline, ONE can only warn about a local file's md5; computing it cost ~0.14 s per open."""
    from one.api import hashfile

    hashed = []
    md5 = hashfile.md5
    monkeypatch.setattr(hashfile, "md5", lambda f, *a, **k: hashed.append(f) or md5(f, *a, **k))
    name = "_ibl_bodyCamera.times.npy"
    assert one.offline
    ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    assert hashed == []
    # online, ONE checks the local copy against the cache's md5 (it matches: nothing to download)
    monkeypatch.setattr(type(one), "offline", property(lambda self: False))
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    assert [f.name for f in hashed] == [name]
    np.testing.assert_array_equal(cam.time.values, np.load(one_cache / SESSION_REL / "alf" / name))


def test_eid_without_one_uses_the_configured_one(one, one_cache, tmp_path, monkeypatch, capsys):
    """As ibllib's ``one or ONE()``: this computer's ONE settings, in local mode (no Alyx here)."""
    import json

    from one import params as one_params

    from ibl_xvideo.cli import main
    from ibl_xvideo.io import sources

    monkeypatch.setenv("HOME", str(tmp_path))
    one_params.setup(client="http://127.0.0.1:9", silent=True, make_default=True, cache_dir=str(one_cache))
    cam = ibl_xvideo.open_camera(SESSION_EID, "body")
    assert cam.attrs["eid"] == SESSION_EID and cam.attrs["timestamps"] == "alf"
    assert cam.identical(ibl_xvideo.open_camera(SESSION_EID, "body", one=one))
    assert list(ibl_xvideo.open_session(SESSION_EID).children) == list(
        ibl_xvideo.open_session(SESSION_EID, one=one).children) == ["left", "body"]
    assert sources.default_one() is sources.default_one()  # one ONE instance, kept
    assert main(["meta", SESSION_EID, "body"]) == 0  # the command line needs no --one-cache then
    assert json.loads(capsys.readouterr().out)["length"] == 90
    with pytest.raises(ibl_xvideo.errors.SessionNotFoundError, match=str(one_cache)):
        ibl_xvideo.open_camera("11111111-2222-4333-8444-555555555555", "body")


def test_uuid_object_and_session_path_and_file(one, one_cache):
    import uuid

    a = ibl_xvideo.open_camera(uuid.UUID(SESSION_EID), "left", one=one, chunks=None)
    b = ibl_xvideo.open_camera(one_cache / SESSION_REL, "left", one=one, chunks=None)
    c = ibl_xvideo.open_camera(one_cache / SESSION_REL / "raw_video_data" / "_iblrig_leftCamera.raw.mp4")
    assert b.attrs["eid"] == SESSION_EID
    assert c.attrs["label"] == "left" and c.name == "leftCamera"
    for x in (b, c):
        np.testing.assert_array_equal(a.time.values, x.time.values)
    idx = [0, 77, 119]
    assert np.array_equal(a.isel(time=idx).values, c.isel(time=idx).values)


def test_open_session_datatree(one):
    tree = ibl_xvideo.open_session(SESSION_EID, one=one)
    assert isinstance(tree, xr.DataTree)
    assert set(tree.children) == {"body", "left"}
    body = tree["body"]["bodyCamera"]
    assert body.sizes["time"] == 90 and tree["left"]["leftCamera"].sizes["time"] == 120
    assert frame_numbers(body.isel(time=[5]).values) == [5]
    tree = ibl_xvideo.open_session(SESSION_EID, one=one, labels=["left"])
    assert set(tree.children) == {"left"}


def test_video_meta_has_ibllib_keys(one, one_cache, videos):
    import cv2

    meta = ibl_xvideo.video_meta(SESSION_EID, "body", one=one)
    path = one_cache / SESSION_REL / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4"
    cap = cv2.VideoCapture(str(path))
    assert meta["length"] == int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 90
    assert meta["fps"] == int(cap.get(cv2.CAP_PROP_FPS)) == 30
    assert (meta["width"], meta["height"]) == (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                                               int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    assert meta["duration"] == datetime.timedelta(seconds=3)
    assert meta["size"] == path.stat().st_size
    assert meta["eid"] == SESSION_EID and meta["codec"] == "h264"


def test_index_cache_makes_reopen_cheap(videos, _isolated_cache):
    import dataclasses

    from ibl_xvideo.io.container import LocalSource

    path = videos["bframes"]
    get_index(path)  # warm
    files = list((_isolated_cache / "index").glob("*.npz"))
    assert files, "the index is cached on disk"

    @dataclasses.dataclass(frozen=True)
    class Sealed(LocalSource):  # a handle that says what the file is, but never lets it be read
        def raw(self, pinned, holes=None):
            raise AssertionError("the cached index must be used without reading the video")

        def open(self, pinned=None, holes=None):
            raise AssertionError("the cached index must be used without opening the video")

    a = get_index(Sealed(str(path)))  # a reopen reads the cache file and never demuxes the video
    assert isinstance(a.source, Sealed)  # and reads the frames through the handle given now
    with pytest.raises(AssertionError, match="cached index"):
        get_index(Sealed(str(path)), use_cache=False)
    b = get_index(path, use_cache=False)
    np.testing.assert_array_equal(a.frame_pts, b.frame_pts)
    np.testing.assert_array_equal(a.key_frames, b.key_frames)
    assert a.facts() == b.facts()


def test_stale_index_cache_is_not_used(tmp_path, videos):
    import shutil

    p = tmp_path / "v.mp4"
    shutil.copy(videos["bframes"], p)
    assert get_index(p).length == 300
    shutil.copy(videos["offset"], p)  # same path, new content (size and mtime change)
    assert get_index(p).length == 150
    assert [i for i, _ in iter_frames(get_index(p), 0, 3)] == [0, 1, 2]


def test_index_of_a_relative_path_is_usable_from_another_directory(videos, tmp_path, monkeypatch):
    """An index cached for ``video.mp4`` in one directory opens the right file from any other."""
    import pickle
    import shutil

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(videos["bframes"], tmp_path / "a" / "video.mp4")
    shutil.copy(videos["mono"], tmp_path / "b" / "video.mp4")  # same name, another video
    monkeypatch.chdir(tmp_path / "a")
    cam = ibl_xvideo.open_camera("video.mp4", chunks=None)
    blob = pickle.dumps(cam.isel(time=[0, 7]))
    ref = cam.isel(time=[0, 7]).values
    monkeypatch.chdir(tmp_path / "b")
    np.testing.assert_array_equal(pickle.loads(blob).values, ref)
    again = get_index(tmp_path / "a" / "video.mp4")  # the cached index, by its absolute name
    assert again.path == str(tmp_path / "a" / "video.mp4")


def _same_index(a, b) -> None:
    np.testing.assert_array_equal(a.frame_pts, b.frame_pts)
    np.testing.assert_array_equal(a.key_frames, b.key_frames)
    np.testing.assert_array_equal(a.key_dts, b.key_dts)
    assert a.facts() == b.facts()


@pytest.mark.parametrize("name", ["bframes", "mono", "offset", "longgop", "chroma"])
def test_index_from_the_tables_equals_the_packet_scan_without_reading_frames(videos, name, monkeypatch):
    """mp4 frame data are served as zeros while indexing: same index, only the tables read from disk."""
    import dataclasses

    from ibl_xvideo.engine import index as index_mod
    from ibl_xvideo.io.container import LocalSource

    opened = []

    @dataclasses.dataclass(frozen=True)
    class Spy(LocalSource):  # a source that shows what it opens; our own parser finds no tables in it
        def raw(self, pinned, holes=None):
            if holes is None:  # read by the tables' parser: all zeros, as an mp4 the parser cannot read
                return super().raw(pinned, [[0, pinned.size]])
            raw = super().raw(pinned, holes)
            opened.append(raw)
            return raw

    path = videos[name]
    tables = index_mod.build_index(Spy(str(path)))
    scan = index_mod.build_index(LocalSource(str(path)), tables=False)
    _same_index(tables, scan)
    assert len(opened) == 1 and opened[0].closed
    size = path.stat().st_size
    data = int(np.diff(opened[0].holes, axis=1).sum())
    assert data > size / 2  # the frames are most of even a tiny file (the tables the rest)
    assert opened[0].bytes_read <= size - data  # and not one byte of them was read


def test_index_of_a_fragmented_mp4_equals_the_packet_scan(videos, tmp_path):
    """Fragmented mp4 files announce their frames fragment by fragment: the index must still be complete."""
    import subprocess

    import imageio_ffmpeg

    from ibl_xvideo.engine import index as index_mod

    frag = tmp_path / "frag.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(videos["bframes"]), "-c", "copy",
                    "-movflags", "frag_keyframe+empty_moov", str(frag)], check=True)
    tables = index_mod.build_index(as_source(frag))
    _same_index(tables, index_mod.build_index(as_source(frag), tables=False))
    assert tables.length == 300
    cam = ibl_xvideo.open_camera(frag, chunks=None)
    assert frame_numbers(cam.isel(time=[0, 61, 299]).values) == [0, 61, 299]


def _scan_and_parse(path):
    """The demuxer's ``(pts, dts, keyframe)`` of every packet, and the same from the mp4's tables (or None)."""
    from ibl_xvideo.engine import index as index_mod
    from ibl_xvideo.io.container import as_source

    source = as_source(path)
    pinned = source.pin()
    container = source.open(pinned)
    try:
        parsed = index_mod._moov_timestamps(source, pinned, container.streams.video[0])
        return index_mod._demux_timestamps(container, str(path)), parsed
    finally:
        container.close()


@pytest.mark.parametrize("name", ["bframes", "mono", "offset", "longgop", "chroma"])
def test_timestamps_parsed_from_the_moov_equal_the_demuxers(videos, name):
    """The mp4's own tables (stts, ctts, stss, the edit-list shift) give every packet's timestamps, as FFmpeg."""
    from ibl_xvideo.engine import index as index_mod

    path = videos[name]
    scan, parsed = _scan_and_parse(path)
    assert parsed is not None
    for a, b in zip(parsed, scan):
        np.testing.assert_array_equal(a, b)
    _same_index(index_mod.build_index(as_source(path)), index_mod.build_index(as_source(path), tables=False))


@pytest.mark.parametrize("where", [0, 150, -3])
def test_parsed_tables_that_disagree_with_the_demuxer_are_not_used(videos, monkeypatch, where):
    """A table the demuxer contradicts where it is checked (ends, keyframe probes) falls back to demuxing."""
    from ibl_xvideo.engine import index as index_mod

    path = videos["bframes"]
    real = index_mod._mp4_video_tables

    def tampered(*args):
        t = real(*args)
        t["pts"][where] += 1
        return t

    monkeypatch.setattr(index_mod, "_mp4_video_tables", tampered)
    assert _scan_and_parse(path)[1] is None
    _same_index(index_mod.build_index(as_source(path)), index_mod.build_index(as_source(path), tables=False))


def test_an_unchecked_table_error_raises_instead_of_shifting_frames(videos, monkeypatch, tmp_path):
    """Between the checked packets a wrong pts is caught by the decoder: an error, never another frame."""
    import shutil

    from ibl_xvideo.engine import index as index_mod
    from ibl_xvideo.errors import DecodeError

    path = tmp_path / "v.mp4"
    shutil.copy(videos["bframes"], path)  # its own index cache entry
    real = index_mod._mp4_video_tables

    def tampered(*args):
        t = real(*args)
        t["pts"][150] += 1  # decode order 150 (the group of frames 120..179)
        return t

    monkeypatch.setattr(index_mod, "_mp4_video_tables", tampered)
    monkeypatch.setattr(index_mod, "VERIFY_PACKETS", 20)
    monkeypatch.setattr(index_mod, "VERIFY_PROBES", 0)
    cam = ibl_xvideo.open_camera(path, chunks=None)
    assert frame_numbers(cam.isel(time=[10, 200, 299]).values) == [10, 200, 299]
    with pytest.raises(DecodeError, match="not in the index"):
        cam.isel(time=slice(120, 180)).values


def test_an_mp4_whose_encoder_chose_no_b_frames_is_ordered_by_its_timestamps(tmp_path):
    """x264 on very noisy video chooses no B-frames while its stream says it may reorder: an mp4 stores
    presentation times, so they order the frames and the first open does not decode the whole video."""
    import dataclasses

    import av

    from ibl_xvideo.demo.synth import make_video
    from ibl_xvideo.engine.index import build_index
    from ibl_xvideo.io.container import LocalSource, open_file_object

    path = make_video(tmp_path / "noisy.mp4", 300, width=320, height=256, fps=30, crf=17, noise=60.0)
    with av.open(str(path)) as c:  # the case meant: a stream that may reorder, packets that never do
        stream = c.streams.video[0]
        assert stream.codec_context.has_b_frames
        pts = np.array([p.pts for p in c.demux(stream) if p.pts is not None])
    assert np.all(np.diff(pts) > 0)
    opened = []

    @dataclasses.dataclass(frozen=True)
    class Counted(LocalSource):  # every byte the index build reads, counted
        def open(self, pinned=None, holes=None):
            raw = self.raw(pinned or self.pin(), holes)
            opened.append(raw)
            return open_file_object(raw, self.path)

    index = build_index(Counted(str(path)))
    assert not index.reordered
    read = sum(raw.bytes_read for raw in opened)
    assert read < path.stat().st_size / 4, (read, path.stat().st_size)  # not the frames: no decode to order them
    sequential = np.stack([f for _, f in iter_frames(get_index(path))])
    cam = ibl_xvideo.open_camera(path, chunks=7)
    picks = [299, 3, 45, 46, 0, 160]
    assert np.array_equal(cam.isel(time=picks).values, sequential[picks])
    assert np.array_equal(cam.values, sequential)
