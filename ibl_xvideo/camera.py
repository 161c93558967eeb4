"""Open camera videos as lazy ``xarray.DataArray`` objects with dims ``(time, y, x)``.

The array is backed by :class:`VideoBackendArray`, an xarray ``BackendArray`` whose
reads turn any key into the keyframe groups to decode plus a NumPy post-index
(:func:`ibl_xvideo.engine.decode.read_frames`). With ``chunks`` it is wrapped in Dask
with chunks that are frame ranges starting at keyframes; slicing a chunk reads
only the frames asked for.
"""

from __future__ import annotations

import datetime
import functools
import os
import warnings
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .engine.decode import PIXEL_MODES, each_of, read_frames, release
from .engine.index import VideoIndex, index_of
from .engine.planning import frames_dask, outer_key, recorded
from .errors import InvalidOptionError, InvalidTimestampsError, TimestampsMismatchError, check_option
from .io.sources import Resolved, assert_valid_label, resolve, session_labels
from .store import open_store, store_identity, store_status, to_zarr

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["open_camera", "OpenOptions", "open_session", "video_meta", "VideoBackendArray", "plan_chunks",
           "check_uncropped", "as_frames", "pixel_region", "pixel_coords"]

FRAME_DIMS = ("time", "y", "x")


def as_frames(arr: xr.DataArray, what: str) -> xr.DataArray:
    """``arr`` with its dims in the order ``(time, y, x)``, found by name; or :class:`InvalidOptionError`.

    ``what``: the function asking, named in the message.
    """
    if not isinstance(arr, xr.DataArray) or set(arr.dims) != set(FRAME_DIMS):
        dims = arr.dims if isinstance(arr, xr.DataArray) else type(arr).__name__
        raise InvalidOptionError(f"{what} needs an xarray.DataArray of frames with dims (time, y, x), in any "
                                 f"order, as ibl_xvideo.open_camera gives; got {dims}.")
    return arr.transpose(*FRAME_DIMS)


def pixel_region(arr: xr.DataArray, ys: slice, xs: slice, what: str) -> xr.DataArray:
    """The part of ``arr`` that is the video's pixel region ``[ys, xs]``, found by its ``y``/``x`` coordinates.

    Raises :class:`InvalidOptionError` when the array holds only part of the region (or,
    without pixel coordinates, is not the whole frame): ``what`` says what to do instead.
    """
    picks = []
    for dim, key in (("y", ys), ("x", xs)):
        n = int(arr.attrs.get("height" if dim == "y" else "width") or 0) or (
            int(arr[dim].max()) + 1 if dim in arr.coords and arr.sizes[dim] else arr.sizes[dim])
        wanted = np.arange(n)[key]
        if dim in arr.coords:
            have = np.asarray(arr[dim].values)
        elif arr.sizes[dim] == n:
            have = np.arange(n)  # a whole frame without coordinates: positions are pixels
        else:
            have = None
        if have is None or not wanted.size or not np.isin(wanted, have).all():
            raise InvalidOptionError(f"This array does not hold the whole pixel region {dim}={key.start}:{key.stop} "
                                     f"of the video (its {dim} pixels are not all there): {what}.")
        order = np.argsort(have, kind="stable")
        picks.append(order[np.searchsorted(have[order], wanted)])
    return arr.isel(y=picks[0], x=picks[1])


def check_uncropped(frames: xr.DataArray, todo: str,
                    why: str = "Pose positions are pixels of the whole frame, in order") -> None:
    """Raise :class:`InvalidOptionError` (saying ``why`` and ``todo``) unless ``frames`` hold whole frames, in order.

    Pose positions are pixels of the whole frame: they can be drawn on whole frames only.
    The ``y`` and ``x`` pixel coordinates tell (a flip keeps the size, not the order).
    """
    # without the video's size in attrs (a hand-built array), positions are pixels unless coordinates say otherwise
    h, w = frames.attrs.get("height") or frames.sizes.get("y"), frames.attrs.get("width") or frames.sizes.get("x")
    whole = (frames.sizes.get("y"), frames.sizes.get("x")) == (h, w) and all(
        dim not in frames.coords or np.array_equal(frames[dim].values, np.arange(n))
        for dim, n in (("y", h or 0), ("x", w or 0)))
    if not whole:
        raise InvalidOptionError(f"{why}: {todo}.")


#: What open_camera does when the timestamps and the frames differ in number.
ON_MISMATCH = ("raise", "truncate", "pad")


class VideoBackendArray(BackendArray):
    """Lazy, picklable ``(time, y, x)`` uint8 view of a video's first ``length`` frames.

    Holds only plain data (the index and options), never an open file: every read
    opens (or reuses) a decoder owned by the calling thread.
    """

    #: Requests of at most this many frames remember every frame decoded on the way.
    INTERACTIVE = 16

    def __init__(self, index: VideoIndex, length: int | None = None, pixels: str = "ibllib",
                 threads: int = 1, workers: int = 1, strict: bool = False):
        self.index = index
        self.strict = strict
        self.length = index.length if length is None else int(length)
        self.pixels = pixels
        self.threads = threads
        self.workers = workers
        self.shape = (self.length, index.height, index.width)
        self.dtype = np.dtype(np.uint8)

    def __dask_tokenize__(self):
        return ("ibl_xvideo.VideoBackendArray", self.index.token, self.length, self.pixels, self.strict)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw_getitem
        )

    def __setitem__(self, key, value) -> None:
        raise InvalidOptionError(
            f"The frames of {self.index.path} are read from the video, and a camera opened with chunks=None cannot "
            "be assigned to: call .load() (or .copy(deep=True)) first, or open it with Dask chunks.")

    def _raw_getitem(self, key: tuple) -> np.ndarray:
        frames, ysl, xsl, finish = outer_key(key, self.shape)
        out = read_frames(self.index, frames, y=ysl, x=xsl, pixels=self.pixels, threads=self.threads,
                          workers=self.workers, remember=frames.size <= self.INTERACTIVE, strict=self.strict)
        return finish(out)

    def plan_groups(self, frames: np.ndarray) -> np.ndarray:
        """The keyframe group of each frame: the unit of work of a planned selection."""
        return self.index.group_of(frames)

    def read_planned(self, frames: np.ndarray, ykey, xkey) -> np.ndarray:
        """``frames`` (sorted, one keyframe group), cropped, as a scattered read decodes them.

        Unwanted non-reference frames are skipped and the decoder is flushed once the
        wanted frames are in.
        """
        frames, ysl, xsl, finish = outer_key((frames, ykey, xkey), self.shape)
        return finish(read_frames(self.index, frames, y=ysl, x=xsl, pixels=self.pixels, threads=self.threads,
                                  flush=True, strict=self.strict))

    def each_planned(self, frames: np.ndarray, ykey: slice, xkey: slice, fn) -> None:
        """``fn(i, frame)`` for each of ``frames`` (sorted, distinct), cropped, in order, as they are decoded.

        ``frame`` is a buffer reused for the next frame. Each keyframe group is decoded
        once; frames far apart flush the decoder once their group's wanted frames are in.
        """
        each_of(self.index, frames, fn, y=ykey, x=xkey, pixels=self.pixels, strict=self.strict)


def plan_chunks(index: VideoIndex, length: int, chunks: Any = "auto") -> tuple[int, ...]:
    """Chunk sizes along time.

    ``'auto'``: one keyframe group per chunk, so every chunk decodes on its own, and a
    selection Dask cannot plan (after ``+``, ``astype``, ``transpose``...) decodes at
    most the whole groups of the frames it wants. An int: that many frames per chunk
    (chunks not starting at a keyframe decode from the keyframe before them). A tuple:
    explicit sizes summing to the length.
    """
    if length == 0:
        return (0,)
    if chunks == "auto":
        starts = index.key_frames[index.key_frames < length]
        return tuple(int(size) for size in np.diff(np.r_[starts, length]))
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        if chunks <= 0:
            raise ValueError(f"chunks must be positive, got {chunks}")
        full, rest = divmod(length, int(chunks))
        return (int(chunks),) * full + ((rest,) if rest else ())
    sizes = tuple(int(c) for c in chunks)
    if sum(sizes) != length or any(c <= 0 for c in sizes):
        raise ValueError(f"chunk sizes {sizes} must be positive and sum to {length}")
    return sizes


def pixel_coords(height: int, width: int, roi: tuple = (slice(None), slice(None))) -> dict:
    """The ``y`` and ``x`` coordinates of a frame's pixels (rows, columns of the video), of a region ``roi``."""
    coords = {}
    for dim, n, key in (("y", height, roi[0]), ("x", width, roi[1])):
        coords[dim] = (dim, np.arange(n, dtype=np.int64)[key], {"units": "pixel", "long_name": f"video {dim} pixel"})
    return coords


def _validate_times(times: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(times)
    if bad.any():
        n_nan, n_inf = int(np.isnan(times).sum()), int(np.isinf(times).sum())
        raise InvalidTimestampsError(
            f"{where}: {n_nan} of {times.size} timestamps are NaN and {n_inf} infinite (the first at "
            f"frame {int(np.flatnonzero(bad)[0])}). Pass validate_times=False to open it anyway "
            "(time-based .sel will not work), or timestamps=False to use frame/fps."
        )
    d = np.diff(times)
    if (d <= 0).any():
        i = int(np.flatnonzero(d <= 0)[0])
        raise InvalidTimestampsError(
            f"{where}: timestamps are not strictly increasing (t[{i}]={times[i]!r}, "
            f"t[{i + 1}]={times[i + 1]!r}). Pass validate_times=False to open it anyway."
        )


def _align_times(times, n_frames: int, policy: str, where: str):
    """Reconcile timestamps with frames; returns (times, number of frames kept)."""
    n_ts = times.size
    if n_ts == n_frames:
        return times, n_frames
    if policy == "raise":
        raise TimestampsMismatchError(
            f"{where}: {n_ts} timestamps but {n_frames} frames in the video. Open with "
            "on_mismatch='truncate' (keep the first min(both)) or 'pad' (keep every frame, "
            "extrapolate missing timestamps), or timestamps=False."
        )
    if policy == "truncate":
        n = min(n_ts, n_frames)
        return times[:n], n
    # 'pad' (open_camera accepts no other policy)
    if n_ts > n_frames:
        return times[:n_frames], n_frames
    if n_ts < 2:
        raise TimestampsMismatchError(f"{where}: cannot pad from {n_ts} timestamp(s).")
    dt = float(np.median(np.diff(times)))
    return np.r_[times, times[-1] + dt * np.arange(1, n_frames - n_ts + 1)], n_frames


def _attrs(res: Resolved, index: VideoIndex, pixels: str) -> dict:
    return {
        "eid": res.eid or "",
        "label": res.label or "",
        "fps": index.fps,
        "width": index.width,
        "height": index.height,
        "length": index.length,
        "duration": index.length / index.fps if index.fps else 0.0,
        "size": index.size,
        "source": res.location,
        "codec": index.codec,
        "pix_fmt": index.pix_fmt,
        "pixels": pixels,
        "session_path": str(res.session_path or ""),
    }


class OpenOptions(TypedDict, total=False):
    """The further options of :func:`open_camera` (and of the xarray engine), by keyword."""

    validate_times: bool
    threads: int
    strict: bool
    progress: bool


#: The defaults of :class:`OpenOptions`.
OPEN_DEFAULTS: dict = {"validate_times": True, "threads": 1, "strict": False, "progress": True}

#: Options of earlier releases, and what they are now: they still work, with a FutureWarning.
RENAMED = {"stream": "fetch='stream' (stream=True) or fetch='local' (stream=False)",
           "download": "fetch='download'", "auth": "storage_options={'auth': (user, password)}",
           "data_server": "storage_options={'data_server': ...}"}


def open_options(options: dict) -> tuple[dict, str | None, dict]:
    """``(the further options with their defaults, fetch, storage options)`` from ``open_camera``'s keywords.

    The options of earlier releases (:data:`RENAMED`) are translated, with a FutureWarning;
    any other unknown name raises :class:`InvalidOptionError` naming the allowed ones.
    """
    opts = dict(options)
    old = {k: opts.pop(k) for k in list(opts) if k in RENAMED}
    unknown = set(opts) - set(OPEN_DEFAULTS)
    if unknown:
        raise InvalidOptionError(
            f"open_camera got unknown options {sorted(unknown)}; it takes source, label, one, chunks, cache, pixels, "
            f"timestamps, on_mismatch, fetch, storage_options and {', '.join(OPEN_DEFAULTS)}.")
    out = {**OPEN_DEFAULTS, **opts}
    if isinstance(out["threads"], bool) or not isinstance(out["threads"], (int, np.integer)) or out["threads"] < 1:
        raise InvalidOptionError(f"threads must be a positive int; got {out['threads']!r}.")
    for name in ("validate_times", "strict", "progress"):
        if not isinstance(out[name], (bool, np.bool_)):
            raise InvalidOptionError(f"{name} is True or False; got {out[name]!r}.")
    fetch, storage = None, {}
    for name, value in old.items():
        if value is None or (name == "download" and value is False):
            continue  # an old default: nothing asked
        warnings.warn(f"open_camera's {name}= is now {RENAMED[name]}.", FutureWarning, stacklevel=3)
        if name == "stream":
            fetch = fetch or ("stream" if value else "local")
        elif name == "download":
            fetch = "download"
        else:
            storage[name] = tuple(value) if name == "auth" else value
    return out, fetch, storage


def open_camera(
    source: Any,
    label: str | None = None,
    *,
    one=None,
    chunks: Any = "auto",
    cache=None,
    pixels: Literal["ibllib", "luma"] = "ibllib",
    timestamps: Any = None,
    on_mismatch: Literal["raise", "truncate", "pad"] = "raise",
    fetch: Literal["auto", "stream", "download", "local"] = "auto",
    storage_options: dict | None = None,
    **options: Unpack[OpenOptions],
) -> xr.DataArray:
    """Open one camera's video as a lazy ``(time, y, x)`` uint8 DataArray.

    Parameters
    ----------
    source : str, uuid.UUID or PathLike
        An eid (with ``one``), a session path, an mp4 file, or an http(s) or ``s3://``
        URL (streamed with Range requests: only the index and the frames' keyframe
        groups are fetched).
    label : str, optional
        ``'left'``, ``'right'``, ``'body'`` or ``'belly'``; may be omitted when the file
        name carries it.
    one : one.api.One, optional
        ONE instance used to resolve eids and load the camera timestamps.
    chunks : 'auto', int, tuple or None
        Dask chunks along time. ``'auto'``: one keyframe group per chunk.
        None: no Dask; the array stays lazily indexed and each read decodes just
        what it needs.
    cache : str, PathLike or fsspec URL, optional
        A Zarr store caching the decoded frames: read from it when it holds a complete
        export of this video (same file size, mtime, frame count and pixel mode);
        otherwise decode the video and fill it first (resuming a partial fill;
        replacing a stale one, with a warning). ``attrs['cache']`` says which
        happened: ``'hit'``, ``'filled'`` or ``'refilled'``.
    pixels : {'ibllib', 'luma'}
        ``'ibllib'``: the values ibllib/OpenCV give (BGR channel 0), ``'luma'``: the
        range-expanded luma (``ffmpeg -pix_fmt gray``). See :mod:`ibl_xvideo.engine.decode`.
    timestamps : None, False, array-like or PathLike
        None: the session's ``alf/_ibl_<label>Camera.times.npy``; False: ignore them
        (``time = frame / fps``); or the timestamps to use.
    on_mismatch : {'raise', 'truncate', 'pad'}
        What to do when the timestamps and frames differ in number; recorded in the
        ``timestamps_policy`` attribute.
    fetch : {'auto', 'stream', 'download', 'local'}
        Where the bytes come from. For an eid: ``'auto'`` (default) reads the local copy and
        streams the video from the data server when there is none; ``'stream'`` always
        streams; ``'download'`` downloads a missing video (progress bar), then reads it
        locally; ``'local'`` reads only a local copy. A URL is streamed, a file read.
    storage_options : dict, optional
        How remote bytes are read, in fsspec's convention:

        - http(s): ``username`` and ``password`` (or ``auth=(user, password)``; default:
          those in the URL, for an eid ONE's ``HTTP_DATA_SERVER_LOGIN`` / ``_PWD``);
        - ``s3://``, as s3fs: ``{'anon': True}`` for a public bucket, or ``key``, ``secret``
          (default from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, else an AWS
          profile: ``profile``, ``AWS_PROFILE`` or ``default`` in ``~/.aws``), ``token``,
          ``endpoint_url``, ``region_name``;
        - both: ``timeout`` (seconds, or ``(connect, read)``; default (5, 20)), ``retries``
          (attempts after the first; 5) and ``backoff`` (seconds before the first retry,
          doubling; 0.2);
        - an eid: ``data_server``, the root of its data server in ONE's layout (ONE's
          ``HTTP_DATA_SERVER``, or ``s3://bucket/root``).

        Credentials travel with the Dask tasks but never appear in attrs, reprs or messages.
    **options
        Further options, by keyword (:class:`OpenOptions`):

        - ``validate_times`` (True): raise :class:`~ibl_xvideo.errors.InvalidTimestampsError`
          on NaN or non-increasing timestamps;
        - ``threads`` (1): decoder threads per read (1 suits parallel Dask tasks);
        - ``strict`` (False): frames the decoder had to conceal (damaged data in the file)
          raise :class:`~ibl_xvideo.errors.DecodeError`; by default they are read with a
          ``DamagedFramesWarning`` naming them;
        - ``progress`` (True): show a progress bar while ``cache`` is filled.

        ``stream``, ``download``, ``auth`` and ``data_server`` (earlier releases) still
        work, with a FutureWarning naming the ``fetch`` or ``storage_options`` they now are.

    Returns
    -------
    xarray.DataArray
        Named ``'<label>Camera'``, dims ``('time', 'y', 'x')``, coords ``time`` (s) and
        ``frame``, with the video metadata in ``attrs``.

    Examples
    --------
    >>> from one.api import One
    >>> one = One(cache_dir=ibl_xvideo.demo.demo_cache_dir())  # doctest: +SKIP
    >>> cam = open_camera('4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a', 'body', one=one)  # doctest: +SKIP
    >>> frame = cam.sel(time=1000, method='nearest').values  # doctest: +SKIP
    """
    check_option("pixels", pixels, PIXEL_MODES)
    check_option("on_mismatch", on_mismatch, ON_MISMATCH)
    if not (chunks in ("auto", None) or isinstance(chunks, (int, np.integer, tuple, list, dict))) \
            or isinstance(chunks, bool):
        raise InvalidOptionError(f"chunks must be 'auto', None, an int or a tuple of sizes; got {chunks!r}.")
    if isinstance(chunks, (int, np.integer, tuple, list)) and np.any(np.asarray(chunks) < 1):
        raise InvalidOptionError(f"chunks must be positive frame counts; got {chunks!r}.")
    opts, old_fetch, old_storage = open_options(options)
    if old_fetch is not None:
        fetch = old_fetch
    if old_storage:
        storage_options = {**old_storage, **(storage_options or {})}
    if cache is not None:
        return _open_cached(source, label, cache, chunks, one=one, pixels=pixels, timestamps=timestamps,
                            on_mismatch=on_mismatch, fetch=fetch, storage_options=storage_options, **opts)
    res = resolve(source, label, one=one, timestamps=timestamps, fetch=fetch, storage_options=storage_options)
    index = index_of(res.source)
    threads, strict = opts["threads"], opts["strict"]
    where = f"{res.label or ''} camera of {res.eid or res.location}"
    n = index.length
    attrs = _attrs(res, index, pixels)
    if res.times is not None:
        times = res.times
        attrs["n_timestamps"] = int(times.size)
        times, n = _align_times(times, n, on_mismatch, where)
        if opts["validate_times"]:
            _validate_times(times, where)
        attrs["timestamps_policy"] = on_mismatch
    else:
        fps = index.fps or 1.0
        times = np.arange(n) / fps
        attrs["n_timestamps"] = 0
        attrs["timestamps_policy"] = "frame/fps"
    attrs["timestamps"] = res.times_origin
    # without Dask, one read may span many keyframe groups: decode them in parallel
    workers = 1 if chunks is not None else (os.cpu_count() or 1)
    backend = VideoBackendArray(index, n, pixels, threads, workers, strict)
    var = xr.Variable(("time", "y", "x"), indexing.LazilyIndexedArray(backend))
    name = f"{res.label}Camera" if res.label else "camera"
    da = xr.DataArray(
        var,
        coords={"time": ("time", times.astype(np.float64)), "frame": ("time", np.arange(n, dtype=np.int64)),
                **pixel_coords(index.height, index.width)},
        name=name,
        attrs=attrs,
    )
    da.time.attrs["units"] = "s"
    preferred = plan_chunks(index, n, "auto")
    da.encoding["preferred_chunks"] = {"time": preferred}
    if chunks is not None:
        sizes = plan_chunks(index, n, chunks)
        da = da.chunk(
            {"time": sizes, "y": -1, "x": -1},
            name_prefix=f"{name}-",
            token=f"{index.token}-{pixels}-{n}-{hash(sizes) & 0xFFFFFFFF:x}",
        )
        # list selections along time decode only the frames wanted (see frames_dask)
        da = da.copy(data=frames_dask(da.data, VideoBackendArray(index, n, pixels, threads, 1, strict)))
        da = da.assign_coords(frame=("time", np.arange(n, dtype=np.int64)))
    da.set_close(functools.partial(release, index))  # cam.close(), `with open_camera(...) as cam:`
    return da


def _open_cached(source, label, cache, chunks="auto", progress: bool = True, **kwargs) -> xr.DataArray:
    """The camera through its Zarr cache: read when it is a complete export of this video, else filled first."""
    cam = open_camera(source, label, chunks="auto", **kwargs)
    index = recorded(cam).index
    n = cam.sizes["time"]
    ident = store_identity(index, cam.attrs["pixels"], (0, n), (slice(None), slice(None)))
    status = store_status(cache)
    same = status is not None and all(status.get(k) == v for k, v in ident.items())
    if same and status["complete"]:
        state = "hit"
    else:
        stale = status is not None and not same
        if stale:
            warnings.warn(f"The cache {cache} was made from another version of {cam.attrs['source']} "
                          "(size, mtime or frames differ): rebuilding it.", stacklevel=3)
        to_zarr(cam, cache, overwrite=stale, progress=progress)
        state = "refilled" if stale else "repaired" if same and status["shards_missing"] else "filled"
    # the store's shards are the Dask chunks by default; chunks=None reads it without Dask
    out = open_store(cache, chunks="shards" if chunks == "auto" else
                     ({"time": chunks} if isinstance(chunks, int) else chunks))
    out.attrs["cache"] = state
    return out


def open_session(eid, *, one=None, labels=None, **kwargs) -> xr.DataTree:
    """Open every camera of a session as a DataTree with one node per label.

    Parameters
    ----------
    eid : str, uuid.UUID or PathLike
        Session eid (with ``one``) or session path.
    one : one.api.One, optional
        ONE instance.
    labels : sequence of str, optional
        Cameras to open; default: every camera whose video the session has.
    **kwargs
        Passed to :func:`open_camera`.

    Returns
    -------
    xarray.DataTree
        Children named after the labels, each holding a ``'<label>Camera'`` variable.
    """
    labels = assert_valid_label(list(session_labels(eid, one=one) if labels is None else labels))
    nodes = {}
    for lb in labels:
        cam = open_camera(eid, lb, one=one, **kwargs)
        nodes[f"/{lb}"] = cam.to_dataset()
    tree = xr.DataTree.from_dict(nodes)
    tree.attrs["eid"] = str(eid)
    return tree


def video_meta(source, label: str | None = None, *, one=None, storage_options=None) -> dict:
    """Metadata of a camera video, with ibllib's keys and ours.

    Returns
    -------
    dict
        ibllib's ``length`` (frames), ``fps`` (int, truncated as ibllib),
        ``width``, ``height``, ``duration`` (``datetime.timedelta``), ``size`` (bytes);
        plus ``fps_exact``, ``duration_s``, ``codec``, ``pix_fmt``, ``color_range``,
        ``n_keyframes``, ``start_time``, ``path``, ``label``, ``eid``.

    ``storage_options``: for a URL, how to read it, as :func:`open_camera` takes them.
    """
    res = resolve(source, label, one=one, timestamps=False, storage_options=storage_options)
    index = index_of(res.source)
    fps = index.fps
    return {
        "length": index.length,
        "fps": int(fps),
        "width": index.width,
        "height": index.height,
        "duration": datetime.timedelta(seconds=index.length / fps) if fps else 0,
        "size": index.size,
        "fps_exact": fps,
        "duration_s": index.length / fps if fps else 0.0,
        "codec": index.codec,
        "pix_fmt": index.pix_fmt,
        "color_range": index.color_range,
        "n_keyframes": int(index.key_frames.size),
        "start_time": index.start_time,
        "path": res.location,
        "label": res.label,
        "eid": res.eid,
    }
