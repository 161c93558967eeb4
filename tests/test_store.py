"""Zarr export and cache: exactness, resume after kill -9, locking, staleness, a real cluster."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import ibl_xvideo
from ibl_xvideo import errors
from ibl_xvideo.cli import main
from ibl_xvideo.store import store_status

from .conftest import SESSION_EID, SESSION_REL, checksums, frame_numbers, needs_zarr

# in the quick subset: pytest -m smoke
pytestmark = [pytest.mark.smoke, needs_zarr]


def test_export_round_trip(videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    store = tmp_path / "cam.zarr"
    ibl_xvideo.to_zarr(cam, store, progress=False)
    out = ibl_xvideo.open_store(store)
    assert checksums(out.values) == checksums(cam.values)
    np.testing.assert_array_equal(out.time.values, cam.time.values)
    np.testing.assert_array_equal(out.frame.values, cam.frame.values)
    assert out.attrs["fps"] == cam.attrs["fps"] and out.attrs["source"] == cam.attrs["source"]
    st = store_status(store)
    assert st["complete"] and st["shards"] == 5 and st["shard_frames"] == 60  # one shard per keyframe group
    ds = xr.open_zarr(store, consolidated=False)  # a plain Zarr v3 store for any reader
    assert ds["camera"].dims == ("time", "y", "x")


@pytest.mark.parametrize("reader", ["shard files", "zarr-python"])
@pytest.mark.parametrize("compressors", ["auto", None])
def test_store_selections_equal_the_video(videos, tmp_path, monkeypatch, reader, compressors):
    """Every access pattern on a store (lazily indexed and Dask-backed) gives the video's frames.

    Local stores are read from their shard files directly; zarr-python reads any other.
    """
    import pickle

    from ibl_xvideo.store.direct import LocalShards

    cam = ibl_xvideo.open_camera(videos["bframes"], chunks=None)
    store = tmp_path / "cam.zarr"
    ibl_xvideo.to_zarr(cam, store, progress=False, compressors=compressors)
    assert LocalShards.open(store, "camera") is not None
    if reader == "zarr-python":
        monkeypatch.setattr(LocalShards, "open", classmethod(lambda cls, *args: None))
    ref = cam.values
    n = ref.shape[0]
    picks = [5, [n - 1, 3, 3, 120, 4, 5, 6, 60], slice(None, None, -7), slice(10, 200, 3), [], -1]
    for chunks in (None, "shards"):
        z = ibl_xvideo.open_store(store, chunks=chunks)
        z = pickle.loads(pickle.dumps(z))  # a task's graph pickles (the store's location, not an open array)
        for t in picks:
            np.testing.assert_array_equal(z.isel(time=t).values, ref[t], err_msg=f"{chunks} {t}")
        np.testing.assert_array_equal(z.isel(time=[7, 2, 90], y=[0, 5, 1], x=slice(3, 50)).values,
                                      ref[[7, 2, 90]][:, [0, 5, 1], 3:50])
        np.testing.assert_array_equal(z.isel(time=slice(50, 20, -3), y=slice(None, None, -2), x=7).values,
                                      ref[50:20:-3, ::-2, 7])
        np.testing.assert_array_equal(z.sel(time=cam.time.values[[40, 2]]).frame.values, [40, 2])
        assert checksums(z.values) == checksums(ref)
        cropped = z.isel(time=slice(None, None, -1), x=slice(3, 50)).isel(y=slice(None, None, -2), x=-1)
        np.testing.assert_array_equal(cropped.isel(time=[2, n - 1]).values, ref[[n - 3, 0], ::-2, 49])
        if chunks is not None:  # a list of frames (after crops too) reads those frames, never their whole shards
            for picked in (z.isel(time=[n - 1, 3, 60]).data, cropped.isel(time=[2, n - 1]).data):
                assert not any(str(k[0]) == z.data.name for k in dict(picked.__dask_graph__()) if isinstance(k, tuple))
            # per-frame reductions over the pixels: a shard at a time, reduced as read, the video's values
            part = z.isel(time=slice(250, 3, -2), x=slice(3, 50))
            for how in ("max", "sum", "mean"):
                got = getattr(part, how)(("x", "y"))
                assert len(got.data.__dask_graph__()) == got.data.numblocks[0]
                np.testing.assert_array_equal(got.values, getattr(np, how)(ref[250:3:-2, :, 3:50], axis=(1, 2)))
    assert ibl_xvideo.open_store(store).chunks[0][0] == store_status(store)["shard_frames"]
    assert ibl_xvideo.open_store(store).data.name == ibl_xvideo.open_store(store).data.name  # deterministic


def test_store_opened_by_a_relative_path_reads_from_another_directory(videos, tmp_path, monkeypatch):
    """A task unpickled in a worker with another working directory still finds a local store."""
    import pickle

    cam = ibl_xvideo.open_camera(videos["mono"])
    (tmp_path / "a").mkdir()
    ibl_xvideo.to_zarr(cam, tmp_path / "a" / "cam.zarr", progress=False)
    monkeypatch.chdir(tmp_path / "a")
    blob = pickle.dumps(ibl_xvideo.open_store("cam.zarr").isel(time=slice(3, 9)))
    monkeypatch.chdir(tmp_path)
    np.testing.assert_array_equal(pickle.loads(blob).values, cam.isel(time=slice(3, 9)).values)


def test_damaged_shard_index_is_an_error(videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    store = tmp_path / "cam.zarr"
    ibl_xvideo.to_zarr(cam, store, progress=False)
    shard = store / "camera" / "c" / "1" / "0" / "0"
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF  # one bit pattern of the index flipped
    shard.write_bytes(bytes(data))
    z = ibl_xvideo.open_store(store, chunks=None)
    z.isel(time=0).values  # other shards read fine
    with pytest.raises(errors.XVideoError, match="damaged"):
        z.isel(time=store_status(store)["shard_frames"]).values


def _shard_path(store, k):
    return store / "camera" / "c" / str(k) / "0" / "0"


def test_a_missing_shard_is_an_error_and_the_cache_repairs_only_it(videos, tmp_path):
    video = tmp_path / "v.mp4"
    shutil.copy(videos["bframes"], video)
    store = tmp_path / "cache.zarr"
    ibl_xvideo.open_camera(video, cache=store)
    S = store_status(store)["shard_frames"]
    kept = {k: _shard_path(store, k).stat().st_mtime_ns for k in (0, 2)}
    _shard_path(store, 1).unlink()
    assert store_status(store)["shards_missing"] == [1] and not store_status(store)["complete"]
    with pytest.raises(errors.StoreCorruptError, match=rf"{store} is damaged: shard 1 .*missing.*repair=True"):
        ibl_xvideo.open_store(store)
    again = ibl_xvideo.open_camera(video, cache=store)
    assert again.attrs["cache"] == "repaired"
    assert frame_numbers(again.isel(time=[S, S + 1, 0]).values) == [S, S + 1, 0]
    assert {k: _shard_path(store, k).stat().st_mtime_ns for k in (0, 2)} == kept  # only shard 1 rewritten


@pytest.mark.parametrize("loss, match", [("deleted", "missing"), ("not a file", "cannot be read")])
def test_a_shard_lost_after_opening_is_an_error_not_zeros(videos, tmp_path, loss, match):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    store = tmp_path / "cam.zarr"
    ibl_xvideo.to_zarr(cam, store, progress=False)
    z = ibl_xvideo.open_store(store, chunks=None)
    S = store_status(store)["shard_frames"]
    _shard_path(store, 1).unlink()
    if loss == "not a file":
        _shard_path(store, 1).mkdir()  # there, but nothing to read
    z.isel(time=0).values
    with pytest.raises(errors.StoreCorruptError, match=f"shard 1 .*{match}"):
        z.isel(time=S).values


@pytest.mark.parametrize("compressors", ["auto", None])
def test_damaged_frame_data_fail_their_checksum_and_repair_rewrites_that_shard(videos, tmp_path, compressors):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    store = tmp_path / "cam.zarr"
    ibl_xvideo.to_zarr(cam, store, compressors=compressors, progress=False)
    S = store_status(store)["shard_frames"]
    shard = _shard_path(store, 1)
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0x01  # one bit inside a frame's chunk (not the index)
    shard.write_bytes(bytes(data))
    z = ibl_xvideo.open_store(store, chunks=None)
    with pytest.raises(errors.StoreCorruptError, match=rf"{store} is damaged: shard 1 \(frame \d+ fails its checksum"):
        z.isel(time=slice(S, 2 * S)).values
    # zarr-python's own reader checks the same checksums
    import zarr

    with pytest.raises(ValueError, match="checksum"):
        zarr.open_group(store, mode="r")["camera"][S:2 * S]
    kept = _shard_path(store, 0).stat().st_mtime_ns
    ibl_xvideo.to_zarr(cam, store, compressors=compressors, repair=True, progress=False)
    assert _shard_path(store, 0).stat().st_mtime_ns == kept
    assert checksums(ibl_xvideo.open_store(store).values) == checksums(cam.values)


def test_shards_of_the_fill_value_alone_are_recorded_not_missing(tmp_path):
    """zarr-python writes no file for an all-zero shard: the store says so, and reads it as zeros."""
    from ibl_xvideo.demo.synth import encode_frames

    frames = [np.zeros((64, 96), np.uint8)] * 30 + [np.full((64, 96), 200, np.uint8)] * 30
    video = encode_frames(tmp_path / "dark.mp4", iter(frames), width=96, height=64, fps=30,
                          output_args=["-c:v", "libx264", "-g", "30", "-bf", "0", "-crf", "0", "-pix_fmt", "yuv420p"])
    cam = ibl_xvideo.open_camera(video, pixels="luma")
    store = tmp_path / "dark.zarr"
    from zarr.codecs import ZstdCodec

    ibl_xvideo.to_zarr(cam, store, compressors=[ZstdCodec()], shard_frames=30, progress=False)  # the zarr path
    status = store_status(store)
    assert status["complete"] and status["shards_filled"] == [0] and status["shards_missing"] == []
    assert not _shard_path(store, 0).exists()
    np.testing.assert_array_equal(ibl_xvideo.open_store(store).values, cam.values)


def test_export_selection_and_roi(one, tmp_path):
    cam = ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    t = cam.time.values
    store = tmp_path / "sel.zarr"
    ibl_xvideo.to_zarr(cam, store, time=slice(t[10], t[49]), roi="20:120,100:300", progress=False)
    out = ibl_xvideo.open_store(store)
    expect = cam.isel(time=slice(10, 50), y=slice(20, 120), x=slice(100, 300))
    assert out.shape == (40, 100, 200)
    assert np.array_equal(out.values, expect.values)
    np.testing.assert_array_equal(out.frame.values, np.arange(10, 50))
    assert out.attrs["eid"] == SESSION_EID


def test_cache_fill_hit_and_stale(videos, tmp_path):
    video = tmp_path / "v.mp4"
    shutil.copy(videos["bframes"], video)
    store = tmp_path / "cache.zarr"
    a = ibl_xvideo.open_camera(video, cache=store)
    assert a.attrs["cache"] == "filled"
    b = ibl_xvideo.open_camera(video, cache=store)
    assert b.attrs["cache"] == "hit"
    assert frame_numbers(b.isel(time=[299, 0]).values) == [299, 0]
    shutil.copy(videos["offset"], video)  # the source changed under the cache
    with pytest.warns(UserWarning, match="rebuilding"):
        c = ibl_xvideo.open_camera(video, cache=store)
    assert c.attrs["cache"] == "refilled" and c.sizes["time"] == 150
    assert frame_numbers(c.isel(time=[149]).values) == [149]
    # chunks as for the video: None reads the store without Dask (fastest for random frames), ints re-chunk
    d = ibl_xvideo.open_camera(video, cache=store, chunks=None)
    assert d.attrs["cache"] == "hit" and d.chunks is None
    assert frame_numbers(d.isel(time=[7, 148, 0]).values) == [7, 148, 0]
    assert ibl_xvideo.open_camera(video, cache=store, chunks=25).chunks[0][:2] == (25, 25)


_KILL_SCRIPT = """
import sys, time, numpy as np
import ibl_xvideo, ibl_xvideo.store.write as w
real = w._build_shard
def slow(*a, **k):  # slow each shard down so the parent can kill us mid-export
    time.sleep(0.3)
    return real(*a, **k)
w._build_shard = slow
cam = ibl_xvideo.open_camera(sys.argv[1])
ibl_xvideo.to_zarr(cam, sys.argv[2], shard_frames=20, progress=False)
"""


@pytest.mark.reliability
def test_kill_9_then_resume_equals_clean_export(videos, tmp_path):
    store = tmp_path / "killed.zarr"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(videos["longgop"]), str(store)])
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            st = store_status(store) if (store / "zarr.json").exists() else None
            if st and st["shards_done"] >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    st = store_status(store)
    assert st is not None and 3 <= st["shards_done"] < st["shards"] and not st["complete"]
    with pytest.raises(errors.XVideoError, match="partial export"):
        ibl_xvideo.open_store(store)
    cam = ibl_xvideo.open_camera(videos["longgop"])
    ibl_xvideo.to_zarr(cam, store, shard_frames=20, progress=False)  # resumes: the dead pid's lock is stale
    clean = tmp_path / "clean.zarr"
    ibl_xvideo.to_zarr(cam, clean, shard_frames=20, progress=False)
    a, b = ibl_xvideo.open_store(store), ibl_xvideo.open_store(clean)
    assert checksums(a.values) == checksums(b.values) == checksums(cam.values)


@pytest.mark.reliability
def test_lock_blocks_a_second_writer(videos, tmp_path):
    store = tmp_path / "locked.zarr"
    lock = tmp_path / "locked.zarr.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket

        lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        cam = ibl_xvideo.open_camera(videos["mono"])
        with pytest.raises(errors.StoreLockedError, match=f"pid {holder.pid}"):
            ibl_xvideo.to_zarr(cam, store, progress=False)
    finally:
        holder.kill()
        holder.wait()
    ibl_xvideo.to_zarr(cam, store, progress=False)  # the holder died: its lock is taken over
    assert store_status(store)["complete"] and not lock.exists()


def test_store_of_another_export_is_not_overwritten(videos, tmp_path):
    store = tmp_path / "s.zarr"
    ibl_xvideo.to_zarr(ibl_xvideo.open_camera(videos["mono"]), store, progress=False)
    other = ibl_xvideo.open_camera(videos["bframes"])
    with pytest.raises(errors.XVideoError, match="overwrite=True"):
        ibl_xvideo.to_zarr(other, store, progress=False)
    ibl_xvideo.to_zarr(other, store, overwrite=True, progress=False)
    assert ibl_xvideo.open_store(store).sizes["time"] == 300


def test_foreign_zarr_store_is_not_overwritten(videos, tmp_path):
    import zarr

    store = tmp_path / "theirs.zarr"
    zarr.create_array(store, shape=(3,), dtype="int8")
    with pytest.raises(errors.XVideoError, match="other Zarr data"):
        ibl_xvideo.to_zarr(ibl_xvideo.open_camera(videos["mono"]), store, progress=False)


def test_fsspec_memory_store(videos):
    cam = ibl_xvideo.open_camera(videos["mono"])
    ibl_xvideo.to_zarr(cam, "memory://ibl_xvideo_test.zarr", progress=False)
    out = ibl_xvideo.open_store("memory://ibl_xvideo_test.zarr")
    assert np.array_equal(out.isel(time=[5, 150]).values, cam.isel(time=[5, 150]).values)


def test_cli_export(one_cache, tmp_path, capsys):
    store = tmp_path / "cli.zarr"
    assert main(["export", str(one_cache / SESSION_REL), "body", str(store), "--roi", "0:100,0:50",
                 "--start", "13", "--stop", "14"]) == 0
    out = ibl_xvideo.open_store(store)
    assert out.shape[1:] == (100, 50) and 13 <= float(out.time[0]) and float(out.time[-1]) <= 14


def _slow_shards(delay):
    """On a worker: make each shard slower to build (so that a kill lands mid-export), or undo it."""
    import ibl_xvideo.store.write as w

    real = getattr(w, "_real_build_shard", w._build_shard)
    w._real_build_shard = real

    def slow(*a, **k):
        time.sleep(delay)
        return real(*a, **k)

    w._build_shard = slow if delay else real


@pytest.mark.reliability
def test_export_on_cluster_survives_a_killed_worker(client, videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["longgop"])
    client.run(_slow_shards, 0.2)  # so that the kill lands mid-export
    store = tmp_path / "cluster.zarr"
    import threading

    errors_seen = []

    def run():
        try:
            with client.as_current():
                ibl_xvideo.to_zarr(cam, store, shard_frames=10, progress=False)
        except Exception as exc:  # reported below
            errors_seen.append(exc)

    th = threading.Thread(target=run)
    th.start()
    deadline = time.time() + 60
    while time.time() < deadline and not ((store / "zarr.json").exists() and store_status(store)
                                          and store_status(store)["shards_done"] >= 2):
        time.sleep(0.02)
    at_kill = store_status(store)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    th.join(180)
    client.run(_slow_shards, 0)
    assert not errors_seen, errors_seen
    assert 2 <= at_kill["shards_done"] < at_kill["shards"]
    out = ibl_xvideo.open_store(store)
    assert checksums(out.values) == checksums(cam.values)


def test_fast_shard_writer_is_byte_identical_to_zarr(videos, tmp_path):
    """The direct writer's shards, with a CRC32C after every frame, are the bytes zarr-python writes."""
    import zarr

    cam = ibl_xvideo.open_camera(videos["bframes"]).isel(time=slice(0, 47))
    frames = cam.values
    for compressors in ("auto", None):
        ours = tmp_path / f"ours-{compressors}.zarr"
        ibl_xvideo.to_zarr(cam, ours, shard_frames=25, compressors=compressors, progress=False)
        written = zarr.open_group(ours, mode="r")[cam.name]
        ref = tmp_path / f"ref-{compressors}.zarr"
        a = zarr.create_array(ref, shape=written.shape, dtype="uint8", chunks=written.chunks, shards=written.shards,
                              compressors=written.compressors, fill_value=written.fill_value)
        a[0:25] = frames[:25]
        a[25:47] = frames[25:47]
        for k in range(2):
            assert (ours / cam.name / "c" / str(k) / "0" / "0").read_bytes() == \
                (ref / "c" / str(k) / "0" / "0").read_bytes()


def test_uncompressed_export(videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["mono"])
    ibl_xvideo.to_zarr(cam, tmp_path / "raw.zarr", compressors=None, progress=False)
    assert checksums(ibl_xvideo.open_store(tmp_path / "raw.zarr").values) == checksums(cam.values)


@pytest.mark.parametrize("where", ["tmp_path", "/dev/shm"])
@pytest.mark.parametrize("size", [(1 << 20) + 4096 * 3 + 17, 3 << 20, 5000])
def test_shard_file_writes_exact_bytes(tmp_path, where, size):
    """Direct I/O for the whole blocks (ext4 here), buffered tail; tmpfs refuses O_DIRECT: buffered."""
    from ibl_xvideo.store.direct import scratch, write_file

    base = tmp_path if where == "tmp_path" else Path(where)
    if not base.is_dir():
        pytest.skip(f"{where} does not exist here")
    buf = scratch(size)[:size]
    buf[:] = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    path = base / f"ibl_xvideo_test_{os.getpid()}_{size}.bin"
    try:
        path.write_bytes(b"x" * (size + 9999))  # a longer file already there is replaced
        write_file(path, buf)
        assert path.read_bytes() == buf.tobytes()
    finally:
        path.unlink(missing_ok=True)


def _fail_shard_write(monkeypatch, at: int, error: OSError):
    """Make the ``at``-th shard file write of this process raise ``error`` (a full or failing disk)."""
    from ibl_xvideo.store import direct

    real, calls = direct.write_file, []

    def failing(path, data):
        calls.append(path)
        if len(calls) == at:
            raise error
        real(path, data)

    monkeypatch.setattr(direct, "write_file", failing)
    return lambda: monkeypatch.setattr(direct, "write_file", real)


@pytest.mark.reliability
def test_a_failed_shard_write_stops_the_export_and_resume_completes_it(videos, tmp_path, monkeypatch):
    """The background shard writer's error reaches the caller; the shards written stay; a rerun finishes."""
    repair = _fail_shard_write(monkeypatch, 4, OSError(28, "No space left on device"))
    cam = ibl_xvideo.open_camera(videos["longgop"])
    store = tmp_path / "full.zarr"
    with pytest.raises(OSError, match="No space left"):  # written here even if a cluster is around
        ibl_xvideo.to_zarr(cam, store, shard_frames=20, progress=False, client=False)
    status = store_status(store)
    assert 1 <= status["shards_done"] < status["shards"] and not status["complete"]
    assert not (tmp_path / "full.zarr.lock").exists()
    repair()
    ibl_xvideo.to_zarr(cam, store, shard_frames=20, progress=False, client=False)
    assert checksums(ibl_xvideo.open_store(store).values) == checksums(cam.values)


def test_resume_keeps_the_store_s_shard_grid(videos, tmp_path, monkeypatch):
    """A partial export resumes on the grid it was started with, whatever the defaults are now."""
    from ibl_xvideo.store import layout

    cam = ibl_xvideo.open_camera(videos["longgop"])
    store = tmp_path / "grid.zarr"
    repair = _fail_shard_write(monkeypatch, 3, OSError(5, "I/O error"))
    with pytest.raises(OSError):
        ibl_xvideo.to_zarr(cam, store, shard_frames=30, progress=False, client=False)
    repair()
    with pytest.raises(errors.XVideoError, match="shard_frames=30"):
        ibl_xvideo.to_zarr(cam, store, shard_frames=50, progress=False, client=False)
    monkeypatch.setattr(layout, "SHARD_BYTES", 17 * 320 * 256)  # the default grid would now be 17 frames
    ibl_xvideo.to_zarr(cam, store, progress=False, client=False)
    status = store_status(store)
    assert status["complete"] and status["shard_frames"] == 30 and status["shards"] == 14
    assert checksums(ibl_xvideo.open_store(store).values) == checksums(cam.values)
    fresh = tmp_path / "fresh.zarr"
    ibl_xvideo.to_zarr(cam, fresh, progress=False, client=False)
    assert store_status(fresh)["shard_frames"] == 17


def test_shard_reader_matches_zarr_on_stores_zarr_python_wrote(tmp_path):
    """Shards written by zarr-python (another blosc compressor, an all-zero frame it leaves out) read the same."""
    import zarr
    from zarr.codecs import BloscCodec

    from ibl_xvideo.store.direct import LocalShards

    rng = np.random.default_rng(5)
    data = rng.integers(0, 255, (23, 24, 32), dtype=np.uint8)
    data[3] = 0  # zarr-python does not write an inner chunk of fill values
    store = tmp_path / "z.zarr"
    arr = zarr.create_array(store, name="camera", shape=data.shape, dtype="uint8", chunks=(1, 24, 32),
                            shards=(10, 24, 32), fill_value=0,
                            compressors=[BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle")])
    arr[:] = data
    raw = (store / "camera" / "c" / "0" / "0" / "0").read_bytes()
    assert np.frombuffer(raw[-(10 * 16 + 4):-4], "<u8").reshape(-1, 2)[3, 0] == np.iinfo(np.uint64).max  # left out
    reader = LocalShards.open(store, "camera")
    assert reader is not None and reader.blosc
    frames = np.array([0, 2, 3, 4, 9, 10, 22])
    np.testing.assert_array_equal(reader.read(frames, slice(None), slice(None)), data[frames])
    np.testing.assert_array_equal(reader.read(frames, slice(20, 2, -3), slice(5, 30)), data[frames][:, 20:2:-3, 5:30])
    # another layout (inner chunks of two frames) is left to zarr-python
    zarr.create_array(store, name="other", shape=data.shape, dtype="uint8", chunks=(2, 24, 32), shards=(10, 24, 32))
    assert LocalShards.open(store, "other") is None


@pytest.mark.reliability
@pytest.mark.parametrize("kind, match", [("full", r"the disk is full .*resumes where it stopped"),
                                         ("ro", r"the file system is read-only .*Choose a store you can write to")])
def test_a_full_or_read_only_file_system_is_a_typed_error(videos, small_tmpfs, kind, match):
    fs = small_tmpfs(kind, 256 << 10)
    cam = ibl_xvideo.open_camera(videos["bframes"])
    store = fs / "cam.zarr"
    with pytest.raises(errors.StoreWriteError, match=rf"{store}: {match}") as info:
        ibl_xvideo.to_zarr(cam, store, compressors=None, progress=False)
    assert info.value.errno == {"full": errno.ENOSPC, "ro": errno.EROFS}[kind]
    if kind == "full":  # what was written is not taken for a complete store
        status = store_status(store)
        assert status is None or not status["complete"]
        with pytest.raises(errors.XVideoError, match="partial|not an ibl-xvideo"):
            ibl_xvideo.open_store(store)


@pytest.mark.reliability
def test_an_export_larger_than_the_free_space_is_refused_with_both_numbers(videos, small_tmpfs):
    fs = small_tmpfs("rw", 6 << 20)
    cam = ibl_xvideo.open_camera(videos["bframes"])  # 300 frames of 320x256: 24.6 MB uncompressed
    store = fs / "cam.zarr"
    with pytest.raises(errors.StoreWriteError,
                       match=r"needs about (19|2\d)\.\d MB more and its disk has \d\.\d MB free"):
        ibl_xvideo.to_zarr(cam, store, compressors=None, progress=False)
    with pytest.raises(errors.StoreWriteError, match="the disk is full"):  # told to try anyway: it fails later
        ibl_xvideo.to_zarr(cam, store, compressors=None, check_space=False, progress=False)
    assert store_status(store)["shards_done"] >= 1 and not store_status(store)["complete"]
