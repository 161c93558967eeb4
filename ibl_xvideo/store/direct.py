"""Shard files written and read without zarr-python: page-aligned scratch buffers, O_DIRECT writes.

:class:`ShardBuilder` lays out a shard's bytes exactly as zarr-python's
``sharding_indexed`` codec would (tested byte for byte) and :func:`write_file` writes
them with ``O_DIRECT``; :class:`LocalShards` reads the frames of a local store
straight from those files. Why these are ours, with the numbers: docs/design.md.
"""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

import numpy as np

from .._shared import run_each, thread_scratch
from ..errors import StoreCorruptError
from .layout import AUTO_BLOSC, NO_CHUNK, damaged_message, is_local

#: Threads reading the shards or runs of one request (reads wait on the disk; blosc releases the GIL).
READ_THREADS = 4


#: Block size for O_DIRECT writes (a multiple of every common logical block size).
_ALIGN = 4096


def scratch(nbytes: int, buffer: int = 0) -> np.ndarray:
    """Return this thread's page-aligned scratch buffer ``buffer`` (of at least ``nbytes``), as uint8.

    Reused from shard to shard: fresh memory costs a page fault per 4 KiB page, which
    on virtual machines is as slow as compressing the page. Two buffers let a shard
    be built while the previous one is being written.
    """

    def fits(arr) -> bool:
        return arr.size >= nbytes

    def make() -> np.ndarray:
        buf = mmap.mmap(-1, -(-nbytes // 2**21) * 2**21)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                buf.madvise(mmap.MADV_HUGEPAGE)
            except OSError:  # pragma: no cover - kernels without transparent huge pages
                pass
        return np.frombuffer(buf, np.uint8)

    return thread_scratch(("direct", buffer), make, fits)


class ShardBuilder:
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
        self.buf = scratch(slots * (frame_nbytes + 36) + self.index.nbytes + 4, buffer)
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


def write_file(path: Path, data: np.ndarray) -> None:
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


class LocalShards:
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
    def open(cls, store, name: str, filled: frozenset | None = frozenset()) -> LocalShards | None:
        """The reader of ``store``'s array ``name``, or None when it is not local or not this layout.

        ``filled``: the shards written as the fill value alone; any other missing shard file
        is a :class:`StoreCorruptError` (None: a store of an older version, whose shards of
        only the fill value were not recorded, reads any missing shard as the fill value).
        """
        if not is_local(store):
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

        run_each(job, jobs, READ_THREADS)
        return out

    def _read_shard(self, k: int, slots: np.ndarray, out: np.ndarray, rows: np.ndarray, ysl: slice, xsl: slice):
        import google_crc32c
        import numcodecs

        def damage(what: str) -> StoreCorruptError:
            return StoreCorruptError(damaged_message(self.folder.parent, k, what))

        codec = numcodecs.Blosc()  # blosc chunks describe their own compressor and shuffle
        path = self.folder / "c" / str(k) / "0" / "0"
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            if self.filled is not None and k not in self.filled:
                raise damage("its shard file is missing") from None
            out[rows] = self.fill  # a shard written as the fill value alone
            return
        except OSError as exc:
            raise damage(f"its file cannot be read: {exc}") from exc
        try:
            n_index = self.S * 16 + 4
            ib = os.pread(fd, n_index, max(os.fstat(fd).st_size - n_index, 0))
            if len(ib) != n_index or google_crc32c.value(ib[:-4]) != int.from_bytes(ib[-4:], "little"):
                raise damage("its index fails its checksum (the file is short or damaged)")
            index = np.frombuffer(ib, "<u8", count=2 * self.S).reshape(-1, 2)[slots]
            have = index[:, 0] != NO_CHUNK
            buf, base = None, 0
            if have.any():
                lo, hi = int(index[have, 0].min()), int((index[have, 0] + index[have, 1]).max())
                if hi - lo <= 2 * int(index[have, 1].sum()) + (1 << 20):  # the chunks are close: one read
                    buf, base = memoryview(os.pread(fd, hi - lo, lo)), lo
            crop = (ysl, xsl) != (slice(None), slice(None))
            tmp = np.empty((self.h, self.w), np.uint8) if crop and self.blosc else None
            for j, (o, nb) in enumerate(index.tolist()):
                dest = out[rows[j]]
                if o == NO_CHUNK:
                    dest[...] = self.fill
                    continue
                chunk = buf[o - base:o - base + nb] if buf is not None else os.pread(fd, nb, o)
                if self.crc:
                    if len(chunk) != nb or nb < 4 or google_crc32c.value(bytes(chunk[:-4])) != int.from_bytes(
                            chunk[-4:], "little"):
                        raise damage(f"frame {k * self.S + int(slots[j])} fails its checksum")
                    chunk, nb = chunk[:-4], nb - 4
                if self.blosc:
                    # blosc's header: uncompressed size at bytes 4-8, compressed size at 12-16
                    if nb < 16 or (int.from_bytes(chunk[4:8], "little"), int.from_bytes(chunk[12:16], "little")) != (
                            self.h * self.w, nb):
                        raise damage(f"chunk {int(slots[j])} does not hold a {self.w}x{self.h} frame")
                    codec.decode(chunk, out=tmp if crop else dest)
                    if crop:
                        dest[...] = tmp[ysl, xsl]
                else:
                    if nb != self.h * self.w:
                        raise damage(f"chunk {int(slots[j])} does not hold a {self.w}x{self.h} frame")
                    dest[...] = np.frombuffer(chunk, np.uint8).reshape(self.h, self.w)[ysl, xsl]
        except OSError as exc:  # EIO and the like, mid-read
            raise damage(f"its file cannot be read: {exc}") from exc
        finally:
            os.close(fd)

