"""Decode frames of a local video to uint8 grey arrays.

This is the only module that talks to the codec library (PyAV, i.e. FFmpeg's
libavcodec in-process). Frames are identified by their presentation timestamp
(pts) from the :class:`~ibl_xvideo.index.VideoIndex`, never by ``index / fps``
arithmetic: after every seek the decoded pts are checked against the index, so a
frame can be missing (an error is raised) but never shifted.

Pixel values (``pixels=``):

``'ibllib'`` (default)
    Channel 0 (blue) of FFmpeg's BGR conversion, i.e. exactly what
    ``ibllib.io.video.get_video_frames_preload(..., mask=np.s_[:, :, 0])`` returns
    through OpenCV. When the chroma planes of a frame are neutral (128, the case for
    grey cameras) this is a 256-entry lookup on the luma plane, derived once from
    swscale itself; otherwise the frame goes through swscale.
``'luma'``
    Range-expanded luma: bit-identical to ``ffmpeg -pix_fmt gray``; a lookup on
    the luma plane whatever the chroma. Differs from ``'ibllib'`` by at most 1 grey
    level for neutral chroma, 2 when the chroma is off by one.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
from typing import Callable, Literal

import numpy as np

from .errors import DecodeError
from .index import VideoIndex, _open_container

__all__ = ["read_frames", "iter_frames", "PIXEL_MODES", "clear_caches", "STATS"]

PIXEL_MODES = ("ibllib", "luma")
PixelMode = Literal["ibllib", "luma"]

_YUV_PLANAR = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv411p",
               "yuv410p", "yuv440p", "yuvj440p"}
_GRAY = {"gray", "gray8"}


# --------------------------------------------------------------------------- pixels
@functools.lru_cache(maxsize=64)
def _lut(fmt: str, color_range: int, mode: str, width: int) -> np.ndarray | None:
    """256-entry table mapping luma to output grey, or None when it is the identity."""
    import av

    if mode == "luma":
        full = fmt in _GRAY or fmt.startswith("yuvj") or color_range == 2
        if full:
            return None
        lut = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
        return lut
    # 'ibllib': ask swscale what BGR channel 0 is for each luma value with neutral chroma
    w = max(256, width + (-width) % 16)
    frame = av.VideoFrame(w, 4, fmt)
    frame.color_range = color_range
    ramp = (np.arange(frame.planes[0].line_size) % 256).astype(np.uint8)
    frame.planes[0].update(np.tile(ramp, frame.planes[0].height).tobytes())
    for plane in frame.planes[1:]:
        plane.update(bytes([128]) * (plane.line_size * plane.height))
    b = frame.to_ndarray(format="bgr24")[0, :256, 0]
    lut = np.ascontiguousarray(b, dtype=np.uint8)
    if np.array_equal(lut, np.arange(256)):
        return None
    return lut


def _plane(frame, k: int, rows: int, cols: int) -> np.ndarray:
    p = frame.planes[k]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:rows, :cols]


def _neutral_chroma(frame) -> bool:
    for k in (1, 2):
        p = frame.planes[k]
        c = np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: p.height, : p.width]
        if c.min() != 128 or c.max() != 128:
            return False
    return True


def _convert(frame, mode: str, ysl: slice, xsl: slice, color_range: int,
             out: np.ndarray | None = None) -> np.ndarray:
    """One decoded frame to a (h, w) uint8 array, cropped; written to ``out`` if given.

    Without ``out`` the result is always a fresh array (never a view of the frame).
    """
    fmt = frame.format.name
    planar = fmt in _YUV_PLANAR
    if fmt in _GRAY or (planar and (mode == "luma" or _neutral_chroma(frame))):
        y = _plane(frame, 0, frame.height, frame.width)[ysl, xsl]
        lut = _lut(fmt, color_range, mode, frame.width)
        if out is None:
            return y.copy() if lut is None else np.take(lut, y)
        if lut is None:
            out[...] = y
        else:
            np.take(lut, y, out=out)
        return out
    fmt_out = "gray" if mode == "luma" else "bgr24"
    arr = frame.to_ndarray(format=fmt_out)
    arr = arr if arr.ndim == 2 else arr[:, :, 0]
    if out is None:
        return np.ascontiguousarray(arr[ysl, xsl])
    out[...] = arr[ysl, xsl]
    return out


# ----------------------------------------------------------------- decoder state
class _Decoder:
    """An open container positioned somewhere in the stream; owned by one thread."""

    def __init__(self, index: VideoIndex, threads: int):
        self.index = index
        self.container = _open_container(index.path)
        self.stream = self.container.streams.video[0]
        cc = self.stream.codec_context
        if threads and threads > 1:
            cc.thread_type = "FRAME"
            cc.thread_count = threads
        else:
            cc.thread_type = "SLICE"
            cc.thread_count = 1
        self.frames = None  # live decode iterator
        self.last = -1  # index of the last frame returned by the iterator

    def close(self):
        try:
            self.container.close()
        except Exception:  # pragma: no cover - closing a broken container
            pass

    def seek_group(self, g: int) -> None:
        STATS.add(seeks=1)
        self.container.seek(_seek_target(self.index, g), stream=self.stream, backward=True,
                            any_frame=False)
        self.frames = self.container.decode(self.stream)
        self.last = -1


def _seek_target(index: VideoIndex, g: int) -> int:
    """Timestamp to seek to for keyframe group ``g``: the keyframe's pts.

    Demuxers index keyframes by pts (mov/mp4 with edit lists) or dts; the keyframe's
    pts is at or after its dts and before the next keyframe's dts, so a backward seek
    to it lands on this keyframe either way (checked after decoding by pts).
    """
    return int(index.frame_pts[index.key_frames[g]])


_local = threading.local()
_MAX_OPEN = 4


class DecodeStats:
    """Process-wide counters of decoder work (seeks and frames decoded), for tests and tuning."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero the counters."""
        with self._lock:
            self.seeks = 0
            self.frames = 0

    def add(self, seeks: int = 0, frames: int = 0) -> None:
        """Count work done."""
        with self._lock:
            self.seeks += seeks
            self.frames += frames


#: Counters of the work done by :func:`read_frames` in this process.
STATS = DecodeStats()


def _decoder(index: VideoIndex, threads: int) -> _Decoder:
    """This thread's decoder for the file, reused between calls (never shared)."""
    pool: collections.OrderedDict = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = collections.OrderedDict()
    key = (index.token, threads)
    dec = pool.pop(key, None)
    if dec is None:
        dec = _Decoder(index, threads)
    pool[key] = dec
    while len(pool) > _MAX_OPEN:
        _, old = pool.popitem(last=False)
        old.close()
    return dec


def _drop_decoder(index: VideoIndex, threads: int) -> None:
    pool = getattr(_local, "pool", None)
    if pool is not None:
        dec = pool.pop((index.token, threads), None)
        if dec is not None:
            dec.close()


# ------------------------------------------------------------------ frame cache
class _FrameCache:
    """Process-wide LRU of recently decoded full frames (for interactive access)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.data: collections.OrderedDict = collections.OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            arr = self.data.get(key)
            if arr is not None:
                self.data.move_to_end(key)
            return arr

    def put(self, key, arr: np.ndarray) -> None:
        if arr.nbytes > self.max_bytes:
            return
        with self.lock:
            if key in self.data:
                return
            self.data[key] = arr
            self.nbytes += arr.nbytes
            while self.nbytes > self.max_bytes:
                _, old = self.data.popitem(last=False)
                self.nbytes -= old.nbytes

    def clear(self):
        with self.lock:
            self.data.clear()
            self.nbytes = 0


_CACHE = _FrameCache(int(float(os.environ.get("IBL_XVIDEO_FRAME_CACHE_MB", "256")) * 2**20))
#: Requests of at most this many frames keep every frame they decode in the cache.
SPARSE_REQUEST = 16


def clear_caches() -> None:
    """Forget cached decoded frames and close this thread's open decoders."""
    _CACHE.clear()
    pool = getattr(_local, "pool", None)
    while pool:
        _, dec = pool.popitem()
        dec.close()


# ---------------------------------------------------------------------- reading
def _decode_group(
    index: VideoIndex,
    g: int,
    wanted: np.ndarray,
    sink: Callable[[int, object], None],
    threads: int,
    keep: Callable[[int, object], None] | None,
) -> None:
    """Decode the frames ``wanted`` (sorted, all in keyframe group ``g``)."""
    import av

    first = int(wanted[0])
    dec = _decoder(index, threads)
    start = int(index.key_frames[g])
    # continue the live decoder when that is no more work than a seek
    resume = dec.frames is not None and dec.last < first and (first - dec.last) <= (first - start + 1)
    seek_g = g
    if not resume:
        dec.seek_group(seek_g)
    pts = index.frame_pts
    j = 0
    try:
        while True:
            got_first = dec.last >= 0
            for frame in dec.frames:
                p = frame.pts
                i = int(np.searchsorted(pts, p)) if p is not None else -1
                if p is None or i >= pts.size or pts[i] != p:
                    raise DecodeError(
                        f"{index.path}: decoder returned a frame with pts {p} that is not in "
                        "the index; the file changed since it was indexed or is damaged."
                    )
                if not got_first:
                    got_first = True
                    if i > first:
                        break  # landed after the wanted frame: seek further back
                elif i != dec.last + 1:
                    raise DecodeError(
                        f"{index.path}: frames {dec.last + 1}..{i - 1} could not be decoded "
                        "(damaged stream)."
                    )
                dec.last = i
                STATS.add(frames=1)
                if keep is not None:
                    keep(i, frame)
                while j < wanted.size and wanted[j] == i:
                    sink(j, frame)
                    j += 1
                if j == wanted.size:
                    return
            else:
                dec.frames = None
                raise DecodeError(
                    f"{index.path}: the stream ended before frame {int(wanted[j])} of "
                    f"{index.length}; the file is truncated or damaged."
                )
            # first frame after the seek was past the wanted one: go one group back
            if seek_g == 0:
                raise DecodeError(
                    f"{index.path}: cannot reach frame {first}: decoding from the start "
                    f"begins at frame {i}."
                )
            seek_g -= 1
            dec.seek_group(seek_g)
    except av.FFmpegError as exc:
        _drop_decoder(index, threads)
        raise DecodeError(f"{index.path}: decoding failed near frame {dec.last + 1}: {exc}") from exc
    except BaseException:
        _drop_decoder(index, threads)
        raise


def read_frames(
    index: VideoIndex,
    frames,
    *,
    y: slice = slice(None),
    x: slice = slice(None),
    pixels: PixelMode = "ibllib",
    threads: int = 1,
) -> np.ndarray:
    """Decode the given frames, cropped, as a ``(len(frames), h, w)`` uint8 array.

    Each keyframe group holding a requested frame is decoded once, from its
    keyframe up to the last frame requested in it, whatever the order or
    repetition of ``frames``.

    Parameters
    ----------
    index : VideoIndex
        Index of the video (see :func:`ibl_xvideo.index.get_index`).
    frames : array-like of int
        Frame indices (0-based, presentation order), any order, repeats allowed;
        negative values count from the end.
    y, x : slice
        Crop applied right after decoding (step allowed).
    pixels : {'ibllib', 'luma'}
        Grey value definition; see the module docstring.
    threads : int
        Decoder threads (frame threading); 1 is best when many reads run in parallel.

    Returns
    -------
    numpy.ndarray
        uint8 array of shape ``(len(frames), h, w)``.
    """
    if pixels not in PIXEL_MODES:
        raise ValueError(f"pixels must be one of {PIXEL_MODES}, got {pixels!r}")
    n = index.length
    req = np.asarray(frames, dtype=np.int64).reshape(-1)
    req = np.where(req < 0, req + n, req)
    if req.size and (req.min() < 0 or req.max() >= n):
        bad = req[(req < 0) | (req >= n)][0]
        raise IndexError(f"frame {bad} is out of range for {index.path} ({n} frames)")
    hh = len(range(index.height)[y])
    ww = len(range(index.width)[x])
    uniq, inverse = np.unique(req, return_inverse=True)
    out = np.empty((uniq.size, hh, ww), dtype=np.uint8)
    token = (index.token, pixels)
    todo = np.ones(uniq.size, dtype=bool)
    for k, i in enumerate(uniq):
        hit = _CACHE.get((token, int(i)))
        if hit is not None:
            out[k] = hit[y, x]
            todo[k] = False
    pending = np.flatnonzero(todo)
    if pending.size:
        sparse = pending.size <= SPARSE_REQUEST
        cr = index.color_range
        groups = index.group_of(uniq[pending])
        for g in np.unique(groups):
            pos = pending[groups == g]
            wanted = uniq[pos]
            if sparse:
                cached: dict[int, np.ndarray] = {}

                def keep(i, frame, cached=cached):
                    full = _convert(frame, pixels, slice(None), slice(None), cr)
                    cached[i] = full
                    _CACHE.put((token, i), full)

                def sink(j, frame, pos=pos, wanted=wanted, cached=cached):
                    out[pos[j]] = cached[int(wanted[j])][y, x]

                _decode_group(index, int(g), wanted, sink, threads, keep)
            else:

                def sink(j, frame, pos=pos):
                    _convert(frame, pixels, y, x, cr, out=out[pos[j]])

                _decode_group(index, int(g), wanted, sink, threads, None)
    return out[inverse]


def iter_frames(index: VideoIndex, start: int = 0, stop: int | None = None, *,
                pixels: PixelMode = "ibllib", threads: int = 0):
    """Yield ``(i, frame)`` for frames ``start..stop-1`` in one sequential pass."""
    stop = index.length if stop is None else min(stop, index.length)
    if stop <= start:
        return
    container = _open_container(index.path)
    try:
        stream = container.streams.video[0]
        if threads != 1:
            stream.codec_context.thread_type = "AUTO"
            stream.codec_context.thread_count = threads
        g = int(index.group_of(np.array([start]))[0])
        if g > 0:
            container.seek(_seek_target(index, g), stream=stream, backward=True, any_frame=False)
        expect = None
        for frame in container.decode(stream):
            i = int(np.searchsorted(index.frame_pts, frame.pts))
            if i >= index.length or index.frame_pts[i] != frame.pts:
                raise DecodeError(f"{index.path}: frame with pts {frame.pts} is not in the index.")
            if expect is not None and i != expect:
                raise DecodeError(f"{index.path}: frames {expect}..{i - 1} could not be decoded.")
            if expect is None and i > start:
                raise DecodeError(f"{index.path}: cannot reach frame {start} (decoding starts at {i}).")
            expect = i + 1
            if i >= start:
                yield i, _convert(frame, pixels, slice(None), slice(None), index.color_range)
            if expect >= stop:
                return
        raise DecodeError(f"{index.path}: the stream ended at frame {expect} of {stop}.")
    finally:
        container.close()

