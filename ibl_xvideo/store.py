"""Export decoded frames to Zarr (v3), resumably, and reopen them as a cache.

Layout of a store (a Zarr v3 group):

``<label>Camera``
    ``(time, y, x)`` uint8, sharded: one shard per frame range decoded by one task
    (keyframe-aligned when the video's keyframe interval is regular), inner chunks of
    one frame, so a random frame reads one small compressed chunk.
``time``, ``frame``
    Coordinates (float64 s, int64 frame index in the video).
``_ibl_xvideo/done``
    One flag per shard, set only after the shard is written: an export that is
    killed resumes with the shards not flagged, and a store is complete only when
    every flag is set and the group's ``ibl_xvideo.complete`` attribute is true.

Group attributes hold the camera's attrs and ``ibl_xvideo``: the source identity
(size, mtime, frame count, pixels, frame range, ROI) that decides whether a cache is
still valid for a video.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import mmap
import os
import shutil
import socket
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .decode import each_frame, read_frames
from .errors import DependencyError, StoreCorruptError, StoreLockedError, StoreWriteError, XVideoError
from .index import VideoIndex, get_index
from .planning import frames_dask, outer_key

__all__ = ["to_zarr", "open_store", "store_status", "store_identity", "parse_roi", "DEFAULT_SHARD_FRAMES"]

_log = logging.getLogger(__name__)
#: 2: a CRC32C after every frame's chunk, and the shards written all-fill recorded (none may be missing).
STORE_VERSION = 2
#: Shard length along time when the video's keyframe interval is irregular.
DEFAULT_SHARD_FRAMES = 250
#: Largest shard (bytes of decoded frames) by default: 250 frames of the left camera (1280x1024)
#: would be 330 MB, and each exporting thread holds two shards.
SHARD_BYTES = 64 * 2**20


def parse_roi(roi) -> tuple[slice, slice]:
    """A region of interest as (y, x) slices: from ``'y0:y1,x0:x1'``, a pair of slices or None."""
    if roi is None:
        return slice(None), slice(None)
    if isinstance(roi, str):
        try:
            parts = [p.split(":") for p in roi.split(",")]
            ys, xs = (slice(*(int(v) if v else None for v in p)) for p in parts)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"roi must look like 'y0:y1,x0:x1', got {roi!r}") from exc
        return ys, xs
    ys, xs = roi
    return ys, xs


#: The default codec (measured fastest to write on IBL-like frames, see docs/benchmarks.md).
AUTO_BLOSC = {"cname": "lz4", "clevel": 5, "shuffle": "bitshuffle"}


def _compressors(choice) -> list:
    """The frame chunks' bytes-to-bytes codecs: the compressor chosen, then a CRC32C of its output."""
    from zarr.codecs import BloscCodec, Crc32cCodec

    if choice == "auto":
        chosen = [BloscCodec(**AUTO_BLOSC)]
    elif choice is None:
        chosen = []
    else:
        chosen = list(choice) if isinstance(choice, (list, tuple)) else [choice]
    return chosen + [Crc32cCodec()]


_tls = threading.local()
#: Block size for O_DIRECT writes (a multiple of every common logical block size).
_ALIGN = 4096


def _scratch(nbytes: int, buffer: int = 0) -> np.ndarray:
    """Return this thread's page-aligned scratch buffer ``buffer`` (of at least ``nbytes``), as uint8.

    Reused from shard to shard: fresh memory costs a page fault per 4 KiB page, which
    on virtual machines is as slow as compressing the page. Two buffers let a shard
    be built while the previous one is being written.
    """
    bufs = getattr(_tls, "scratch", None)
    if bufs is None:
        bufs = _tls.scratch = {}
    arr = bufs.get(buffer)
    if arr is None or arr.size < nbytes:
        buf = mmap.mmap(-1, -(-nbytes // 2**21) * 2**21)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                buf.madvise(mmap.MADV_HUGEPAGE)
            except OSError:  # pragma: no cover - kernels without transparent huge pages
                pass
        arr = bufs[buffer] = np.frombuffer(buf, np.uint8)
    return arr


class _ShardBuilder:
    """Bytes of one shard in Zarr v3 ``sharding_indexed`` layout, built frame by frame.

    Inner chunks of one frame (:data:`AUTO_BLOSC`-compressed, or raw), each followed by
    the CRC32C of its bytes, in a reusable page-aligned buffer, then the little-endian
    (offset, nbytes) index and its CRC32C.
    Byte-identical to what zarr-python writes for the same array (tested), at the
    speed of the compressor alone.
    """

    def __init__(self, slots: int, frame_nbytes: int, compress: bool = True, buffer: int = 0):
        import google_crc32c
        import numcodecs

        self._crc = google_crc32c.value
        self.index = np.full((slots, 1, 1, 2), np.iinfo(np.uint64).max, dtype="<u8")
        # blosc adds at most 16 bytes to incompressible data
        self.buf = _scratch(slots * (frame_nbytes + 36) + self.index.nbytes + 4, buffer)
        self.offset = 0
        self.codec = None
        if compress:
            shuffle = {"noshuffle": numcodecs.Blosc.NOSHUFFLE, "shuffle": numcodecs.Blosc.SHUFFLE,
                       "bitshuffle": numcodecs.Blosc.BITSHUFFLE}[AUTO_BLOSC["shuffle"]]
            self.codec = numcodecs.Blosc(cname=AUTO_BLOSC["cname"], clevel=AUTO_BLOSC["clevel"],
                                         shuffle=shuffle, blocksize=0)

    def _append(self, data) -> int:
        data = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data.reshape(-1)
        o, n = self.offset, data.size
        self.buf[o:o + n] = data
        self.offset += n
        return o

    def add(self, slot: int, frame: np.ndarray) -> None:
        """Encode ``frame`` as inner chunk ``slot``."""
        frame = np.ascontiguousarray(frame)
        chunk = self.codec.encode(frame) if self.codec is not None else frame
        n = len(chunk) if self.codec is not None else frame.nbytes
        self.index[slot, 0, 0] = (self._append(chunk), n + 4)
        self._append(self._crc(chunk if isinstance(chunk, bytes) else chunk.tobytes()).to_bytes(4, "little"))

    def finish(self) -> np.ndarray:
        """The shard's bytes (a view of the scratch buffer, valid until the next shard)."""
        import google_crc32c

        ib = self.index.tobytes()
        self._append(ib)
        self._append(google_crc32c.value(ib).to_bytes(4, "little"))
        return self.buf[:self.offset]


def _write_file(path: Path, data: np.ndarray) -> None:
    """Write ``data`` (a page-aligned uint8 buffer) to a new file ``path``.

    The whole 4 KiB blocks go with ``O_DIRECT`` where the system supports it: the
    disk reads them straight from our buffer, where the page cache would copy them at
    a CPU cost (measured on a 2-core VM: 530 MB/s of CPU buffered, 2.8 GB/s of disk and
    almost no CPU direct). The tail, and everything on systems or file systems
    without ``O_DIRECT``, is written normally.
    """
    n = data.size
    head = n - n % _ALIGN if hasattr(os, "O_DIRECT") and n >= (1 << 20) else 0
    if head:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o666)
        except OSError:
            head = 0
        else:
            try:
                done, view = 0, memoryview(data)
                while done < head:
                    done += os.write(fd, view[done:head])
            except OSError:  # e.g. EINVAL: this file system refuses direct I/O after all
                head = 0
            finally:
                os.close(fd)
    with open(path, "r+b" if head else "wb") as fid:
        fid.seek(head)
        fid.write(memoryview(data)[head:])
        fid.truncate()


def store_identity(index: VideoIndex, pixels: str, frames: tuple[int, int], roi: tuple[slice, slice]) -> dict:
    """What a store of ``index``'s frames ``frames`` (cropped by ``roi``) must record to be that export.

    Compared with :func:`store_status` to decide whether a store holds these frames.
    """
    ys, xs = roi
    return {
        "size": index.size,
        "mtime_ns": index.mtime_ns,
        "fingerprint": index.fingerprint,
        "length": index.length,
        "last_pts": int(index.frame_pts[-1]),
        "pixels": pixels,
        "frames": [int(frames[0]), int(frames[1])],
        "roi": [[ys.start, ys.stop, ys.step], [xs.start, xs.stop, xs.step]],
        "version": STORE_VERSION,
    }


def _shard_frames(index: VideoIndex, first: int, frame_bytes: int) -> int:
    """Frames per shard by default.

    The usual keyframe interval (shards then start at keyframes), at most
    :data:`SHARD_BYTES` of frames (an exporting thread holds two shards in memory).
    """
    cap = max(16, SHARD_BYTES // max(frame_bytes, 1))
    gops = np.diff(index.key_frames)
    if gops.size and first in set(index.key_frames.tolist()):
        vals, counts = np.unique(gops, return_counts=True)
        common = int(vals[np.argmax(counts)])
        if 16 <= common <= 600:
            return min(common, cap)
    return min(DEFAULT_SHARD_FRAMES, cap)


def _is_local(store) -> bool:
    return isinstance(store, (str, os.PathLike)) and "://" not in str(store)


class _Lock:
    """An exclusive lock on a local store: one exporter at a time, stale locks taken over."""

    def __init__(self, store):
        self.path = Path(store).with_name(Path(store).name + ".lock") if _is_local(store) else None
        self.held = False

    def __enter__(self):
        if self.path is None:
            return self
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    other = json.loads(self.path.read_text() or "{}")
                except (OSError, ValueError):
                    other = {}
                if other.get("host") == me["host"] and not _alive(other.get("pid")):
                    _log.warning("Removing stale lock %s (pid %s is gone)", self.path, other.get("pid"))
                    self.path.unlink(missing_ok=True)
                    continue
                raise StoreLockedError(
                    f"{self.path.with_suffix('')} is being written by pid {other.get('pid')} on "
                    f"{other.get('host')}: wait for it to finish (or remove {self.path} if it died)."
                ) from None
            with os.fdopen(fd, "w") as fid:
                json.dump(me, fid)
            self.held = True
            return self
        raise StoreLockedError(f"Could not lock {self.path}: another exporter keeps taking it; try again.")

    def __exit__(self, *exc):
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_shard(location: str, index: VideoIndex, name: str, k: int, a: int, b: int, first: int,
                 ys: slice, xs: slice, pixels: str, storage_options: dict | None, slots: int = 0,
                 fast: str | None = None) -> int:
    """Decode store frames [a, b) (video frames first+a..), write them, then flag the shard.

    ``fast`` ('blosc' or 'raw'): a local store with the default codec (or none) gets the
    shard file written directly (see :func:`_build_shard`); else zarr writes it.
    """
    if fast:
        return _store_shard(location, name, k, b - a, _build_shard(index, a, b, first, ys, xs, pixels, slots,
                                                                    fast), storage_options)
    import zarr

    group = zarr.open_group(location, mode="r+", storage_options=storage_options)
    frames = read_frames(index, np.arange(first + a, first + b), y=ys, x=xs, pixels=pixels)
    group[name][a:b] = frames
    # zarr-python writes no file for a shard of the fill value alone: recorded, so that a missing file is damage
    group["_ibl_xvideo/filled"][k] = not frames.any()
    group["_ibl_xvideo/done"][k] = True
    return b - a


def _write_run(index: VideoIndex, shards: list) -> int:
    """Write consecutive shards in order, in one task; shards already flagged (a retried task) are skipped.

    ``shards``: :func:`_write_shard` arguments without the index. Returns the frames
    the run covers.
    """
    import zarr

    location, storage_options = shards[0][0], shards[0][9]
    done = zarr.open_group(location, mode="r+", storage_options=storage_options)["_ibl_xvideo/done"][:]
    total = 0
    try:
        for args in shards:
            k, a, b = args[2:5]
            if not done[k]:
                _write_shard(args[0], index, *args[1:])
            total += b - a
    finally:  # a long-lived worker thread does not keep a shard's worth of memory between tasks
        getattr(_tls, "scratch", {}).clear()
    return total


def _build_shard(index: VideoIndex, a: int, b: int, first: int, ys: slice, xs: slice, pixels: str, slots: int,
                 fast: str, buffer: int = 0) -> np.ndarray:
    """The bytes of the shard holding store frames [a, b), in this thread's scratch buffer ``buffer``.

    Frames are encoded as they come out of the decoder (still in the CPU cache).
    """
    h, w = len(range(index.height)[ys]), len(range(index.width)[xs])
    builder = _ShardBuilder(slots, h * w, compress=fast == "blosc", buffer=buffer)
    each_frame(index, first + a, first + b, lambda i, frame: builder.add(i - first - a, frame),
               y=ys, x=xs, pixels=pixels)
    return builder.finish()


def _store_shard(location: str, name: str, k: int, n: int, data: np.ndarray, storage_options=None,
                 group=None) -> int:
    """Write shard ``k``'s bytes next to its place, rename it into place, then flag it done."""
    path = Path(location) / name / "c" / str(k) / "0" / "0"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".0.{os.getpid()}.{threading.get_ident()}.tmp")
    _write_file(tmp, data)
    os.replace(tmp, path)
    if group is None:
        import zarr

        group = zarr.open_group(location, mode="r+", storage_options=storage_options)
    group["_ibl_xvideo/done"][k] = True
    return n


def _require_zarr(what: str):
    """zarr-python 3, or a :class:`DependencyError` saying how to get it."""
    import sys

    try:
        import zarr
    except ImportError:
        zarr = None
    if zarr is not None and int(zarr.__version__.split(".")[0]) >= 3:
        return zarr
    py = ".".join(map(str, sys.version_info[:3]))
    how = ("it needs Python >= 3.11 (this is Python " + py + "): use a newer Python for Zarr; reading, "
           "QC and Dask work here" if sys.version_info < (3, 11) else "pip install 'zarr>=3'")
    raise DependencyError(f"{what} needs zarr-python >= 3 (the Zarr v3 format): {how}.")


def store_status(store, storage_options: dict | None = None) -> dict | None:
    """What a store holds: its ``ibl_xvideo`` attributes plus shards done; None if it is not one."""
    zarr = _require_zarr(f"Reading the Zarr store {store}")

    try:  # a missing node is a FileNotFoundError in every zarr-python 3 release (a subclass of it later)
        group = zarr.open(store, mode="r", storage_options=storage_options)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(group, zarr.Group):  # an array: not a store of ours
        return None
    meta = dict(group.attrs.get("ibl_xvideo", {}))
    if not meta:
        return None
    try:
        done = group["_ibl_xvideo/done"][:]
    except (KeyError, FileNotFoundError):  # killed while creating the store: nothing written yet
        return None
    meta["shards_done"] = int(done.sum())
    meta["shards"] = int(done.size)
    # shards of the fill value alone: recorded since store version 2 (None: unknown, any may lack a file)
    meta["shards_filled"] = (sorted(np.flatnonzero(group["_ibl_xvideo/filled"][:]).tolist())
                             if "filled" in group["_ibl_xvideo"] else None)
    if meta["shards_filled"] is None:
        meta["shards_missing"] = []
    else:
        have = _shard_files(os.fspath(store), meta["name"], storage_options)
        filled = set(meta["shards_filled"])
        meta["shards_missing"] = [k for k in np.flatnonzero(done).tolist() if k not in have and k not in filled]
    meta["complete"] = bool(meta.get("complete")) and bool(done.all()) and not meta["shards_missing"]
    return meta


def to_zarr(
    camera: xr.DataArray,
    store,
    *,
    time=None,
    roi=None,
    progress: bool = True,
    compressors: Any = "auto",
    shard_frames: int | None = None,
    overwrite: bool = False,
    repair: bool = False,
    check_space: bool = True,
    storage_options: dict | None = None,
    client=None,
):
    """Write a camera's decoded frames to a Zarr v3 store, resumably; return the store.

    Parameters
    ----------
    camera : xarray.DataArray
        From :func:`ibl_xvideo.open_camera` (any contiguous range of its frames).
    store : str, PathLike or fsspec URL
        Destination. An interrupted export to the same store resumes where it stopped.
    time : slice, optional
        Session times to keep, e.g. ``slice(100, 200)`` (seconds, inclusive as ``.sel``).
    roi : str or (slice, slice), optional
        Region kept, ``'y0:y1,x0:x1'`` or a pair of slices; cropped right after decoding.
    progress : bool
        Show a progress bar.
    compressors : 'auto', None or zarr codecs
        'auto': blosc lz4 with bit shuffling; None: no compression (1.5-5x bigger,
        measured here 1.4x faster to write: lz4 costs more than half as much as
        decoding a frame); see docs/benchmarks.md.
    shard_frames : int, optional
        Frames per shard; default the video's keyframe interval when regular, else
        250, at most 64 MiB of frames (:data:`SHARD_BYTES`).
    overwrite : bool
        Start afresh even if the store holds a (partial) export of the same selection.
    repair : bool
        Read the whole store, checking every frame's checksum, and rewrite only the shards
        that fail (shards whose file is missing are rewritten on any call).
    check_space : bool
        Once the first shard is written, estimate what the rest will take and refuse
        (:class:`StoreWriteError`, with both numbers) when the disk has less free. The
        estimate is shown in the progress bar.
    storage_options : dict, optional
        fsspec options for URL stores.
    client : distributed.Client or False, optional
        Cluster whose workers write the shards; default the active client if there is
        one. False: write in this process (threads).

    Returns
    -------
    The ``store`` argument, ready for :func:`open_store` / ``xr.open_zarr``.

    Raises
    ------
    XVideoError
        If the store holds another video or selection (pass ``overwrite=True``), or
        another process is writing it.
    DependencyError
        Without zarr-python 3 (it needs Python >= 3.11).
    """
    zarr = _require_zarr(f"Exporting {camera.name} to Zarr")

    if time is not None:
        camera = camera.sel(time=time)
    frames = np.asarray(camera.frame.values)
    if frames.size == 0:
        raise XVideoError("Nothing to export: the time selection is empty.")
    if np.any(np.diff(frames) != 1):
        raise XVideoError("to_zarr exports a contiguous range of frames: select with time=slice(...).")
    source = camera.attrs.get("source")
    if not source:
        raise XVideoError("to_zarr needs a camera opened with ibl_xvideo.open_camera (no 'source' attribute).")
    index = get_index(source)
    pixels = camera.attrs.get("pixels", "ibllib")
    ys, xs = parse_roi(roi)
    first, n = int(frames[0]), int(frames.size)
    h = len(range(index.height)[ys])
    w = len(range(index.width)[xs])
    ident = store_identity(index, pixels, (first, first + n), (ys, xs))
    name = camera.name or "camera"
    S = int(shard_frames or _shard_frames(index, first, h * w))
    n_shards = -(-n // S)
    location = os.fspath(store) if isinstance(store, os.PathLike) else store
    if _is_local(location):  # the workers writing shards may run in another directory
        location = os.path.abspath(location)

    try:
        with _Lock(location):
            status = None if overwrite else store_status(location, storage_options)
            if status is not None:
                mine = {k: status.get(k) for k in ident}
                if mine != ident:
                    raise XVideoError(
                        f"{location} holds another export ({status.get('source', '?')}, frames "
                        f"{status.get('frames')}); pass overwrite=True to replace it, or use another store."
                    )
                if shard_frames and int(shard_frames) != status["shard_frames"]:
                    raise XVideoError(
                        f"{location} was started with shard_frames={status['shard_frames']}: resume it with that "
                        "(or without shard_frames), or pass overwrite=True to start again.")
                S = int(status["shard_frames"])  # resume on the store's own grid
                n_shards = -(-n // S)
                group = zarr.open_group(location, mode="r+", storage_options=storage_options)
                damaged = set(status["shards_missing"])
                if repair:
                    damaged |= set(_damaged_shards(location, name, status, storage_options))
                if damaged:
                    _log.warning("%s: rewriting damaged shards %s", location, sorted(damaged))
                    for k in sorted(damaged):
                        group["_ibl_xvideo/done"][k] = False
                elif status["complete"]:
                    return store
            else:
                if not overwrite:
                    _refuse_foreign(location, storage_options)
                group = zarr.open_group(location, mode="w", storage_options=storage_options, zarr_format=3)
                attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in camera.attrs.items()}
                attrs["roi"] = str(roi) if roi is not None else ""
                group.attrs.update({**attrs, "ibl_xvideo": {**ident, "source": source, "name": name,
                                                            "shard_frames": S, "complete": False}})
                group.create_array(name, shape=(n, h, w), dtype="uint8", chunks=(1, h, w), shards=(S, h, w),
                                   compressors=_compressors(compressors), fill_value=0,
                                   dimension_names=("time", "y", "x"))
                t = group.create_array("time", shape=(n,), dtype="float64", chunks=(n,), dimension_names=("time",))
                t[:] = camera.time.values
                t.attrs["units"] = "s"
                group.create_array("frame", shape=(n,), dtype="int64", chunks=(n,),
                                   dimension_names=("time",))[:] = frames
                bookkeeping = group.create_group("_ibl_xvideo")
                for flags in ("done", "filled"):
                    bookkeeping.create_array(flags, shape=(n_shards,), dtype="bool", chunks=(1,), fill_value=False)
            done = group["_ibl_xvideo/done"][:]
            todo = [k for k in range(n_shards) if not done[k]]
            fast = ({"auto": "blosc", None: "raw"}.get(compressors) if isinstance(compressors, (str, type(None)))
                    else None) if _is_local(location) else None
            estimate = None
            if _is_local(location) and len(todo) > 2:  # the first shard measures what the rest will take
                _run_shards(location, index, name, todo[:1], S, n, first, ys, xs, pixels, storage_options, False,
                            fast, False)
                estimate = _check_space(location, name, todo[0], todo[1:], S, n, check_space)
                todo = todo[1:]
            _run_shards(location, index, name, todo, S, n, first, ys, xs, pixels, storage_options, progress, fast,
                        client, estimate)
            meta = dict(group.attrs["ibl_xvideo"])
            meta["complete"] = bool(group["_ibl_xvideo/done"][:].all())
            group.attrs["ibl_xvideo"] = meta
            if not meta["complete"]:  # pragma: no cover - a task failed without raising
                raise XVideoError(f"Export to {location} did not complete; run it again to resume.")
    except OSError as exc:  # the file system's word: typed, with the store and what to do
        if isinstance(exc, XVideoError):
            raise
        raise StoreWriteError(exc.errno, _write_failure(location, exc)) from exc
    return store


def _write_failure(location, exc: OSError) -> str:
    """What a failed write of a store means to the user, from its errno."""
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission is denied",
            errno.EPERM: "permission is denied"}.get(exc.errno, f"the system refused a write ({exc})")
    todo = ("free some space (or choose another store), then run the same export again: it resumes where it "
            "stopped" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "choose a store you can write to")
    return f"Cannot write the Zarr store {location}: {what} ({exc.strerror or exc}). {todo.capitalize()}."


def _refuse_foreign(location, storage_options) -> None:
    """Raise if ``location`` holds a Zarr store that is not an ibl-xvideo export."""
    import zarr

    try:
        node = zarr.open(location, mode="r", storage_options=storage_options)
    except Exception:  # nothing readable there: a new store
        return
    if isinstance(node, zarr.Array) or (
            "ibl_xvideo" not in node.attrs and (len(list(node.keys())) or dict(node.attrs))):
        raise XVideoError(f"{location} holds other Zarr data: pass overwrite=True to replace it.")


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.2f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.1f} MB"


def _check_space(location: str, name: str, k: int, rest: list, S: int, n: int, check: bool) -> int | None:
    """Bytes the shards ``rest`` will take, from shard ``k``'s file; refuse when the disk has less free."""
    try:
        per_frame = (Path(location) / name / "c" / str(k) / "0" / "0").stat().st_size / (min(n, (k + 1) * S) - k * S)
    except FileNotFoundError:  # a shard of the fill value alone: it measures nothing
        return None
    need = int(per_frame * sum(min(n, (j + 1) * S) - j * S for j in rest))
    free = shutil.disk_usage(location).free
    if check and need > free:
        raise StoreWriteError(errno.ENOSPC, (
            f"The export to {location} needs about {_gb(need)} more and its disk has {_gb(free)} free: free some "
            "space or choose another store (to try anyway: check_space=False; an export resumes where it stops)."))
    return need


def _run_shards(location, index, name, todo, S, n, first, ys, xs, pixels, storage_options, progress, fast,
                client=None, estimate: int | None = None):
    """Write the shards, on the active dask.distributed client if there is one, else threads."""
    from tqdm.auto import tqdm

    location = os.fspath(location)
    args = [(location, index, name, k, k * S, min(n, (k + 1) * S), first, ys, xs, pixels, storage_options, S,
             fast) for k in todo]
    bar = tqdm(total=sum(a[5] - a[4] for a in args), desc=f"export {name}", unit="frame",
               disable=not progress)
    if estimate is not None:
        bar.set_postfix_str(f"~{_gb(estimate)} to write")
    try:
        if str(location).startswith("memory://"):  # workers cannot see this process's memory
            client = False
        if client is None:
            try:
                from distributed import get_client

                client = get_client()
            except (ImportError, ValueError):
                client = None
        if client:
            from distributed import as_completed

            index_f = client.scatter(index, broadcast=True)
            # runs of consecutive shards (a decoder goes on across their boundaries), about
            # four runs per worker thread so that the cluster stays balanced
            threads = max(1, sum(client.nthreads().values()))
            size = max(1, len(args) // (4 * threads))
            runs = [[a[:1] + a[2:] for a in args[i:i + size]] for i in range(0, len(args), size)]
            futures = [client.submit(_write_run, index_f, run, pure=False, retries=2) for run in runs]
            for fut in as_completed(futures):
                bar.update(fut.result())
        else:
            _run_local(args, bar)
    finally:
        bar.close()


def _run_local(args: list, bar) -> None:
    """Write shards on threads, each thread taking a run of consecutive shards in order.

    Shards are a regular grid but keyframes need not be: a thread that goes on from
    one shard to the next continues its decoder where it stopped, instead of seeking
    back to the keyframe before the shard (up to a keyframe interval of wasted work
    per shard). With the direct writer, a shard's file is written in the background
    while the thread builds the next one (two scratch buffers per thread).
    """
    from concurrent.futures import ThreadPoolExecutor

    workers = min(os.cpu_count() or 1, len(args)) or 1
    bounds = np.linspace(0, len(args), workers + 1).round().astype(int)
    runs = [args[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    lock, stop = threading.Lock(), threading.Event()

    def report(fut):
        if fut.exception() is None:
            with lock:
                bar.update(fut.result())

    def run(shards, writer):
        import zarr

        (location, index, name, _, _, _, first, ys, xs, pixels, storage_options, slots, fast) = shards[0]
        group = zarr.open_group(location, mode="r+", storage_options=storage_options)
        pending = None
        try:
            for i, (_, _, _, k, a, b, *_) in enumerate(shards):
                if stop.is_set():
                    return
                if not fast:
                    with lock:
                        bar.update(_write_shard(*shards[i]))
                    continue
                data = _build_shard(index, a, b, first, ys, xs, pixels, slots, fast, buffer=i % 2)
                if pending is not None:
                    pending.result()  # its buffer is the one the next shard is built in
                pending = writer.submit(_store_shard, location, name, k, b - a, data, storage_options, group)
                pending.add_done_callback(report)
        finally:
            if pending is not None:
                pending.result()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ibl_xvideo_write") as writer, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ibl_xvideo_export") as pool:
        futures = [pool.submit(run, r, writer) for r in runs]
        try:
            for fut in futures:
                fut.result()
        except BaseException:
            stop.set()
            raise


_NO_CHUNK = np.iinfo(np.uint64).max


def _damaged(store, k: int, what: str) -> str:
    """The message of a :class:`StoreCorruptError`: the store, the shard, what is wrong and what to do."""
    return (f"The Zarr store {store} is damaged: shard {k} ({what}). Run ibl_xvideo.to_zarr(camera, store, "
            "repair=True) with the camera and selection it was made from (for a cache: the camera opened "
            "without cache=) to rewrite only the damaged shards, or delete the store.")


def _damaged_shards(location: str, name: str, status: dict, storage_options: dict | None) -> list[int]:
    """The shards of a store whose frames cannot be read back intact (every checksum checked)."""
    import zarr

    arr = zarr.open_group(location, mode="r", storage_options=storage_options)[name]
    reader = _StoreFrames.of(location, status, arr.shape, arr.dtype, "verify", storage_options)
    S, n = reader.shard_frames, reader.length
    bad = []
    for k in range(-(-n // S)):
        try:
            reader._raw((np.arange(k * S, min(n, (k + 1) * S)), slice(None), slice(None)))
        except StoreCorruptError:
            bad.append(k)
    return bad


def _shard_files(location: str, name: str, storage_options: dict | None) -> set[int]:
    """The shards of array ``name`` that have a file (one listing of the store's ``c/`` folder)."""
    if _is_local(location):
        root = Path(location) / name / "c"
        return {int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "0" / "0").is_file()} \
            if root.is_dir() else set()
    import fsspec

    fs, path = fsspec.core.url_to_fs(f"{location.rstrip('/')}/{name}/c", **(storage_options or {}))
    out = set()
    for f in fs.find(path):
        parts = f[len(path.rstrip("/")) + 1:].split("/")
        if len(parts) == 3 and parts[0].isdigit() and parts[1:] == ["0", "0"]:
            out.add(int(parts[0]))
    return out


class _LocalShards:
    """Frames of a local store read straight from its shard files (the layout :func:`to_zarr` writes).

    Zarr v3 ``sharding_indexed`` shards of one-frame inner chunks, raw or blosc, index
    at the end with its CRC32C: each shard's index is read once per request, the
    wanted chunks in one read, and each is decompressed straight into the output.
    zarr-python reads the same bytes at about twice the cost (its per-chunk machinery);
    any other layout is read through zarr.
    """

    def __init__(self, folder: Path, shard_frames: int, height: int, width: int, blosc: bool, fill: int,
                 crc: bool = False, filled: frozenset = frozenset()):
        self.folder, self.S, self.h, self.w = folder, shard_frames, height, width
        self.blosc, self.fill, self.crc = blosc, fill, crc
        #: shards that hold only the fill value (no file is their right content); None: any may be missing
        self.filled = filled

    @classmethod
    def open(cls, store, name: str, filled: frozenset | None = frozenset()) -> _LocalShards | None:
        """The reader of ``store``'s array ``name``, or None when it is not local or not this layout.

        ``filled``: the shards written as the fill value alone; any other missing shard file
        is a :class:`StoreCorruptError` (None: a store of an older version, whose shards of
        only the fill value were not recorded, reads any missing shard as the fill value).
        """
        if not _is_local(store):
            return None
        folder = Path(store) / name
        try:
            meta = json.loads((folder / "zarr.json").read_text())
            (shard,) = meta["codecs"]
            conf = shard["configuration"]
            inner = [c["name"] for c in conf["codecs"]]
            ok = (shard["name"] == "sharding_indexed" and meta["data_type"] == "uint8" and len(meta["shape"]) == 3
                  and conf["chunk_shape"] == [1] + meta["shape"][1:]
                  and inner in (["bytes"], ["bytes", "blosc"], ["bytes", "crc32c"], ["bytes", "blosc", "crc32c"])
                  and [c["name"] for c in conf["index_codecs"]] == ["bytes", "crc32c"]
                  and conf.get("index_location", "end") == "end"
                  and meta["chunk_key_encoding"] == {"name": "default", "configuration": {"separator": "/"}}
                  and not meta.get("storage_transformers"))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not ok:
            return None
        return cls(folder, meta["chunk_grid"]["configuration"]["chunk_shape"][0], meta["shape"][1],
                   meta["shape"][2], "blosc" in inner, int(meta.get("fill_value") or 0), inner[-1] == "crc32c",
                   filled)

    def read(self, frames: np.ndarray, ysl: slice, xsl: slice) -> np.ndarray:
        """Frames ``frames`` (sorted, distinct), cropped, as ``(n, h, w)`` uint8; shards read in parallel."""
        hh, ww = len(range(self.h)[ysl]), len(range(self.w)[xsl])
        out = np.empty((frames.size, hh, ww), np.uint8)
        shards = frames // self.S
        jobs = [(int(k), np.flatnonzero(shards == k)) for k in np.unique(shards)]

        def job(item):
            k, rows = item
            self._read_shard(k, frames[rows] - k * self.S, out, rows, ysl, xsl)

        if len(jobs) > 1:
            _read_runs(job, jobs, _StoreFrames.THREADS)
        elif jobs:
            job(jobs[0])
        return out

    def _read_shard(self, k: int, slots: np.ndarray, out: np.ndarray, rows: np.ndarray, ysl: slice, xsl: slice):
        import google_crc32c
        import numcodecs

        codec = numcodecs.Blosc()  # blosc chunks describe their own compressor and shuffle
        path = self.folder / "c" / str(k) / "0" / "0"
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            if self.filled is not None and k not in self.filled:
                raise StoreCorruptError(_damaged(self.folder.parent, k, "its shard file is missing")) from None
            out[rows] = self.fill  # a shard written as the fill value alone
            return
        except OSError as exc:
            raise StoreCorruptError(_damaged(self.folder.parent, k, f"its file cannot be read: {exc}")) from exc
        try:
            n_index = self.S * 16 + 4
            ib = os.pread(fd, n_index, max(os.fstat(fd).st_size - n_index, 0))
            if len(ib) != n_index or google_crc32c.value(ib[:-4]) != int.from_bytes(ib[-4:], "little"):
                raise StoreCorruptError(_damaged(self.folder.parent, k, "its index fails its checksum (the file "
                                                                         "is short or damaged)"))
            index = np.frombuffer(ib, "<u8", count=2 * self.S).reshape(-1, 2)[slots]
            have = index[:, 0] != _NO_CHUNK
            buf, base = None, 0
            if have.any():
                lo, hi = int(index[have, 0].min()), int((index[have, 0] + index[have, 1]).max())
                if hi - lo <= 2 * int(index[have, 1].sum()) + (1 << 20):  # the chunks are close: one read
                    buf, base = memoryview(os.pread(fd, hi - lo, lo)), lo
            crop = (ysl, xsl) != (slice(None), slice(None))
            tmp = np.empty((self.h, self.w), np.uint8) if crop and self.blosc else None
            for j, (o, nb) in enumerate(index.tolist()):
                dest = out[rows[j]]
                if o == _NO_CHUNK:
                    dest[...] = self.fill
                    continue
                chunk = buf[o - base:o - base + nb] if buf is not None else os.pread(fd, nb, o)
                if self.crc:
                    if len(chunk) != nb or nb < 4 or google_crc32c.value(bytes(chunk[:-4])) != int.from_bytes(
                            chunk[-4:], "little"):
                        raise StoreCorruptError(_damaged(self.folder.parent, k, f"frame {k * self.S + int(slots[j])}"
                                                                                " fails its checksum"))
                    chunk, nb = chunk[:-4], nb - 4
                if self.blosc:
                    # blosc's header: uncompressed size at bytes 4-8, compressed size at 12-16
                    if nb < 16 or (int.from_bytes(chunk[4:8], "little"), int.from_bytes(chunk[12:16], "little")) != (
                            self.h * self.w, nb):
                        raise StoreCorruptError(_damaged(self.folder.parent, k, f"chunk {int(slots[j])} does not "
                                                                                f"hold a {self.w}x{self.h} frame"))
                    codec.decode(chunk, out=tmp if crop else dest)
                    if crop:
                        dest[...] = tmp[ysl, xsl]
                else:
                    if nb != self.h * self.w:
                        raise StoreCorruptError(_damaged(self.folder.parent, k, f"chunk {int(slots[j])} does not "
                                                                                f"hold a {self.w}x{self.h} frame"))
                    dest[...] = np.frombuffer(chunk, np.uint8).reshape(self.h, self.w)[ysl, xsl]
        except OSError as exc:  # EIO and the like, mid-read
            raise StoreCorruptError(_damaged(self.folder.parent, k, f"its file cannot be read: {exc}")) from exc
        finally:
            os.close(fd)


class _StoreFrames(BackendArray):
    """Lazy ``(time, y, x)`` frames of a store's array.

    Local stores in :func:`to_zarr`'s layout are read straight from their shard files
    (:class:`_LocalShards`); others through zarr-python, one run of consecutive frames
    at a time (it reads an integer-array selection of a sharded array several times
    slower than the same frames as slices), in parallel. Picklable: holds the store's
    location, not open arrays.
    """

    #: Threads reading the shards or runs of one request (reads wait on the disk; blosc releases the GIL).
    THREADS = 4

    def __init__(self, store, name: str, shape: tuple, dtype, token: str, storage_options: dict | None = None,
                 shard_frames: int = 1, filled: frozenset | None = None):
        self.store, self.name, self.storage_options, self.filled = store, name, storage_options, filled
        self.shape, self.dtype, self.token = tuple(shape), np.dtype(dtype), token
        self.length, self.shard_frames = self.shape[0], max(int(shard_frames), 1)
        self._array = self._local = None
        self._opened = False

    @classmethod
    def of(cls, location, status: dict, shape: tuple, dtype, token: str, storage_options=None) -> _StoreFrames:
        """The frames of the store whose :func:`store_status` is ``status`` (its shard grid, its all-fill shards)."""
        filled = None if status["shards_filled"] is None else frozenset(status["shards_filled"])
        return cls(location, status["name"], shape, dtype, token, storage_options, status["shard_frames"], filled)

    def __getstate__(self):
        return {**self.__dict__, "_array": None, "_local": None, "_opened": False}

    def __dask_tokenize__(self):
        return ("ibl_xvideo._StoreFrames", self.token)

    @property
    def array(self):
        if self._array is None:
            import zarr

            self._array = zarr.open_group(self.store, mode="r", storage_options=self.storage_options)[self.name]
        return self._array

    @property
    def local(self) -> _LocalShards | None:
        if not self._opened:
            self._local, self._opened = _LocalShards.open(self.store, self.name, self.filled), True
        return self._local

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._raw)

    def _raw(self, key: tuple) -> np.ndarray:
        frames, ysl, xsl, finish = outer_key(key, self.shape)
        uniq, inverse = np.unique(frames, return_inverse=True)
        out = self.local.read(uniq, ysl, xsl) if self.local is not None else self._zarr_read(uniq, ysl, xsl)
        return finish(out if np.array_equal(uniq, frames) else out[inverse.reshape(-1)])

    def plan_groups(self, frames: np.ndarray) -> np.ndarray:
        """The shard of each frame: the unit of a planned selection (see :func:`ibl_xvideo.planning.frames_dask`)."""
        return frames // self.shard_frames

    def read_planned(self, frames: np.ndarray, ykey, xkey) -> np.ndarray:
        """``frames`` (sorted, one shard), cropped."""
        return self._raw((frames, ykey, xkey))

    def _zarr_read(self, frames: np.ndarray, ysl: slice, xsl: slice) -> np.ndarray:
        arr = self.array
        yy, xx = np.arange(self.shape[1])[ysl], np.arange(self.shape[2])[xsl]
        if not (frames.size and yy.size and xx.size):
            return np.empty((frames.size, yy.size, xx.size), self.dtype)
        # zarr takes positive steps only: read the bounding box, then step in NumPy
        box = (slice(int(yy.min()), int(yy.max()) + 1), slice(int(xx.min()), int(xx.max()) + 1))
        starts = np.flatnonzero(np.r_[True, np.diff(frames) > 1])
        runs = [(int(frames[a]), int(frames[b - 1]) + 1) for a, b in zip(starts, np.r_[starts[1:], frames.size])]

        def read(run):
            try:
                return arr[(slice(*run),) + box][:, yy - box[0].start][:, :, xx - box[1].start]
            except ValueError as exc:  # zarr-python's checksum mismatch
                raise StoreCorruptError(_damaged(self.store, run[0] // self.shard_frames, str(exc))) from exc

        parts = _read_runs(read, runs, self.THREADS) if len(runs) > 1 else [read(runs[0])]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


_RUN_POOL = None
_RUN_POOL_LOCK = threading.Lock()


def _read_runs(read, runs: list, threads: int) -> list:
    """``[read(r) for r in runs]`` on a shared pool of ``threads`` threads."""
    global _RUN_POOL
    with _RUN_POOL_LOCK:  # two first readers at once must not make two pools
        if _RUN_POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _RUN_POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ibl_xvideo_zarr")
    return list(_RUN_POOL.map(read, runs))


def open_store(store, storage_options: dict | None = None, chunks: Any = "shards") -> xr.DataArray:
    """Open a complete export as a lazy DataArray (Dask chunks = shards by default).

    ``chunks=None`` gives a lazily indexed array without Dask: the fastest for random
    frames (one frame ~0.5 ms here, against ~2.4 ms through a Dask graph).

    Raises
    ------
    XVideoError
        If the store is not a complete ibl-xvideo export.
    """
    status = store_status(store, storage_options)
    if status is None:
        raise XVideoError(f"{store} is not an ibl-xvideo Zarr export.")
    missing = status["shards_missing"]
    if missing:
        listed = f"{missing[:10]}{' ...' if len(missing) > 10 else ''}"
        raise StoreCorruptError(_damaged(store, missing[0], f"its file is missing; missing in all: {listed}"))
    if not status["complete"]:
        raise XVideoError(
            f"{store} is a partial export ({status['shards_done']} of {status['shards']} shards): run "
            "ibl_xvideo.to_zarr again with the same camera and selection to finish it."
        )
    if chunks == "shards":
        chunks = {"time": status["shard_frames"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        # the coordinates are one chunk each: splitting them is fine
        warnings.filterwarnings("ignore", message=".*separate the stored chunks.*")
        ds = xr.open_zarr(store, consolidated=False, chunks=None, storage_options=storage_options)
    ds = ds.set_coords("frame")
    name = status["name"]
    lazy = ds[name]
    # a worker process (another working directory) finds a local store by its absolute path
    location = os.path.abspath(store) if _is_local(store) else store
    token = f"{location}-{name}-{json.dumps({k: v for k, v in status.items() if k != 'shards_done'}, sort_keys=True)}"
    frames = _StoreFrames.of(location, status, lazy.shape, lazy.dtype, token, storage_options)
    da = xr.DataArray(xr.Variable(lazy.dims, indexing.LazilyIndexedArray(frames)), name=name,
                      coords={"time": ds["time"].variable, "frame": ("time", ds["frame"].values)})
    da.attrs = {k: v for k, v in ds.attrs.items() if k != "ibl_xvideo"}
    if chunks is not None:
        da = da.chunk(chunks, name_prefix=f"{name}-zarr-", token=hashlib.sha1(token.encode()).hexdigest())
        # a list of frames reads only those frames, not their whole shards (see frames_dask)
        da = da.copy(data=frames_dask(da.data, frames))
    da.encoding["source"] = str(store)
    return da
