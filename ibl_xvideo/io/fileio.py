"""Bytes of local files: seekable raw files with zero-filled holes, ISO-BMFF boxes, pinning.

The bottom of the package (with :mod:`ibl_xvideo.io.remote` for HTTP and
:mod:`ibl_xvideo.io.container` for opening them with PyAV). :class:`SeekableRaw` is the
file object the demuxer reads: it can serve given byte ranges ("holes", the frame
data) as zeros without reading them, so that demuxing reads a container's tables
only. :func:`file_fingerprint` and :func:`check_unchanged` pin a local file to the
one that was indexed. :func:`cache_dir` is where the package keeps its files.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import io
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import SourceChangedError

__all__ = ["cache_dir", "SeekableRaw", "LocalFile", "mp4_boxes", "file_fingerprint", "check_unchanged",
           "FINGERPRINT_BYTES", "written", "write_failure", "write_problem"]

_ZEROS = memoryview(bytes(1 << 20))


def cache_dir() -> Path:
    """Directory holding ibl-xvideo's caches (``$IBL_XVIDEO_CACHE_DIR`` or ``~/.cache/ibl_xvideo``)."""
    env = os.environ.get("IBL_XVIDEO_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ibl_xvideo"


class SeekableRaw(io.RawIOBase):
    """A read-only, seekable raw file of ``size`` bytes at position ``pos``.

    ``holes``, sorted and disjoint ``(n, 2)`` byte ranges, read as zeros; subclasses
    read the rest in :meth:`_read`.
    """

    size: int = 0
    pos: int = 0
    holes: np.ndarray | None = None

    def readable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """Always True."""
        return True

    def tell(self) -> int:
        """Current position."""
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move to ``offset`` (from the start, the current position or the end)."""
        if whence == 0:
            self.pos = offset
        elif whence == 1:
            self.pos += offset
        elif whence == 2:
            self.pos = self.size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        self.pos = max(0, self.pos)
        return self.pos

    def set_holes(self, holes) -> None:
        """Serve the byte ranges ``holes`` (``(n, 2)``, sorted, disjoint) as zeros from now on."""
        self.holes = None if holes is None else np.asarray(holes, dtype=np.int64).reshape(-1, 2)
        self._starts = [] if holes is None else self.holes[:, 0].tolist()
        self._ends = [] if holes is None else self.holes[:, 1].tolist()
        self._hole = 0  # the hole at or after the position (reads are mostly sequential)

    def readinto(self, b) -> int:
        """Fill ``b`` from the current position: zeros inside a hole, the file's bytes elsewhere."""
        n = min(len(b), self.size - self.pos)
        if n <= 0:
            return 0
        start = self.pos
        out = memoryview(b).cast("B")
        if self.holes is not None:
            starts, ends, i = self._starts, self._ends, self._hole
            if not (i < len(ends) and ends[i] > start and (i == 0 or ends[i - 1] <= start)):
                i = self._hole = bisect.bisect_right(ends, start)  # the first hole ending after the position
            if i < len(starts) and starts[i] <= start:
                n = min(n, ends[i] - start)
                for k in range(0, n, len(_ZEROS)):
                    m = min(len(_ZEROS), n - k)
                    out[k:k + m] = _ZEROS[:m]
                self.pos = start + n
                return n
            if i < len(starts):
                n = min(n, starts[i] - start)
        n = self._read(out[:n], start)
        self.pos = start + n
        return n

    def _read(self, out: memoryview, start: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


class LocalFile(SeekableRaw):
    """A local file read with ``pread`` (thread-safe position handling), with optional holes."""

    def __init__(self, path: str, holes=None):
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size
        self.set_holes(holes)
        self.bytes_read = 0  # from the disk, for tests

    def _read(self, out: memoryview, start: int) -> int:
        n = os.preadv(self._fd, [out], start)
        self.bytes_read += n
        return n

    def close(self) -> None:
        """Close the file descriptor."""
        if not self.closed:
            os.close(self._fd)
        super().close()


def mp4_boxes(read, start: int, end: int):
    """``(type, payload start, box end)`` of the ISO-BMFF boxes in ``[start, end)``; ``read(offset, n)``.

    Raises
    ------
    ValueError
        For a box whose size is smaller than its header.
    """
    off = start
    while off + 8 <= end:
        head = read(off, 16)
        if len(head) < 8:
            return
        size, typ = struct.unpack(">I4s", head[:8])
        hdr = 8
        if size == 1:
            if len(head) < 16:
                return
            size, hdr = struct.unpack(">Q", head[8:16])[0], 16
        elif size == 0:
            size = end - off
        if size < hdr:
            raise ValueError(f"bad {typ!r} box at byte {off}")
        yield typ, off + hdr, off + size
        off += size


#: Bytes hashed at each end of a file's container tables by :func:`file_fingerprint`.
FINGERPRINT_BYTES = 1 << 16


def file_fingerprint(path: str, size: int) -> str:
    """A short hash of a local video's container tables: the ``moov`` box's place and its two ends.

    Two recordings of the same size differ there (creation time, sample sizes, chunk
    offsets), so a file swapped for another of the same size and modification time is
    told apart from the one indexed. Reads a few boxes' headers and 128 KiB at most;
    a file that is not ISO-BMFF is hashed at its two ends instead.
    """
    with open(path, "rb") as fid:
        def read(o, n):
            fid.seek(o)
            return fid.read(n)

        a, b = 0, size
        try:
            for typ, start, end in mp4_boxes(read, 0, size):
                if typ == b"moov":
                    a, b = start, min(end, size)
                    break
        except ValueError:  # not ISO-BMFF (or damaged): the file's ends
            pass
        h = hashlib.sha1(f"{a}-{b}".encode())
        h.update(read(a, min(FINGERPRINT_BYTES, b - a)))
        if b - a > FINGERPRINT_BYTES:
            tail = max(a + FINGERPRINT_BYTES, b - FINGERPRINT_BYTES)
            h.update(read(tail, b - tail))
    return h.hexdigest()[:16]


def check_unchanged(path: str, size: int | None, mtime_ns: int | None, fingerprint: str = "") -> None:
    """Raise :class:`SourceChangedError` if a local file is not the one indexed (size, mtime, tables)."""
    if size is None:
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceChangedError(f"{path} was deleted or moved after it was opened: open the camera again.") from None
    same = (st.st_size, st.st_mtime_ns) == (size, mtime_ns if mtime_ns is not None else st.st_mtime_ns)
    if same and fingerprint:
        same = file_fingerprint(path, st.st_size) == fingerprint
    if not same:
        raise SourceChangedError(
            f"{path} changed after it was opened (size {size} -> {st.st_size} bytes, its modification time or "
            "its container tables): its index is of the old file. Open the camera again to read the new one.")


def write_problem(exc: OSError) -> str:
    """What a failed write's errno means, in words (a full disk, a read-only file system...)."""
    import errno

    return {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission is denied",
            errno.EPERM: "permission is denied", errno.ENOENT: "its folder does not exist",
            errno.ENOTDIR: "its folder does not exist"}.get(exc.errno, f"the system refused a write ({exc})")


def write_failure(path, exc: OSError) -> str:
    """What a failed write of ``path`` means to the user, from its errno, and what to do."""
    import errno

    what = write_problem(exc)
    todo = ("free some space, or write elsewhere" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
            else "create the folder, or pick another path" if exc.errno in (errno.ENOENT, errno.ENOTDIR)
            else "pick a path you can write to")
    return f"Cannot write {path}: {what} ({exc.strerror or exc}): {todo}."


@contextlib.contextmanager
def written(*paths):
    """Temporary names for ``paths``, moved into place together once the block completes; never a partial file.

    Yields the temporary paths (same folders, so the move is a rename). A failure
    removes them and raises :class:`~ibl_xvideo.errors.OutputWriteError` (errno kept)
    naming the file; the files already there are left as they were.

    Examples
    --------
    >>> with written("clip.mp4", "clip.times.npy") as (mp4, times):  # doctest: +SKIP
    ...     encode(mp4); np.save(times, t)
    """
    from ..errors import OutputWriteError

    paths = [Path(p) for p in paths]
    tmps = [p.with_name(f".{p.name}.{os.getpid()}.part{p.suffix}") for p in paths]
    try:
        yield tmps if len(tmps) > 1 else tmps[0]
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except OSError as exc:
        raise OutputWriteError(exc.errno, write_failure(" and ".join(map(str, paths)), exc)) from exc
    finally:
        for tmp in tmps:
            try:
                tmp.unlink()
            except OSError:
                pass
