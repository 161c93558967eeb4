"""Video sources, and opening them with PyAV: pinned, with typed errors.

A source is a handle on where a video's bytes are and how to read them:
:class:`LocalSource` (a file) or :class:`HTTPSource` (an http(s) URL, or an ``s3://``
object over HTTPS, its requests signed by its transport). It is a recipe, frozen and
picklable, so it travels with the index to the Dask workers; what it opens (a file
descriptor, an :class:`~ibl_xvideo.io.remote.HTTPRangeFile`, a PyAV container) belongs to
whoever opened it. :meth:`Source.pin` says what the source is now (:class:`Pinned`:
size, version, fingerprint); every later open is checked against that pin (a local
file before it is opened, a URL at every response), so bytes of another version of the
file never reach a frame.

This is the one place that opens containers (:mod:`ibl_xvideo.engine.index` demuxes them,
:mod:`ibl_xvideo.engine.decode` decodes them).

PyAV changes its API between major releases: 19 removed ``av.open``'s
``metadata_errors`` argument (it now decodes container metadata with
``surrogateescape``, which never raises), where 17 and 18 raise
``UnicodeDecodeError`` on a non-UTF-8 tag unless told to ignore it. Rather than pin a
release, the package asks PyAV what it accepts, here and only here.
"""

from __future__ import annotations

import functools
import io
import os
import stat
from dataclasses import dataclass, field

from ..errors import CorruptVideoError, VideoNotFoundError
from .fileio import LocalFile, SeekableRaw, check_unchanged, file_fingerprint
from .remote import HTTPRangeFile, Transport, as_transport, http_location, is_url, probe

__all__ = ["open_input", "open_container", "open_file_object", "Source", "LocalSource", "HTTPSource", "Pinned",
           "as_source", "to_format"]


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


@functools.lru_cache(maxsize=1)
def _reformat_kwargs() -> dict:
    """Keyword arguments for ``VideoFrame.reformat`` that keep swscale on the calling thread."""
    import av

    try:  # PyAV 17 made swscale start threads of its own (by default, as many as the cores)
        av.VideoFrame(16, 16, "yuv420p").reformat(format="gray", threads=1)
    except TypeError:  # a release without the option: swscale runs on the calling thread
        return {}
    return {"threads": 1}


def to_format(frame, fmt: str):
    """``frame`` as an ndarray in pixel format ``fmt`` (``'bgr24'``, ``'gray'``), converted on the calling thread.

    swscale's own threads would cost more than they save on one camera frame, and a
    process whose threads ever started them cannot be forked (the child hangs in
    ``fork()``, PyAV 19).
    """
    return frame.reformat(format=fmt, **_reformat_kwargs()).to_ndarray()


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


@dataclass(frozen=True)
class Pinned:
    """What a source was when it was indexed; reads of another version raise :class:`SourceChangedError`."""

    size: int
    version: int  # a file's modification time (ns); a URL's ETag / Last-Modified, hashed
    fingerprint: str = ""  # a file's container tables, hashed (:func:`ibl_xvideo.io.fileio.file_fingerprint`)


class Source:
    """Where a video's bytes are and how to read them (see the module's docstring)."""

    location: str  # a path or a URL without credentials: what messages, keys and attrs name
    remote: bool = False
    transport: Transport | None = None  # how a URL is read (a local file has none)

    def pin(self) -> Pinned:
        """What the source is now: its size and version."""
        raise NotImplementedError

    def raw(self, pinned: Pinned, holes=None) -> SeekableRaw:
        """A seekable binary file of the source as pinned; ``holes`` (``(n, 2)`` byte ranges) read as zeros."""
        raise NotImplementedError

    def open(self, pinned: Pinned | None = None, holes=None):
        """The source as a PyAV container for demuxing and decoding (see :func:`open_container`).

        ``holes``: ``(n, 2)`` byte ranges served as zeros (the index demuxes the tables alone).
        """
        raise NotImplementedError


@dataclass(frozen=True)
class LocalSource(Source):
    """A video file on this computer; FFmpeg reads it itself (or through :class:`LocalFile`, with holes)."""

    path: str

    @property
    def location(self) -> str:  # type: ignore[override]
        """The file's path."""
        return self.path

    def pin(self) -> Pinned:
        """Its size, modification time and tables' fingerprint; typed errors for a missing or odd file."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError as exc:
            raise VideoNotFoundError(f"Video file {self.path} does not exist.") from exc
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block every read, a device never end
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
                    if stat.S_ISFIFO(st.st_mode) else "a device or socket")
            raise CorruptVideoError(f"{self.path} is {kind}, not a video file: give the path of the camera's "
                                    "video file.")
        return Pinned(int(st.st_size), int(st.st_mtime_ns), file_fingerprint(self.path, int(st.st_size)))

    def raw(self, pinned: Pinned, holes=None) -> SeekableRaw:
        """A :class:`LocalFile`, once the file is checked to be the one pinned."""
        check_unchanged(self.path, pinned.size, pinned.version, pinned.fingerprint)
        return LocalFile(self.path, holes)

    def open(self, pinned: Pinned | None = None, holes=None):
        """FFmpeg reads the file itself (faster than through Python); through a LocalFile when it has holes."""
        if holes is not None:
            return open_file_object(self.raw(pinned or self.pin(), holes), self.path)
        if pinned is not None:
            check_unchanged(self.path, pinned.size, pinned.version, pinned.fingerprint)
        return _opened(lambda: open_input(self.path), self.path)


@dataclass(frozen=True)
class HTTPSource(Source):
    """A video at an http(s) URL, read with Range requests through the shared block cache.

    An ``s3://`` object is one too: its HTTPS URL, with a transport that signs each request.
    """

    url: str
    transport: Transport = field(default_factory=Transport)
    remote = True

    @property
    def location(self) -> str:  # type: ignore[override]
        """The URL, without credentials."""
        return self.url

    def pin(self) -> Pinned:
        """Its size and version (ETag or Last-Modified), from one small range request."""
        facts = probe(self.url, self.transport)
        return Pinned(facts.size, facts.version)

    def raw(self, pinned: Pinned, holes=None) -> SeekableRaw:
        """An :class:`HTTPRangeFile`: every response is checked against the pin."""
        return HTTPRangeFile(self.url, self.transport, size=pinned.size, version=pinned.version, holes=holes)

    def open(self, pinned: Pinned | None = None, holes=None):
        """FFmpeg reads the URL through an :class:`HTTPRangeFile`.

        To decode, it asks for 1 KiB blocks at a time (no byte of a frame it does not
        want is fetched); with ``holes`` (the index's demux, its frame data zeros) for
        PyAV's 32 KiB, since only the tables are fetched anyway.
        """
        raw = self.raw(pinned or self.pin(), holes)
        if holes is not None:
            return open_file_object(raw, self.url)
        return _opened(lambda: open_input(raw, buffer_size=raw.block_size), self.url)


class _Closing:
    """A container that closes the file object it reads when it is closed (PyAV leaves it open)."""

    def __init__(self, container, raw):
        self._container, self._raw = container, raw

    def __getattr__(self, name):
        return getattr(self._container, name)

    def close(self) -> None:
        try:
            self._container.close()
        finally:
            self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def as_source(path, transport=None) -> Source:
    """The source of a path or an http(s) URL (credentials in it, or in ``transport``: a Transport or a pair)."""
    if isinstance(path, Source):
        return path
    if is_url(path):
        return HTTPSource(*http_location(path, as_transport(transport)))
    return LocalSource(os.path.abspath(os.fspath(path)))


def _opened(open_, where: str):
    """``open_()``'s container, checked to hold a video stream; FFmpeg's failures typed, naming ``where``."""
    import av

    try:
        container = open_()
    except (av.FFmpegError, UnicodeDecodeError) as exc:  # pragma: no branch
        raise CorruptVideoError(
            f"{where} cannot be opened as a video ({exc}). The file may be truncated, "
            "empty or not a video: re-download it (for ONE: one.load_dataset(..., "
            "download_only=True)) or check the path."
        ) from exc
    if not container.streams.video:
        container.close()
        raise CorruptVideoError(f"{where} holds no video stream: check that it is a camera video.")
    fmt = container.format.name
    if fmt in ("image2", "image2pipe") or fmt.endswith("_pipe"):  # FFmpeg's still-image readers
        container.close()
        raise CorruptVideoError(f"{where} is a still image ({fmt}), not a video: check the path, or "
                                "re-download the camera video.")
    return container


def open_container(path: str, transport=None, holes=None, size=None, version=None, fingerprint: str = ""):
    """Open a local video or a URL for demuxing and decoding.

    Parameters
    ----------
    path : str
        Local path or http(s) URL (without credentials).
    transport : Transport, optional
        How a URL is read (:class:`~ibl_xvideo.io.remote.Transport`: credentials, retry policy).
    holes : array, optional
        ``(n, 2)`` byte ranges of a URL served as zeros (the tables-only demux).
    size, version : int, optional
        What the source was when indexed: its size, and its mtime (ns, local) or
        version (URL); a local file that differs raises, a URL response that differs
        raises as it is read.
    fingerprint : str
        Of a local file, :func:`ibl_xvideo.io.fileio.file_fingerprint` when indexed.

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
    source = as_source(path, transport)
    pinned = None if size is None else Pinned(size, version, fingerprint)
    if holes is not None and pinned is None:
        pinned = source.pin()
    return source.open(pinned, holes)


def open_file_object(raw, where: str):
    """Open a file object (e.g. a :class:`~ibl_xvideo.io.fileio.LocalFile` with holes) with PyAV.

    Closing the container closes the file object.

    Raises
    ------
    CorruptVideoError
        Naming ``where``, when FFmpeg cannot read it as a video.
    """
    try:
        return _Closing(_opened(lambda: open_input(raw), where), raw)
    except BaseException:
        raw.close()
        raise
