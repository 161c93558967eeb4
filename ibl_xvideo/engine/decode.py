"""Decode frames of a local video to uint8 grey arrays.

This is the only module that talks to the codec library (PyAV, i.e. FFmpeg's
libavcodec in-process). Frames are identified by their presentation timestamp
(pts) from the :class:`~ibl_xvideo.engine.index.VideoIndex`, never by ``index / fps``
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
    The luma plane, range-expanded: ``round((Y - 16) * 255 / 219)`` clipped for a
    limited-range stream, ``Y`` itself for a full-range or monochrome one, whatever the
    colour matrix it is tagged with (a lookup on the luma plane). Equals ``ffmpeg -pix_fmt
    gray`` on BT.601-tagged and untagged files; on BT.709-tagged colour files FFmpeg's
    grey conversion depends on its build. Differs from ``'ibllib'`` by at most 1 grey
    level for neutral chroma, 2 when the chroma is off by one.
"""

from __future__ import annotations

import collections
import functools
import threading
import warnings
from typing import Callable, Literal

import numpy as np

from .._shared import CACHE, after_fork_in_child, run_each
from ..errors import DecodeError, SourceChangedError, check_option
from ..io.container import to_format
from ..io.fileio import check_unchanged
from .index import VideoIndex

__all__ = ["read_frames", "iter_frames", "each_frame", "each_of", "apply_lut", "to_grey", "PIXEL_MODES",
           "clear_caches", "release", "STATS", "DamagedFramesWarning"]

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
    b = to_format(frame, "bgr24")[0, :256, 0]
    lut = np.ascontiguousarray(b, dtype=np.uint8)
    if np.array_equal(lut, np.arange(256)):
        return None
    return lut


@functools.lru_cache(maxsize=64)
def _lut16(lut_bytes: bytes) -> np.ndarray:
    """65536-entry table applying a 256-entry LUT to two pixels at once (native byte order)."""
    lut = np.frombuffer(lut_bytes, np.uint8)
    pair = np.arange(65536, dtype=np.uint32)
    lo, hi = (pair & 0xFF), (pair >> 8)
    if np.little_endian:
        return (lut[lo].astype(np.uint16) | (lut[hi].astype(np.uint16) << 8)).astype(np.uint16)
    return (lut[hi].astype(np.uint16) | (lut[lo].astype(np.uint16) << 8)).astype(np.uint16)


def apply_lut(lut: np.ndarray | None, src: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``lut[src]`` for a 256-entry uint8 table (a copy when ``lut`` is None), into ``out`` if given.

    Two pixels per lookup where the arrays allow it (a 65536-entry table of pairs).
    """
    if out is None:
        out = np.empty(src.shape, np.uint8)
    if lut is None:
        np.copyto(out, src)
        return out
    if src.shape[-1] % 2 == 0 and src.strides[-1] == 1 and out.strides[-1] == 1:
        pairs, out_pairs = src.view(np.uint16), out.view(np.uint16)
        if pairs.flags.aligned and out_pairs.flags.aligned:
            # indices are always in range: 'wrap' skips numpy's bounds check
            np.take(_lut16(lut.tobytes()), pairs, out=out_pairs, mode="wrap")
            return out
    np.take(lut, src, out=out, mode="wrap")
    return out


def _plane(frame, k: int, rows: int, cols: int) -> np.ndarray:
    p = frame.planes[k]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:rows, :cols]


#: Eight neutral chroma samples (128) as one 64-bit word.
_NEUTRAL8 = np.uint64(0x8080808080808080)


def _neutral_chroma(frame) -> bool:
    for p in frame.planes[1:3]:
        if p.line_size == p.width and p.buffer_size == p.width * p.height and p.buffer_size % 8 == 0:
            # no row padding: eight samples a word
            c = np.frombuffer(p, np.uint64)
            if c.min() != _NEUTRAL8 or c.max() != _NEUTRAL8:
                return False
            continue
        c = np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: p.height, : p.width]
        if c.min() != 128 or c.max() != 128:
            return False
    return True


def _lut_for(frame, mode: str, color_range: int):
    """(True, lut) when the frame converts by a lookup on its luma plane, else (False, None)."""
    fmt = frame.format.name
    if fmt in _GRAY or (fmt in _YUV_PLANAR and (mode == "luma" or _neutral_chroma(frame))):
        return True, _lut(fmt, color_range, mode, frame.width)
    return False, None


def _convert(frame, mode: str, ysl: slice, xsl: slice, color_range: int,
             out: np.ndarray | None = None) -> np.ndarray:
    """One decoded frame to a (h, w) uint8 array, cropped; written to ``out`` if given.

    Without ``out`` the result is always a fresh array (never a view of the frame).
    """
    by_lut, lut = _lut_for(frame, mode, color_range)
    if by_lut:
        y = _plane(frame, 0, frame.height, frame.width)[ysl, xsl]
        return apply_lut(lut, y, out)
    arr = to_format(frame, "gray" if mode == "luma" else "bgr24")
    arr = arr if arr.ndim == 2 else arr[:, :, 0]
    if out is None:
        return np.ascontiguousarray(arr[ysl, xsl])
    out[...] = arr[ysl, xsl]
    return out


def to_grey(frame, pixels: PixelMode = "ibllib", color_range: int | None = None) -> np.ndarray:
    """A decoded PyAV frame as a ``(h, w)`` uint8 grey array, as every read of this package converts it.

    ``color_range``: the stream's (an index's ``color_range``); default the frame's own.
    """
    check_option("pixels", pixels, PIXEL_MODES)
    cr = int(frame.color_range or 0) if color_range is None else color_range
    return _convert(frame, pixels, slice(None), slice(None), cr)


def _remember(frame, mode: str, color_range: int):
    """A cheap cache entry for a frame: its raw luma plane and LUT when possible."""
    by_lut, lut = _lut_for(frame, mode, color_range)
    if by_lut:
        return (lut, _plane(frame, 0, frame.height, frame.width).copy())
    return (None, _convert(frame, mode, slice(None), slice(None), color_range))


# ----------------------------------------------------------------- decoder state
class _Decoder:
    """An open container positioned somewhere in the stream; owned by one thread.

    Packets are demuxed here and fed to the decoder one by one, so that frames that
    are not needed and that no other frame references (non-reference B-frames that
    are not wanted, up to the last wanted frame) are skipped instead of decoded.
    """

    def __init__(self, index: VideoIndex, threads: int, released: int):
        self.index = index
        self.released = released  # how many times its video was closed when it opened: closed again, reopened
        self.remote = index.source.remote  # a URL is pinned by every response it gets (size, version)
        self.container = index.source.open(index.pinned)
        self.stream = self.container.streams.video[0]
        self.cc = self.stream.codec_context
        _tell_build(self.cc, index)
        if threads and threads > 1:
            self.cc.thread_type = "FRAME"
            self.cc.thread_count = threads
        else:
            self.cc.thread_type = "SLICE"
            self.cc.thread_count = 1
        # frame threads apply skip settings with a delay: skip only single-threaded; decode-order
        # timestamps (a reordered index) cannot tell which unwanted frames come before a wanted one
        self.can_skip = not (threads and threads > 1) and not index.reordered
        self.frames = None  # live decode iterator
        self.last = -1  # index of the last frame returned by the iterator
        # what the current read wants (read by the iterator when it changes, see `plan_read`)
        self.plan = (None, frozenset(), False)
        self.drained = False  # flushed: the next read must seek
        #: first frame of the current keyframe group the decoder flagged as concealed (damaged data)
        self.damaged_from: int | None = None

    def plan_read(self, skip_before: int | None, keep_pts: frozenset, drain: bool) -> None:
        """Set what the next frames are decoded for.

        ``skip_before``: pts below which unwanted non-reference frames are skipped
        (None: skip nothing); ``keep_pts``: pts of the wanted frames (never skipped);
        ``drain``: flush the decoder once every wanted packet is in (sparse reads).
        """
        self.plan = (skip_before if self.can_skip else None, keep_pts, drain and self.can_skip)

    def close(self):
        try:
            self.container.close()
        except Exception:  # pragma: no cover - closing a broken container
            pass

    def _iter(self):
        cc, decode, plan = self.cc, self.stream.decode, None
        skipping = False
        cc.skip_frame = "DEFAULT"  # whatever an abandoned iterator left set
        for packet in self.container.demux(self.stream):
            p = packet.pts
            if self.plan is not plan:  # a new read continues this iterator
                plan = self.plan
                skip_before, keep, drain = plan
                left = len(keep)
            skip = skip_before is not None and p is not None and p < skip_before and p not in keep
            if skip is not skipping:
                cc.skip_frame = "NONREF" if skip else "DEFAULT"
                skipping = skip
            yield from decode(packet)
            # (a read that took its frames during that yield may have planned another since)
            if drain and p in keep and self.plan is plan:
                left -= 1
                if not left:
                    # every wanted frame and its references are in: flush the reorder buffer
                    # instead of decoding the next packets to push them out
                    self.drained = True
                    yield from decode(None)
                    return

    def seek_group(self, g: int) -> None:
        STATS.add(seeks=1)
        self.container.seek(_seek_target(self.index, g), stream=self.stream, backward=True,
                            any_frame=False)
        self.frames = self._iter()
        self.last = -1
        self.drained = False
        self.damaged_from = None


def _tell_build(cc, index: VideoIndex) -> None:
    """Give a decoder what the stream says once, at its start: a decoder that seeks past it never sees it.

    FFmpeg works around old x264 builds' bugs (4:4:4 among them) only when it knows the
    build, which x264 writes in its first packet alone.
    """
    if index.x264_build >= 0:
        cc.options = {**cc.options, "x264_build": str(index.x264_build)}


def _seek_target(index: VideoIndex, g: int) -> int:
    """Timestamp to seek to for keyframe group ``g``: the keyframe's pts.

    Demuxers index keyframes by pts (mov/mp4 with edit lists) or dts; the keyframe's
    pts is at or after its dts and before the next keyframe's dts, so a backward seek
    to it lands on this keyframe either way (checked after decoding by pts).
    """
    return int(index.frame_pts[index.key_frames[g]])


class DecodeStats:
    """Process-wide counters of decoder work (seeks, frames out of the decoder), for tests and tuning."""

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


class _Decoders:
    """Each thread's open decoders, at most ``per_thread`` (a decoder continues where its last read stopped).

    A decoder belongs to the thread that opened it. Closing a video (its camera's
    ``close()``) or :func:`clear_caches` closes the calling thread's decoders at once,
    and other threads' before their next read (a thread never closes another's decoder
    while it may be reading).
    """

    #: Videos whose closing is remembered (a decoder of a video closed longer ago has long been evicted).
    VIDEOS_REMEMBERED = 4096

    def __init__(self, per_thread: int):
        self.per_thread = per_thread
        self._local = threading.local()
        self._lock = threading.Lock()
        self.generation = 0  # bumped by clear(): every thread closes its decoders before its next read
        self.released: dict = {}  # how many times each video (its index's token) was closed: one int a video

    def _mine(self) -> collections.OrderedDict:
        pool = getattr(self._local, "pool", None)
        if getattr(self._local, "generation", None) != self.generation:
            while pool:
                pool.popitem()[1].close()
            self._local.generation = self.generation
            pool = None
        if pool is None:
            pool = self._local.pool = collections.OrderedDict()
        return pool

    def get(self, index: VideoIndex, threads: int) -> _Decoder:
        """The calling thread's decoder of the video, reused between calls (never shared)."""
        pool = self._mine()
        key = (index.token, threads)
        dec = pool.pop(key, None)
        if dec is not None and dec.released != self.released.get(index.token, 0):  # its camera was closed
            dec.close()
            dec = None
        if dec is not None and not dec.remote:
            try:  # an open decoder reads the file again: it must still be the file indexed (a stat, ~2 us)
                check_unchanged(index.path, index.size, index.mtime_ns)
            except SourceChangedError:
                dec.close()
                raise
        if dec is None:
            dec = _Decoder(index, threads, self.released.get(index.token, 0))
        pool[key] = dec
        while len(pool) > self.per_thread:
            pool.popitem(last=False)[1].close()
        return dec

    def drop(self, index: VideoIndex, threads: int) -> None:
        """Close the calling thread's decoder of the video (after a failed read)."""
        dec = self._mine().pop((index.token, threads), None)
        if dec is not None:
            dec.close()

    def release(self, index: VideoIndex) -> None:
        """Close the video's decoders: the calling thread's now, other threads' before their next read of it."""
        with self._lock:  # the video closed last, last; the oldest forgotten past the bound
            self.released[index.token] = self.released.pop(index.token, 0) + 1
            if len(self.released) > self.VIDEOS_REMEMBERED:
                self.released.pop(next(iter(self.released)))
        pool = self._mine()
        for key in [k for k in pool if k[0] == index.token]:
            pool.pop(key).close()

    def clear(self) -> None:
        """Close every decoder: the calling thread's now, other threads' before their next read."""
        with self._lock:
            self.generation += 1
        self._mine()

    def forget(self) -> None:
        """Start afresh in a forked child: the parent's decoders share its file offsets and connections."""
        self._local, self._lock = threading.local(), threading.Lock()


#: The open decoders of this process (four a thread).
DECODERS = _Decoders(per_thread=4)


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's other threads: its decoders and counters start afresh."""
    DECODERS.forget()
    STATS._lock = threading.Lock()


after_fork_in_child(_after_fork_in_child)


def release(index: VideoIndex) -> None:
    """Close the decoders of a video: the calling thread's now, other threads' before their next read of it.

    What a camera's ``close()`` (and ``with open_camera(...) as cam:``) does; a later read
    opens the video again.
    """
    DECODERS.release(index)


def clear_caches() -> None:
    """Forget cached decoded frames and fetched blocks, and close the open decoders.

    The calling thread's decoders are closed now, other threads' (a thread pool's)
    before their next read.
    """
    CACHE.clear()
    DECODERS.clear()


# ---------------------------------------------------------------------- reading
def _frame_at(index: VideoIndex, p) -> int:
    """The frame number of pts ``p``, or a DecodeError when the index has no such frame."""
    i = int(index.frame_of(p)) if p is not None else -1
    if i < 0:
        raise DecodeError(
            f"{index.path}: decoder returned a frame with pts {p} that is not in "
            "the index; the file changed since it was indexed or is damaged."
        )
    return i


#: Frames before a damaged one that may still reference it (H.264 reorders at most 16 frames).
_REORDER = 16


class DamagedFramesWarning(UserWarning):
    """The decoder concealed damaged data in these frames (``.frames``): their pixels are not the recorded ones."""

    frames: list = []


def _report_damage(index: VideoIndex, damaged: list, strict: bool) -> None:
    """Warn (or, ``strict``, raise :class:`DecodeError`) naming the frames decoded from damaged data."""
    if not damaged:
        return
    frames = sorted(set(damaged))
    shown = ", ".join(map(str, frames[:20])) + (" ..." if len(frames) > 20 else "")
    msg = (f"{index.path}: the decoder flagged {len(frames)} frame(s) ({shown}) as concealed (data it could not "
           "decode, or frames they reference): their pixels may be its guess, not the recording. "
           f"`ibl-xvideo verify {'FILE' if '://' in index.path else index.path}` compares every way of reading the "
           f"{'downloaded ' if '://' in index.path else ''}file with one sequential decode; "
           "if a sequential decode shows the same frames, the file itself holds them so (for a download, fetch it "
           "again). strict=True makes this an error.")
    if strict:
        raise DecodeError(msg)
    warning = DamagedFramesWarning(msg)
    warning.frames = frames
    warnings.warn(warning, stacklevel=4)


class _FrameOrder:
    """Which frame each decoded frame of a read is (by its pts), checked to come in order.

    Also notes where the decoder first flagged a concealed frame (damaged data) in the
    keyframe group: frames from up to :data:`_REORDER` before it may reference it.
    """

    def __init__(self, index: VideoIndex, dec: _Decoder, lo: int, last_wanted: int, skipping: bool):
        pts = index.frame_pts
        self.index, self.dec, self.last_wanted, self.skipping = index, dec, last_wanted, skipping
        # frame number of each pts expected here (the index is searched for any other)
        self.where = dict(zip(pts[lo:last_wanted + 1].tolist(), range(lo, last_wanted + 1)))
        self.decoded = 0

    def number(self, frame) -> int:
        """The frame number of a decoded frame, its damage noted."""
        i = self.where.get(frame.pts)
        if i is None:
            i = _frame_at(self.index, frame.pts)
        self.decoded += 1
        if frame.key_frame:
            self.dec.damaged_from = None
        if self.dec.damaged_from is None and frame.is_corrupt:
            self.dec.damaged_from = i
        return i

    def follow(self, i: int) -> None:
        """Frame ``i`` comes after the decoder's last: raise on a gap but where frames were skipped on purpose."""
        last = self.dec.last
        if i <= last:  # out of the index's order: the file's timestamps are not the frames' presentation order
            raise DecodeError(f"{self.index.path}: the decoder gave frame {i} after frame {last}: its timestamps do "
                              "not order its frames. Re-encode it (e.g. ffmpeg -i FILE -c:v libx264 out.mp4).")
        if i != last + 1 and not (i <= self.last_wanted and self.skipping):
            raise DecodeError(f"{self.index.path}: frames {last + 1}..{i - 1} could not be decoded (damaged stream).")
        self.dec.last = i

    def suspect(self, i: int) -> bool:
        """Whether frame ``i`` may be wrong: at or after the first concealed frame (less the reorder depth)."""
        return self.dec.damaged_from is not None and i >= self.dec.damaged_from - _REORDER


def _decode_group(
    index: VideoIndex,
    g: int,
    wanted: np.ndarray,
    sink: Callable[[int, object], None],
    threads: int,
    keep: Callable[[int, object], None] | None,
    drain: bool = False,
    damaged: list | None = None,
) -> None:
    """Decode the frames ``wanted`` (sorted, all in keyframe group ``g``).

    With ``keep`` (remember every decoded frame), no frame is skipped. With ``drain``
    the decoder is flushed as soon as every wanted frame is fed (for scattered reads:
    the decoder is then not continued by the next read). ``damaged`` receives the
    wanted frames that the decoder flagged as concealed, or that follow such a frame
    in its keyframe group (by up to :data:`_REORDER` frames before it: they may
    reference it).
    """
    import av

    first = int(wanted[0])
    pts = index.frame_pts
    dec = DECODERS.get(index, threads)
    last_wanted = int(wanted[-1])
    # non-reference frames that are not wanted, up to the last wanted one, need not be decoded;
    # scattered frames: flush once the wanted ones are in (a range is left open to continue)
    if keep is None:
        dec.plan_read(int(pts[last_wanted]), frozenset(pts[wanted].tolist()), drain)
    else:
        dec.plan_read(None, frozenset(), False)
    start = int(index.key_frames[g])
    # continue the live decoder when that is no more work than a seek
    resume = (dec.frames is not None and not dec.drained and dec.last < first
              and (first - dec.last) <= (first - start + 1))
    seek_g = g
    order = _FrameOrder(index, dec, dec.last + 1 if resume else start, last_wanted, dec.plan[0] is not None)
    want = wanted.tolist()
    j = 0
    sunk = []
    try:
        if not resume:
            dec.seek_group(seek_g)  # (a damaged index can make FFmpeg refuse the seek itself)
        while True:
            got_first = dec.last >= 0
            for frame in dec.frames:
                i = order.number(frame)
                if got_first:
                    order.follow(i)
                else:
                    got_first = True
                    if i > first:
                        break  # landed after the wanted frame: seek further back
                    dec.last = i
                if keep is not None and not order.suspect(i):
                    keep(i, frame)
                while j < len(want) and want[j] == i:
                    sink(j, frame)
                    sunk.append(i)
                    j += 1
                if j == len(want):
                    if damaged is not None and dec.damaged_from is not None:
                        damaged.extend(k for k in sunk if order.suspect(k))
                    return
                if i > want[j]:
                    raise DecodeError(f"{index.path}: frame {want[j]} was not produced by the decoder.")
            else:
                dec.frames = None
                raise DecodeError(
                    f"{index.path}: the stream ended before frame {want[j]} of "
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
        DECODERS.drop(index, threads)
        raise DecodeError(f"{index.path}: decoding failed near frame {dec.last + 1}: {exc}") from exc
    except BaseException:
        DECODERS.drop(index, threads)
        raise
    finally:
        STATS.add(frames=order.decoded)


def read_frames(
    index: VideoIndex,
    frames,
    *,
    y: slice = slice(None),
    x: slice = slice(None),
    pixels: PixelMode = "ibllib",
    threads: int = 1,
    workers: int = 1,
    remember: bool = False,
    progress: Callable[[int], None] | None = None,
    flush: bool | None = None,
    strict: bool = False,
) -> np.ndarray:
    """Decode the given frames, cropped, as a ``(len(frames), h, w)`` uint8 array.

    Each keyframe group holding a requested frame is decoded once, from its
    keyframe up to the last frame requested in it, whatever the order or
    repetition of ``frames``; non-reference frames that are not requested, up to the
    last requested one, are skipped.

    Parameters
    ----------
    index : VideoIndex
        Index of the video (see :func:`ibl_xvideo.engine.index.get_index`).
    frames : array-like of int
        Frame indices (0-based, presentation order), any order, repeats allowed;
        negative values count from the end.
    y, x : slice
        Crop applied right after decoding (step allowed).
    pixels : {'ibllib', 'luma'}
        Grey value definition; see the module docstring.
    threads : int
        Decoder threads (frame threading); 1 is best when many reads run in parallel.
    workers : int
        Keyframe groups decoded in parallel by a thread pool (each with its own
        decoder); 1 inside Dask tasks, the core count for a standalone read.
    remember : bool
        Keep every frame decoded on the way in an in-memory LRU (for interactive
        viewing: a later request for another frame of the same group is then free).
    progress : callable, optional
        Called with the number of requested (unique) frames done, after each group.
    flush : bool, optional
        Flush each decoder as soon as its wanted frames are fed, instead of leaving it
        open for a later read to continue. Default: when the frames are not one range
        (a scattered read, which no later read continues).
    strict : bool
        Frames the decoder concealed (damaged data in the file) raise
        :class:`DecodeError`; by default they are returned with a
        :class:`DamagedFramesWarning` naming them.

    Returns
    -------
    numpy.ndarray
        uint8 array of shape ``(len(frames), h, w)``.
    """
    check_option("pixels", pixels, PIXEL_MODES)
    n = index.length
    req = np.asarray(frames, dtype=np.int64).reshape(-1)
    req = np.where(req < 0, req + n, req)
    if req.size and (req.min() < 0 or req.max() >= n):
        bad = req[(req < 0) | (req >= n)][0]
        raise IndexError(f"frame {bad} is out of range for {index.path} ({n} frames)")
    hh = len(range(index.height)[y])
    ww = len(range(index.width)[x])
    uniq, inverse = np.unique(req, return_inverse=True)
    # sorted, distinct requests (slices, whole chunks) need no reordering copy at the end
    in_order = uniq.size == req.size and bool(np.array_equal(uniq, req))
    out = np.empty((uniq.size, hh, ww), dtype=np.uint8)
    token = (index.token, pixels)
    todo = np.ones(uniq.size, dtype=bool)
    if CACHE.nbytes:
        for k, i in enumerate(uniq):
            hit = CACHE.get(("frame", token, int(i)))
            if hit is not None:
                apply_lut(hit[0], hit[1][y, x], out[k])
                todo[k] = False
    pending = np.flatnonzero(todo)
    if progress is not None and pending.size < uniq.size:
        progress(int(uniq.size - pending.size))
    if not pending.size:
        return out if in_order else out[inverse]
    cr = index.color_range
    groups = index.group_of(uniq[pending])
    # not one range: no later read continues it
    scattered = bool(uniq[-1] - uniq[0] + 1 > uniq.size) if flush is None else bool(flush)

    damaged: list = []

    def work(g):
        pos = pending[groups == g]
        wanted = uniq[pos]
        keep = None
        if remember:
            def keep(i, frame):
                CACHE.put(("frame", token, i), _remember(frame, pixels, cr))

        def sink(j, frame):
            _convert(frame, pixels, y, x, cr, out=out[pos[j]])

        _decode_group(index, int(g), wanted, sink, threads, keep, drain=scattered, damaged=damaged)
        if progress is not None:
            progress(int(pos.size))

    todo_groups = np.unique(groups)
    if workers > 1 and todo_groups.size > 1:
        # longest work first (frames from the keyframe to the last wanted) balances the workers
        last = np.array([uniq[pending[groups == g]].max() for g in todo_groups])
        order = np.argsort(-(last - index.key_frames[todo_groups]), kind="stable")
        run_each(work, todo_groups[order], workers)
    else:
        for g in todo_groups:
            work(g)
    _report_damage(index, damaged, strict)
    return out if in_order else out[inverse]


def each_frame(index: VideoIndex, start: int, stop: int, fn: Callable[[int, np.ndarray], None], *,
               y: slice = slice(None), x: slice = slice(None), pixels: PixelMode = "ibllib",
               whole=(), strict: bool = False) -> dict[int, np.ndarray]:
    """Decode frames ``start..stop-1`` in order, calling ``fn(i, frame)`` for each.

    ``frame`` is a ``(h, w)`` uint8 buffer reused for the next frame (copy what you
    keep): a long range is decoded without allocating an array per frame, and ``fn``
    sees each frame while it is still in the CPU cache. Same exactness checks and
    single-threaded decoder as :func:`read_frames` (for use inside parallel tasks).

    ``whole``: frame numbers also kept uncropped (e.g. sample frames picked up during
    a cropped pass); returned as ``{i: (H, W) array}``. Concealed frames: as
    :func:`read_frames` (``strict``), reported once the range is done.
    """
    frames = np.arange(int(start), min(int(stop), index.length)) if start >= 0 else np.arange(0)
    return each_of(index, frames, fn, y=y, x=x, pixels=pixels, whole=whole, strict=strict, drain=False)


def each_of(index: VideoIndex, frames, fn: Callable[[int, np.ndarray], None], *,
            y: slice = slice(None), x: slice = slice(None), pixels: PixelMode = "ibllib",
            whole=(), strict: bool = False, drain: bool | None = None) -> dict[int, np.ndarray]:
    """:func:`each_frame` for any sorted, distinct ``frames``: ``fn(i, frame)`` for each, in order.

    Each keyframe group is decoded once, up to its last wanted frame (unwanted
    non-reference frames before it skipped). ``drain``: flush each group's decoder once
    its wanted frames are in, instead of leaving it for a later read to continue; by
    default when the frames are not one range, as :func:`read_frames`'s ``flush``.
    """
    check_option("pixels", pixels, PIXEL_MODES)
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    kept: dict[int, np.ndarray] = {}
    if not frames.size:
        return kept
    if drain is None:
        drain = bool(frames[-1] - frames[0] + 1 > frames.size)
    if frames[0] < 0 or frames[-1] >= index.length or (frames.size > 1 and np.any(np.diff(frames) <= 0)):
        raise IndexError(f"each_of: frames must be sorted, distinct and within the {index.length} frames of "
                         f"{index.path}")
    buf = np.empty((len(range(index.height)[y]), len(range(index.width)[x])), np.uint8)
    whole = frozenset(int(i) for i in whole)
    cr, every = index.color_range, slice(None)
    groups = index.group_of(frames)
    damaged: list = []
    bounds = np.flatnonzero(np.r_[True, np.diff(groups) != 0, True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        wanted = frames[a:b]

        def sink(j, frame, wanted=wanted):
            i = int(wanted[j])
            if i in whole:
                kept[i] = _convert(frame, pixels, every, every, cr)
                np.copyto(buf, kept[i][y, x])
                fn(i, buf)
            else:
                fn(i, _convert(frame, pixels, y, x, cr, out=buf))

        _decode_group(index, int(groups[a]), wanted, sink, 1, None, drain=drain, damaged=damaged)
    _report_damage(index, damaged, strict)
    return kept


def iter_frames(index: VideoIndex, start: int = 0, stop: int | None = None, *,
                pixels: PixelMode = "ibllib", threads: int = 0):
    """Yield ``(i, frame)`` for frames ``start..stop-1`` in one sequential pass."""
    stop = index.length if stop is None else min(stop, index.length)
    if stop <= start:
        return
    container = index.source.open(index.pinned)
    try:
        stream = container.streams.video[0]
        _tell_build(stream.codec_context, index)
        if threads != 1:
            stream.codec_context.thread_type = "AUTO"
            stream.codec_context.thread_count = threads
        g = int(index.group_of(np.array([start]))[0])
        if g > 0:
            container.seek(_seek_target(index, g), stream=stream, backward=True, any_frame=False)
        expect = None
        for frame in container.decode(stream):
            i = _frame_at(index, frame.pts)
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
