"""Probe a video and build its frame index without decoding.

The index holds the stream facts (codec, pixel format, size, frame rate, time base)
and, for every frame in presentation order, its presentation timestamp (pts), plus
the keyframe table: which frame each keyframe is and the decode timestamp to seek to.
It is built by demuxing packets (no decoding) and cached on disk, keyed by the file's
identity (path, size, modification time), so that reopening a video costs
milliseconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import CorruptVideoError, FrameIdentityError
from ..io.container import Pinned, Source, as_source
from ..io.fileio import cache_dir, mp4_boxes
from ..io.remote import Transport

__all__ = ["VideoIndex", "get_index", "index_of", "build_index", "cache_dir"]

_log = logging.getLogger(__name__)

#: Bump when the index layout or semantics change: old cache files are then ignored.
INDEX_VERSION = 4  # 4: an mp4 whose pts only increase is not decoded whole to order it (3: x264_build)


@dataclass(frozen=True, eq=False)
class VideoIndex:
    """Facts about one video stream and its frames, in presentation order.

    Attributes
    ----------
    source : Source
        The handle of the video the index was built from (:class:`~ibl_xvideo.io.container.LocalSource`
        or :class:`~ibl_xvideo.io.container.HTTPSource`, with how a URL is read): every read of
        the frames goes through it, pinned to ``size``, ``mtime_ns`` and ``fingerprint``.
    size, mtime_ns : int
        File identity at indexing time.
    codec, pix_fmt : str
        Codec name (``'h264'``) and decoder pixel format (``'yuv420p'``, ``'gray'``).
    color_range : int
        FFmpeg colour range (0 unspecified, 1 limited, 2 full).
    width, height : int
        Frame size in pixels.
    fps : float
        Average frame rate reported by the container.
    time_base : tuple of int
        ``(numerator, denominator)`` of the stream time base (s per pts tick).
    frame_pts : numpy.ndarray
        int64 pts the decoder gives frame ``i`` (unique; sorted unless ``reordered``).
    key_frames : numpy.ndarray
        int64 index of the frame each keyframe presents (sorted, first is 0).
    key_dts : numpy.ndarray
        int64 decode timestamp of each keyframe packet: the seek target.
    fingerprint : str
        Of a local file, a hash of its container tables (:func:`file_fingerprint`): with
        the size and mtime, what identifies this version of the file.
    x264_build : int
        The x264 build that encoded an H.264 stream (from its version SEI, sent once in
        the first packet), else -1. FFmpeg works around old builds' bugs only when it
        knows the build: every decoder is told it, wherever it starts.
    reordered : bool
        True when the container's timestamps do not follow presentation order (AVI
        gives decode-order timestamps to B-frames): ``frame_pts`` is then the order in
        which a sequential decode outputs the frames' timestamps, established once by
        such a decode when the file was indexed.
    """

    source: Source = dataclasses.field(repr=False, compare=False)
    size: int
    mtime_ns: int
    codec: str
    pix_fmt: str
    color_range: int
    width: int
    height: int
    fps: float
    time_base: tuple[int, int]
    frame_pts: np.ndarray
    key_frames: np.ndarray
    key_dts: np.ndarray
    fingerprint: str = ""
    x264_build: int = -1
    reordered: bool = False

    def _pts_order(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sorted pts, frame number of each)``: made on first use, never pickled."""
        found = self.__dict__.get("_by_pts")
        if found is None:
            order = np.argsort(self.frame_pts, kind="stable")
            found = (self.frame_pts[order], order)
            object.__setattr__(self, "_by_pts", found)
        return found

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_by_pts", "_token")}

    def frame_of(self, pts) -> np.ndarray:
        """The frame number of each decoder timestamp in ``pts``, -1 where the index has no such frame."""
        sorted_pts, order = self._pts_order()
        p = np.asarray(pts, np.int64)
        if not sorted_pts.size:
            return np.full(p.shape, -1, np.int64)
        i = np.clip(np.searchsorted(sorted_pts, p), 0, sorted_pts.size - 1)
        return np.where(sorted_pts[i] == p, order[i], -1)

    @property
    def length(self) -> int:
        """Number of frames."""
        return int(self.frame_pts.size)

    @property
    def start_time(self) -> float:
        """Presentation time of frame 0 in seconds (stream clock)."""
        num, den = self.time_base
        return float(self.frame_pts.min() * num / den) if self.length else 0.0

    @property
    def token(self) -> str:
        """Short string identifying the file version this index describes (made once: every read keys on it)."""
        found = self.__dict__.get("_token")
        if found is None:
            found = _key(self.path, self.size, self.mtime_ns, self.fingerprint)
            object.__setattr__(self, "_token", found)
        return found

    @property
    def path(self) -> str:
        """Where the video is: a path, or a URL without credentials (what messages and keys name)."""
        return self.source.location

    @property
    def transport(self) -> Transport | None:
        """How a remote video is read (credentials, retry policy): travels with tasks, never shown or saved."""
        return self.source.transport

    def __repr__(self) -> str:
        return (f"VideoIndex(path={self.path!r}, {self.length} frames, {self.width}x{self.height} {self.codec} "
                f"{self.pix_fmt}, {self.fps:g} fps)")

    @property
    def pinned(self) -> Pinned:
        """The version of the source this index describes: every read is checked against it."""
        return Pinned(self.size, self.mtime_ns, self.fingerprint)

    def group_of(self, frames: np.ndarray) -> np.ndarray:
        """Index of the keyframe group holding each frame."""
        return np.searchsorted(self.key_frames, frames, side="right") - 1

    def facts(self) -> dict:
        """The scalar facts as a JSON-friendly dict."""
        out = {"path": self.path, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        for name in ("source", "frame_pts", "key_frames", "key_dts"):
            out.pop(name)
        out["time_base"] = list(self.time_base)
        return out


def _key(path: str, size: int, mtime_ns: int, fingerprint: str = "") -> str:
    where = path if "://" in path else os.path.abspath(path)
    raw = f"{where}|{size}|{mtime_ns}|{fingerprint}|v{INDEX_VERSION}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def sample_runs(entries) -> np.ndarray:
    """The byte ranges of a stream's samples (``stream.index_entries``), adjacent ones merged: ``(n, 2)``."""
    return _merged(np.array([(e.pos, e.pos + e.size) for e in entries if e.size and e.pos >= 0],
                            dtype=np.int64).reshape(-1, 2))


def _merged(spans: np.ndarray) -> np.ndarray:
    """``(n, 2)`` byte ranges sorted, overlapping and adjacent ones merged."""
    spans = spans[np.argsort(spans[:, 0], kind="stable")]
    if not spans.size:
        return spans
    # a run starts where a sample begins after the end of every earlier one
    ends = np.maximum.accumulate(spans[:, 1])
    starts = np.r_[True, spans[1:, 0] > ends[:-1]]
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(spans)] - 1
    return np.stack([spans[first, 0], ends[last]], axis=1)


def _mp4_video_tables(read, size: int, path: str) -> dict | None:
    """The first video track's sample tables of a plain (not fragmented) mp4, or None.

    ``dts`` and ``pts`` (``dts + ctts``) in the track's timescale, before the demuxer's
    edit-list shift; ``key`` from the sync-sample table; ``chunks`` the byte ranges of
    the samples. Raises CorruptVideoError when the frame data or the tables run past
    the end of the file (a truncated download).
    """
    moov = None
    for typ, a, b in mp4_boxes(read, 0, size):
        if b > size and typ not in (b"mdat", b"moov"):
            break  # a partial box of something else at the end: not the frames' business
        if b > size:
            raise CorruptVideoError(
                f"{path} is truncated: its {typ.decode('latin-1')!r} box ends at byte {b}, but the file "
                f"has {size} bytes. Re-download the file.")
        if typ == b"moof":
            return None  # fragmented: the tables come fragment by fragment
        if typ == b"moov":
            moov = (a, b)
    if moov is None:
        return None
    buf = read(moov[0], moov[1] - moov[0])
    if len(buf) != moov[1] - moov[0]:
        return None

    def read(o, n):
        return buf[o:o + n]

    def children(a, b):
        return {typ: (x, y) for typ, x, y in mp4_boxes(read, a, b)}

    for typ, a, b in mp4_boxes(read, 0, len(buf)):
        if typ != b"trak":
            continue
        trak = children(a, b)
        mdia = children(*trak[b"mdia"]) if b"mdia" in trak else {}
        if b"hdlr" not in mdia or buf[mdia[b"hdlr"][0] + 8:mdia[b"hdlr"][0] + 12] != b"vide":
            continue
        return _track_tables(buf, trak, mdia, children)
    return None


def _track_tables(buf: bytes, trak: dict, mdia: dict, children) -> dict | None:
    def u32(o):
        return struct.unpack_from(">I", buf, o)[0]

    m = mdia[b"mdhd"][0]
    timescale = u32(m + 4 + (16 if buf[m] == 1 else 8))
    stbl = children(*children(*mdia[b"minf"])[b"stbl"])
    if b"stts" not in stbl or b"stsz" not in stbl:
        return None
    # edit list: leading empty edits, then at most one edit of the media (else: let the demuxer do it)
    if b"edts" in trak:
        e = children(*trak[b"edts"]).get(b"elst")
        if e is not None:
            v1, count = buf[e[0]] == 1, u32(e[0] + 4)
            entry = np.dtype([("dur", ">u8"), ("time", ">i8"), ("rate", ">i4")] if v1
                             else [("dur", ">u4"), ("time", ">i4"), ("rate", ">i4")])
            edits = np.frombuffer(buf, entry, count, e[0] + 8)
            media = np.flatnonzero(edits["time"] != -1)
            if media.size > 1 or (media.size and media[0] != count - 1):
                return None
    a = stbl[b"stsz"][0]
    sample_size, n = u32(a + 4), u32(a + 8)
    sizes = (np.frombuffer(buf, ">u4", n, a + 12).astype(np.int64) if sample_size == 0
             else np.full(n, sample_size, np.int64))
    if not n or np.any(sizes == 0):
        return None  # empty samples: the demuxer's business
    # where the samples are: chunks (stco/co64) of samples-per-chunk runs (stsc), each chunk contiguous
    if b"stsc" not in stbl or not (b"stco" in stbl or b"co64" in stbl):
        return None
    co = stbl.get(b"co64", stbl.get(b"stco"))
    offsets = np.frombuffer(buf, ">u8" if b"co64" in stbl else ">u4", u32(co[0] + 4), co[0] + 8).astype(np.int64)
    a = stbl[b"stsc"][0]
    stsc = np.frombuffer(buf, ">u4", 3 * u32(a + 4), a + 8).reshape(-1, 3).astype(np.int64)
    first = stsc[:, 0] - 1
    runs = np.diff(np.r_[first, offsets.size])
    if not stsc.size or first[0] != 0 or np.any(runs <= 0):
        return None
    per_chunk = np.repeat(stsc[:, 1], runs)
    if per_chunk.sum() != n or np.any(per_chunk <= 0):
        return None
    starts = np.r_[0, np.cumsum(per_chunk)[:-1]]
    spans = np.stack([offsets, offsets + np.add.reduceat(sizes, starts)], axis=1)
    a = stbl[b"stts"][0]
    stts = np.frombuffer(buf, ">u4", 2 * u32(a + 4), a + 8).reshape(-1, 2).astype(np.int64)
    if stts[:, 0].sum() != n or np.any(stts[:, 1] <= 0):
        return None
    deltas = np.repeat(stts[:, 1], stts[:, 0])
    dts = np.zeros(n, np.int64)
    np.cumsum(deltas[:-1], out=dts[1:])
    pts = dts.copy()
    if b"ctts" in stbl:
        a = stbl[b"ctts"][0]
        ctts = np.frombuffer(buf, [("count", ">u4"), ("offset", ">i4")], u32(a + 4), a + 8)
        if int(ctts["count"].astype(np.int64).sum()) != n:
            return None
        pts += np.repeat(ctts["offset"].astype(np.int64), ctts["count"].astype(np.int64))
    key = np.ones(n, bool)
    if b"stss" in stbl:
        a = stbl[b"stss"][0]
        sync = np.frombuffer(buf, ">u4", u32(a + 4), a + 8).astype(np.int64) - 1
        if sync.size and (sync.min() < 0 or sync.max() >= n):
            return None
        key[:] = False
        key[sync] = True
    return {"dts": dts, "pts": pts, "key": key, "timescale": timescale, "chunks": spans}


#: Packets compared with the demuxer at each end of the file, and from each of up to
#: :data:`VERIFY_PROBES` keyframes between them, before a parsed table is trusted.
VERIFY_PACKETS = 300
VERIFY_PROBES = 8


def _moov_timestamps(source: Source, pinned: Pinned, stream):
    """``(pts, dts, keyframe)`` in decode order from the mp4's own tables, as the demuxer gives them; or None.

    The tables are parsed without FFmpeg (0.1 s for an hour at 150 Hz, where demuxing
    every packet takes seconds; over HTTP only the tables are fetched); the demuxer's
    timestamps differ from them by its edit-list shift, measured on the first packets.
    They are checked against the demuxer on the first and the last
    :data:`VERIFY_PACKETS` packets and from :data:`VERIFY_PROBES` keyframes between: any
    difference (an odd file) returns None, and the caller demuxes every packet instead.
    (A difference nowhere checked cannot shift frames: the decoder checks every frame's
    pts against the index and raises.)
    """
    import av

    where, size = source.location, pinned.size
    raw = source.raw(pinned)

    def read(o, n):
        raw.seek(o)
        return raw.read(n)

    try:
        t = _mp4_video_tables(read, size, where)
    except (ValueError, KeyError, IndexError, struct.error):
        return None
    finally:
        raw.close()
    if t is None or not t["dts"].size or stream.time_base != Fraction(1, t["timescale"]):
        return None
    dts, pts, key = t["dts"], t["pts"], t["key"]
    n = dts.size
    holes = _merged(t["chunks"])
    if holes[-1, 1] > size:
        raise CorruptVideoError(
            f"{where} is truncated: its tables announce {n} frames whose data end at byte {int(holes[-1, 1])}, "
            f"but the file has {size} bytes. Re-download the file.")
    # the checks demux with the frame data served as zeros: nothing but the tables is read
    try:
        return _checked(source, pinned, holes, pts, dts, key)
    except (av.FFmpegError, CorruptVideoError, IndexError):
        return None


def _checked(source: Source, pinned: Pinned, holes: np.ndarray, pts: np.ndarray, dts: np.ndarray, key: np.ndarray):
    """The tables' timestamps shifted as the demuxer's, if they agree wherever they are checked; else None.

    The demuxer reads the source with ``holes`` (the frame data) served as zeros.
    """
    n = dts.size
    with source.open(pinned, holes) as container:
        head = _packets(container, VERIFY_PACKETS)
        if head is None or len(head[0]) != min(n, VERIFY_PACKETS):
            return None
        shift_p, shift_d = head[0][0] - pts[0], head[1][0] - dts[0]
        pts, dts = pts + shift_p, dts + shift_d
        if not _same_packets(head, pts, dts, 0):
            return None
        keys = np.flatnonzero(key)
        probes = np.unique(keys[np.linspace(0, keys.size - 1, VERIFY_PROBES + 2).astype(int)[1:]])
        for k in probes:
            last = k == keys[-1]
            container.seek(int(pts[k]), stream=container.streams.video[0], backward=True, any_frame=False)
            got = _packets(container, None if last else VERIFY_PACKETS)
            if got is None or not len(got[0]):
                return None
            j = int(np.searchsorted(dts, got[1][0]))
            if j > k or not _same_packets(got, pts, dts, j) or (last and j + len(got[0]) != n):
                return None
    return pts, dts, key


def _same_packets(got, pts, dts, j: int) -> bool:
    """Whether the demuxed ``(pts, dts)`` arrays are the tables' from packet ``j`` on.

    (Keyframe flags are the sync-sample table's: with the frame data served as zeros
    the demuxer's parser cannot see them.)
    """
    m = len(got[0])
    return j + m <= pts.size and np.array_equal(got[0], pts[j:j + m]) and np.array_equal(got[1], dts[j:j + m])


def _packets(container, limit: int | None):
    """``(pts, dts)`` arrays of the next packets (all, or ``limit``); None if any is unusual."""
    pts, dts = [], []
    for packet in container.demux(container.streams.video[0]):
        if packet.size == 0:
            continue
        if packet.is_discard or packet.pts is None or packet.dts is None:
            return None
        pts.append(packet.pts)
        dts.append(packet.dts)
        if limit is not None and len(pts) == limit:
            break
    return np.asarray(pts, np.int64), np.asarray(dts, np.int64)


def _demux_timestamps(container, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pts, dts, keyframe)`` of every packet of the first video stream, in decode order."""
    import av

    stream = container.streams.video[0]
    pts, dts, key = [], [], []
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            p = packet.pts if packet.pts is not None else packet.dts
            if p is None:
                raise CorruptVideoError(f"{where}: a packet has no timestamp; remux the file.")
            pts.append(p)
            dts.append(packet.dts if packet.dts is not None else p)
            key.append(packet.is_keyframe)
    except av.FFmpegError as exc:
        raise CorruptVideoError(f"{where}: reading packets failed ({exc}); the file is damaged.") from exc
    return np.asarray(pts, np.int64), np.asarray(dts, np.int64), np.asarray(key, bool)


def _tables_only_timestamps(source: Source, pinned: Pinned, stream):
    """``(pts, dts, keyframe)`` demuxed with the frame data served as zeros (only the tables read); or None.

    None when the container announces no samples, or fewer than the demuxer then
    finds (a fragmented mp4, whose tables grow as it is read).
    """
    where = source.location
    entries = list(stream.index_entries) if hasattr(stream, "index_entries") else []
    announced = sum(1 for e in entries if not e.is_discard)
    holes = sample_runs(entries)
    if not holes.size:
        return None
    if holes[-1, 1] > pinned.size:
        raise CorruptVideoError(
            f"{where} is truncated: its index announces {announced} frames whose data end at "
            f"byte {int(holes[-1, 1])}, but the file has {pinned.size} bytes. Re-download the file.")
    with source.open(pinned, holes) as tables_only:
        pts, dts, _ = _demux_timestamps(tables_only, where)
    if pts.size != announced:
        return None
    # keyframes from the sync-sample table (the demuxer's parser sees zeros, not the frames)
    key_dts = [e.timestamp for e in entries if e.is_keyframe and not e.is_discard]
    return pts, dts, np.isin(dts, np.asarray(key_dts, np.int64))


def build_index(source: Source, *, tables: bool = True, pinned: Pinned | None = None) -> VideoIndex:
    """Build the index of a video, local or remote, by demuxing its packets (no decoding).

    Parameters
    ----------
    source : Source
        The video's handle (:func:`ibl_xvideo.io.container.as_source` makes it of a path or URL).
    tables : bool
        For mp4/mov files, take the timestamps from the file's own sample tables,
        checked against the demuxer (see :func:`_moov_timestamps`), or else demux with
        the frame data served as zeros: only the tables are read (a 1 GB camera video is
        indexed without reading its gigabyte, over HTTP without fetching it). The
        timestamps are the demuxer's either way. False skips the parsing: a local file is
        demuxed packet by packet, data and all; a URL with its frame data served as zeros.
    pinned : Pinned, optional
        What the source is (default: asked now); every read is checked against it.

    Returns
    -------
    VideoIndex

    Raises
    ------
    CorruptVideoError
        If the file cannot be opened, has no video stream, no frames, or ends before
        the frames its container announces (truncated download); for a URL, also when
        it has no sample tables (demuxing it would fetch it whole: download it).
    FrameIdentityError
        For a URL whose frames can be identified only by decoding it whole.
    """
    pinned = pinned or source.pin()
    where = source.location
    if pinned.size == 0:
        raise CorruptVideoError(f"{where} is an empty (0-byte) file: re-download it.")
    with source.open(pinned) as container:
        stream = container.streams.video[0]
        fmt = container.format.name
        mp4 = any(k in fmt.split(",") for k in ("mov", "mp4"))
        found = _moov_timestamps(source, pinned, stream) if tables and mp4 else None
        if found is None and (tables and mp4 or source.remote):  # a URL is never demuxed with its data
            found = _tables_only_timestamps(source, pinned, stream)
        if found is None:
            found = _all_packets(source, container, stream)
        facts = _stream_facts(container, where)
    pts_a, dts_a, key_a = found
    if not pts_a.size:
        raise CorruptVideoError(f"{where} contains no video frames.")
    with source.open(pinned) as first:
        build = _x264_build(first)
    presented = None
    if _needs_decoding(fmt, pts_a, facts.pop("_may_reorder")):
        if source.remote:
            raise FrameIdentityError(
                f"{where}: its container gives decode-order timestamps to a codec that reorders frames (e.g. an "
                "AVI with B-frames), so its frames can be identified only by decoding it from start to end. "
                "Download the file and open the local copy.")
        presented = _decoded_order(source, pinned, pts_a, build)
    frame_pts, key_frames, key_dts = _frame_tables(pts_a, dts_a, key_a, where, presented)
    return VideoIndex(
        source=source,
        size=pinned.size,
        mtime_ns=pinned.version,
        **facts,
        frame_pts=frame_pts,
        key_frames=key_frames,
        key_dts=key_dts,
        fingerprint=pinned.fingerprint,
        x264_build=build,
        reordered=presented is not None,
    )


def _all_packets(source: Source, container, stream):
    """``(pts, dts, keyframe)`` of every packet, data and all (a file without usable tables)."""
    where = source.location
    if source.remote:
        raise CorruptVideoError(f"{where}: the container has no usable sample table, so indexing it would fetch "
                                "it whole; download the file instead.")
    announced = sum(1 for e in stream.index_entries if not e.is_discard) if hasattr(stream, "index_entries") else 0
    found = _demux_timestamps(container, where)
    if found[0].size and found[0].size < announced:
        raise CorruptVideoError(
            f"{where} is truncated: its index announces {announced} frames but only "
            f"{found[0].size} could be read. Re-download the file.")
    return found


def _frame_tables(pts_a, dts_a, key_a, where: str, presented=None):
    """``(frame_pts, key_frames, key_dts)`` from the packets' pts, dts and keyframe flags (decode order).

    ``presented``: ``(labels, keyframes)`` of the frames in the order a sequential decode
    outputs them, where the timestamps do not order the frames (see :func:`_decoded_order`);
    else the frames are the packets, in the order of their pts.
    """
    if presented is not None:
        frame_pts, out_key = presented
        # a keyframe group starts at a frame the decoder output as a keyframe, from a keyframe packet
        key_dts_of = dict(zip(pts_a[key_a].tolist(), dts_a[key_a].tolist()))
        starts = [int(i) for i in np.flatnonzero(out_key) if int(frame_pts[i]) in key_dts_of]
        key_frames = np.asarray(starts, np.int64)
        key_dts = np.asarray([key_dts_of[int(frame_pts[i])] for i in starts], np.int64)
    else:
        frame_pts = np.sort(pts_a, kind="stable")
        if np.any(np.diff(frame_pts) <= 0):
            raise CorruptVideoError(f"{where}: two frames share a presentation timestamp; remux the file.")
        kpts, kdts = pts_a[key_a], dts_a[key_a]
        korder = np.argsort(kpts)
        key_frames = np.searchsorted(frame_pts, kpts[korder])
        key_dts = kdts[korder]
    if key_frames.size == 0 or key_frames[0] != 0:
        # frames before the first keyframe cannot be decoded on their own: treat
        # the start of the file as a (seek-to-start) group
        key_frames = np.r_[0, key_frames]
        key_dts = np.r_[dts_a.min(), key_dts]
    return frame_pts, key_frames.astype(np.int64), key_dts.astype(np.int64)


#: Codecs whose every frame is a keyframe: their frames come out in decode order.
_INTRA_ONLY = frozenset({"mjpeg", "jpeg2000", "rawvideo", "png", "ffv1", "prores", "dnxhd", "huffyuv",
                         "ffvhuff", "utvideo", "qtrle", "tiff", "bmp", "gif", "v210"})


def _stream_facts(container, where: str) -> dict:
    """The first video stream's facts, read in one place for every kind of index."""
    stream = container.streams.video[0]
    cc = stream.codec_context
    if cc is None:
        raise CorruptVideoError(f"{where}: its video stream has no codec parameters FFmpeg can read; the file is "
                                "damaged or truncated: re-download it.")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(0)
    tb = stream.time_base
    return {
        "codec": cc.name,
        "pix_fmt": cc.format.name if cc.format is not None else (cc.pix_fmt or ""),
        "color_range": int(cc.color_range or 0),
        "width": int(cc.width),
        "height": int(cc.height),
        "fps": float(rate),
        "time_base": (int(tb.numerator), int(tb.denominator)),
        # the container's timestamps can sort the frames unless it may give decode-order ones to a codec
        # that reorders (AVI keeps no presentation times)
        "_may_reorder": cc.name not in _INTRA_ONLY and bool(
            getattr(cc, "has_b_frames", True) or "avi" in container.format.name.split(",")),
    }


def _x264_build(container) -> int:
    """The x264 build named in an H.264 stream's first packet (its version SEI), else -1.

    The container is read from its start (a new one: its demux is used up here).
    """
    stream = container.streams.video[0]
    if stream.codec_context.name != "h264":
        return -1
    for packet in container.demux(stream):
        if packet.size:
            found = re.search(rb"x264 - core (\d+)", bytes(packet))
            return int(found.group(1)) if found else -1
    return -1


#: Containers that store each packet's presentation time (mp4/mov their composition offsets, Matroska and MPEG-TS
#: their pts): there, pts that only increase in decode order mean frames that are not reordered.
_PRESENTATION_TIMES = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "mpegts"})


def _needs_decoding(fmt: str, pts_a: np.ndarray, may_reorder: bool) -> bool:
    """Whether the packets' pts may not be the frames' presentation order, so that only a decode can tell it.

    AVI keeps no presentation times (FFmpeg's parsers guess them, wrongly for packed
    B-frames). In a container without presentation times, pts that only ever increase
    in decode order, for a codec that may reorder, may be decode-order numbers. In one
    with them (:data:`_PRESENTATION_TIMES`: an H.264 mp4 whose encoder chose no B-frames,
    as x264 does on noisy video) they are the presentation order, and the decoder checks
    every frame against them as it reads (a file that lies raises, never shifts frames).
    """
    if not may_reorder or pts_a.size < 2:
        return False
    names = set(fmt.split(","))
    if "avi" in names:
        return True
    return not names & _PRESENTATION_TIMES and bool(np.all(np.diff(pts_a) > 0))


def _decoded_order(source: Source, pinned: Pinned, pts_a: np.ndarray, x264_build: int):
    """The frames' pts in the order one sequential decode outputs them, and which are keyframes.

    Returns ``(labels, keyframes)``, or None when that order is the packets' pts sorted,
    every packet a frame.

    Raises
    ------
    FrameIdentityError
        When the decoder's frames cannot be told apart by the packets' timestamps.
    """
    import av

    path = source.location
    container = source.open(pinned)
    labels, keys = [], []
    try:
        stream = container.streams.video[0]
        cc = stream.codec_context
        if x264_build >= 0:
            cc.options = {"x264_build": str(x264_build)}
        cc.thread_type = "AUTO"
        for frame in container.decode(stream):
            labels.append(frame.pts)
            keys.append(frame.key_frame)
    except av.FFmpegError as exc:
        raise CorruptVideoError(f"{path}: decoding it from start to end failed ({exc}); the file is damaged.") from exc
    finally:
        container.close()
    packets = set(pts_a.tolist())
    if any(p is None for p in labels) or len(set(labels)) != len(labels) or not packets.issuperset(labels):
        raise FrameIdentityError(
            f"{path}: its container's timestamps do not order its frames, and its {len(labels)} decoded frames "
            f"cannot be told apart by the timestamps of its {pts_a.size} packets, so no frame can be identified "
            "for certain. Re-encode it (e.g. ffmpeg -i FILE -c:v libx264 -crf 17 out.mp4) to read it here.")
    out = np.asarray(labels, np.int64)
    if len(labels) == pts_a.size and np.all(np.diff(out) > 0):
        return None
    return out, np.asarray(keys, bool)


def _save(index: VideoIndex, file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fid:
        np.savez(
            fid,
            facts=np.frombuffer(json.dumps(index.facts()).encode(), dtype=np.uint8),
            frame_pts=index.frame_pts,
            key_frames=index.key_frames,
            key_dts=index.key_dts,
        )
    os.replace(tmp, file)  # atomic: a reader never sees a half-written index


def _load(file: Path, source: Source) -> VideoIndex:
    """The index stored in ``file``, of ``source`` as it is named and read now."""
    with np.load(file) as z:
        facts = json.loads(z["facts"].tobytes().decode())
        facts.pop("path")  # where it was when indexed: it is read through the handle given now
        facts["time_base"] = tuple(facts["time_base"])
        return VideoIndex(
            source=source, **facts, frame_pts=z["frame_pts"], key_frames=z["key_frames"], key_dts=z["key_dts"]
        )


def get_index(path: Source | str | os.PathLike, *, use_cache: bool = True, auth=None) -> VideoIndex:
    """Return the index of a video, from the on-disk cache when it is current.

    Parameters
    ----------
    path : Source, str or PathLike
        A local video file or an http(s) URL (credentials in the URL or ``auth``), or its handle.
    use_cache : bool
        Read and write the index cache in :func:`cache_dir` (default True).
    auth : (str, str) or Transport, optional
        Basic-auth credentials for a URL, or how to read it (:class:`~ibl_xvideo.io.remote.Transport`:
        credentials and retry policy, as ``open_camera``'s ``storage_options`` make it).

    Returns
    -------
    VideoIndex
    """
    return index_of(as_source(path, auth), use_cache=use_cache)


def index_of(source: Source, *, use_cache: bool = True) -> VideoIndex:
    """The index of the video behind a source handle (what :func:`get_index` does once it has one).

    The handle is asked what the video is now (``pin()``); the index is looked up in the
    disk cache under that identity, else built from the handle's bytes (:func:`build_index`).
    """
    pinned = source.pin()
    key = _key(source.location, pinned.size, pinned.version, pinned.fingerprint)
    return _cached(key, source, lambda: build_index(source, pinned=pinned), use_cache)


def _cached(key: str, source: Source, build, use_cache: bool) -> VideoIndex:
    """The index stored under ``key`` in the cache (of ``source`` as named and read now), else ``build()``."""
    file = cache_dir() / "index" / f"{key}.npz"
    if use_cache and file.exists():
        try:
            return _load(file, source)
        except Exception as exc:  # a damaged cache file is rebuilt, never trusted
            _log.warning("Ignoring unreadable index cache %s (%s)", file, exc)
    index = build()
    if use_cache:
        try:
            _save(index, file)
        except OSError as exc:
            _log.debug("Could not write index cache %s: %s", file, exc)
    return index
