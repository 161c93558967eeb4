"""Opening videos with PyAV: local paths, URLs and file objects, pinned, with typed errors.

The one place that opens containers (:mod:`ibl_xvideo.index` demuxes them,
:mod:`ibl_xvideo.decode` decodes them). A local file is checked to be the one
indexed (:func:`ibl_xvideo.fileio.check_unchanged`) and a URL is read through
:class:`ibl_xvideo.remote.HTTPRangeFile`, which checks every response against the
size and version it was opened with.

PyAV changes its API between major releases: 19 removed ``av.open``'s
``metadata_errors`` argument (it now decodes container metadata with
``surrogateescape``, which never raises), where 17 and 18 raise
``UnicodeDecodeError`` on a non-UTF-8 tag unless told to ignore it. Rather than pin a
release, the package asks PyAV what it accepts, here and only here.
"""

from __future__ import annotations

import functools
import io

from .errors import CorruptVideoError
from .fileio import check_unchanged
from .remote import HTTPRangeFile, is_url

__all__ = ["open_input", "open_container", "open_file_object"]


@functools.lru_cache(maxsize=1)
def _open_kwargs() -> dict:
    """Keyword arguments for ``av.open`` that keep a stray metadata byte from failing an open."""
    import av

    try:  # an empty input fails inside FFmpeg, after the arguments were accepted
        av.open(io.BytesIO(b""), mode="r", metadata_errors="ignore")
    except av.FFmpegError:
        return {"metadata_errors": "ignore"}
    except Exception:  # TypeError on PyAV >= 19 (no such argument; metadata never fails to decode)
        pass
    return {}


def open_input(file, buffer_size: int | None = None):
    """``av.open(file)`` for reading, on any supported PyAV release.

    Parameters
    ----------
    file : str or file-like
        A path, or a seekable binary file object (PyAV reads it through its own I/O).
    buffer_size : int, optional
        Bytes FFmpeg asks a file object for at a time (PyAV's default 32 KiB). FFmpeg reads a
        packet larger than this in one read of its own size, so a small buffer keeps it from
        reading past the packets it wants.

    Returns
    -------
    av.container.InputContainer
        Raises what ``av.open`` raises (``av.FFmpegError`` for a file that is not a video).
    """
    import av

    sized = {} if buffer_size is None else {"buffer_size": buffer_size}
    return av.open(file, mode="r", **sized, **_open_kwargs())


def open_container(path: str, transport=None, holes=None, size=None, version=None, fingerprint: str = ""):
    """Open a local video or a URL for demuxing and decoding.

    Parameters
    ----------
    path : str
        Local path or http(s) URL (without credentials).
    transport : Transport, optional
        How a URL is read (:class:`~ibl_xvideo.remote.Transport`: credentials, retry policy).
    holes : array, optional
        ``(n, 2)`` byte ranges of a URL served as zeros (the tables-only demux).
    size, version : int, optional
        What the source was when indexed: its size, and its mtime (ns, local) or
        version (URL); a local file that differs raises, a URL response that differs
        raises as it is read.
    fingerprint : str
        Of a local file, :func:`ibl_xvideo.fileio.file_fingerprint` when indexed.

    Returns
    -------
    av.container.InputContainer

    Raises
    ------
    CorruptVideoError
        For a file that is not a video, holds no video stream, or is a still image.
    SourceChangedError
        For a local file that is not the one indexed.
    """
    import av

    try:
        if is_url(path):
            raw = HTTPRangeFile(path, transport, size=size, version=version, holes=holes)
            container = open_input(raw, buffer_size=raw.block_size)
        else:
            check_unchanged(path, size, version, fingerprint)
            container = open_input(path)
    except (av.FFmpegError, UnicodeDecodeError) as exc:  # pragma: no branch
        raise CorruptVideoError(
            f"{path} cannot be opened as a video ({exc}). The file may be truncated, "
            "empty or not a video: re-download it (for ONE: one.load_dataset(..., "
            "download_only=True)) or check the path."
        ) from exc
    if not container.streams.video:
        container.close()
        raise CorruptVideoError(f"{path} holds no video stream: check that it is a camera video.")
    fmt = container.format.name
    if fmt in ("image2", "image2pipe") or fmt.endswith("_pipe"):  # FFmpeg's still-image readers
        container.close()
        raise CorruptVideoError(f"{path} is a still image ({fmt}), not a video: check the path, or "
                                "re-download the camera video.")
    return container


def open_file_object(raw, where: str):
    """Open a file object (e.g. a :class:`~ibl_xvideo.fileio.LocalFile` with holes) with PyAV.

    Raises
    ------
    CorruptVideoError
        Naming ``where``, when FFmpeg cannot read it.
    """
    import av

    try:
        return open_input(raw)
    except av.FFmpegError as exc:
        raise CorruptVideoError(f"{where} cannot be opened as a video ({exc}); the file is damaged.") from exc
