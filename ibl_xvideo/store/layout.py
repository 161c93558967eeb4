"""What a store is: its layout, identity and status, with no writing or reading of frames.

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

``y``, ``x``
    The video pixels kept (rows, columns): a crop's place in the frame.

Group attributes hold the camera's attrs and ``ibl_xvideo``: what the store holds. Of
``kind`` ``'frames'``, a video's decoded frames: the source identity (size, mtime,
frame count, pixels, frame range, crop) that decides whether a cache is still valid for
a video. Of ``kind`` ``'values'``, an array's own values (a camera transformed, or
anything not provably the decoder's frames): its dims, dtype, shape and a token of
the array, written as they are (see :mod:`ibl_xvideo.store.values`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..engine.index import VideoIndex
from ..errors import DependencyError, InvalidOptionError, XVideoError

#: 2: a CRC32C after every frame's chunk, and the shards written all-fill recorded (none may be missing).
#: 3: what a store holds is its ``kind``: a video's decoded frames (with the crop), or an array's values.
STORE_VERSION = 3


#: Shard length along time when the video's keyframe interval is irregular.
DEFAULT_SHARD_FRAMES = 250


#: Largest shard (bytes of decoded frames) by default: 250 frames of the left camera (1280x1024)
#: would be 330 MB, and each exporting thread holds two shards.
SHARD_BYTES = 64 * 2**20


#: The default codec (measured fastest to write on IBL-like frames, see docs/benchmarks.md).
AUTO_BLOSC = {"cname": "lz4", "clevel": 5, "shuffle": "bitshuffle"}


NO_CHUNK = np.iinfo(np.uint64).max


def parse_roi(roi) -> tuple[slice, slice]:
    """A region of interest as (y, x) slices: from ``'y0:y1,x0:x1'``, a pair of slices or None."""
    if roi is None:
        return slice(None), slice(None)
    if isinstance(roi, str):
        try:
            parts = [p.split(":") for p in roi.split(",")]
            ys, xs = (slice(*(int(v) if v else None for v in p)) for p in parts)
        except (ValueError, TypeError) as exc:
            raise InvalidOptionError(f"roi must look like 'y0:y1,x0:x1', got {roi!r}") from exc
        return ys, xs
    try:
        ys, xs = roi
    except (TypeError, ValueError):
        ys = xs = None
    if not (isinstance(ys, slice) and isinstance(xs, slice)):
        raise InvalidOptionError(f"roi must be 'y0:y1,x0:x1' or a pair of slices; got {roi!r}")
    return ys, xs


def frame_codecs(choice) -> list:
    """The frame chunks' bytes-to-bytes codecs: the compressor chosen, then a CRC32C of its output."""
    from zarr.abc.codec import BytesBytesCodec
    from zarr.codecs import BloscCodec, Crc32cCodec

    if isinstance(choice, str) and choice == "auto":
        chosen = [BloscCodec(**AUTO_BLOSC)]
    elif choice is None:
        chosen = []
    else:
        chosen = list(choice) if isinstance(choice, (list, tuple)) else [choice]
    if not all(isinstance(c, BytesBytesCodec) for c in chosen):
        raise InvalidOptionError(f"compressors must be 'auto', None or zarr bytes-to-bytes codecs (e.g. "
                                 f"zarr.codecs.BloscCodec(), ZstdCodec()); got {choice!r}.")
    return chosen + [Crc32cCodec()]


def store_identity(index: VideoIndex, pixels: str, frames: tuple[int, int], roi: tuple[slice, slice]) -> dict:
    """What a store of ``index``'s frames ``frames`` (cropped by ``roi``) must record to be that export.

    Compared with :func:`store_status` to decide whether a store holds these frames.
    """
    # the crop as the pixels it keeps (slice(None) and slice(0, n, 1) are one crop)
    ys, xs = (range(n)[key] for n, key in ((index.height, roi[0]), (index.width, roi[1])))
    return {
        "kind": "frames",
        "size": index.size,
        "mtime_ns": index.mtime_ns,
        "fingerprint": index.fingerprint,
        "length": index.length,
        "last_pts": int(index.frame_pts[-1]),
        "pixels": pixels,
        "frames": [int(frames[0]), int(frames[1])],
        "roi": [[ys.start, ys.stop, ys.step], [xs.start, xs.stop, xs.step]],  # of the video's whole frame
        "version": STORE_VERSION,
    }


def default_shard_frames(index: VideoIndex, first: int, frame_bytes: int) -> int:
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


def is_local(store) -> bool:
    """Whether ``store`` is a local path (not an fsspec URL)."""
    return isinstance(store, (str, os.PathLike)) and "://" not in str(store)


def require_zarr(what: str):
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


def damaged_message(store, k: int, what: str) -> str:
    """The message of a :class:`StoreCorruptError`: the store, the shard, what is wrong and what to do."""
    return (f"The Zarr store {store} is damaged: shard {k} ({what}). Run ibl_xvideo.to_zarr(camera, store, "
            "repair=True) with the camera and selection it was made from (for a cache: the camera opened "
            "without cache=) to rewrite only the damaged shards, or delete the store.")


def shard_files(location: str, name: str, storage_options: dict | None) -> set[int]:
    """The shards of array ``name`` that have a file (one listing of the store's ``c/`` folder)."""
    if is_local(location):
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


def store_status(store, storage_options: dict | None = None) -> dict | None:
    """What a store holds: its ``ibl_xvideo`` attributes plus shards done; None if it is not one."""
    zarr = require_zarr(f"Reading the Zarr store {store}")

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
    except (KeyError, FileNotFoundError, ValueError):  # killed, or still being created: its metadata not all there
        return None
    meta["shards_done"] = int(done.sum())
    meta["shards"] = int(done.size)
    # shards of the fill value alone: recorded since store version 2 (None: unknown, any may lack a file)
    meta["shards_filled"] = (sorted(np.flatnonzero(group["_ibl_xvideo/filled"][:]).tolist())
                             if "filled" in group["_ibl_xvideo"] else None)
    if meta["shards_filled"] is None:
        meta["shards_missing"] = []
    else:
        have = shard_files(os.fspath(store), meta["name"], storage_options)
        filled = set(meta["shards_filled"])
        meta["shards_missing"] = [k for k in np.flatnonzero(done).tolist() if k not in have and k not in filled]
    meta["complete"] = bool(meta.get("complete")) and bool(done.all()) and not meta["shards_missing"]
    return meta


def refuse_foreign(location, storage_options) -> None:
    """Raise if ``location`` holds a Zarr store that is not an ibl-xvideo export."""
    import zarr

    try:
        node = zarr.open(location, mode="r", storage_options=storage_options)
    except Exception:  # nothing readable there: a new store
        return
    if isinstance(node, zarr.Array) or (
            "ibl_xvideo" not in node.attrs and (len(list(node.keys())) or dict(node.attrs))):
        raise XVideoError(f"{location} holds other Zarr data: pass overwrite=True to replace it.")
