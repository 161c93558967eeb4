"""Writing a store: ``to_zarr``, resumable, shards decoded and written on threads or a Dask cluster."""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._shared import clear_scratch
from ..engine.decode import each_frame, read_frames
from ..engine.index import VideoIndex
from ..engine.planning import compose, recorded
from ..errors import InvalidOptionError, StoreWriteError, XVideoError, check_count
from ..io.fileio import write_problem
from . import direct
from .layout import (
    default_shard_frames,
    frame_codecs,
    is_local,
    parse_roi,
    refuse_foreign,
    require_zarr,
    store_identity,
    store_status,
)
from .lock import StoreLock
from .read import damaged_shards
from .values import export_values

_log = logging.getLogger(__name__)


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
    require_zarr(f"Exporting {camera.name} to Zarr")
    codecs = frame_codecs(compressors)  # the options checked before anything is read or written
    roi_ys, roi_xs = parse_roi(roi)
    if shard_frames is not None:
        check_count("shard_frames", shard_frames)

    camera = _selection(camera, time)
    rec = recorded(camera)
    if rec is None or not rec.contiguous:  # not the decoder's frames as they are: the array's values
        return export_values(camera, store, roi=roi, progress=progress, codecs=codecs, shard_frames=shard_frames,
                             overwrite=overwrite, storage_options=storage_options)
    index = rec.index
    pixels = rec.pixels
    frames = rec.frames
    first, n = int(frames[0]), int(frames.size)
    # the array's own crop, then the roi asked for, on the video's whole frames
    ys = compose(rec.crop[0], roi_ys, index.height)
    xs = compose(rec.crop[1], roi_xs, index.width)
    h = len(range(index.height)[ys])
    w = len(range(index.width)[xs])
    ident = store_identity(index, pixels, (first, first + n), (ys, xs))
    source = camera.attrs.get("source") or index.path
    name = camera.name or "camera"
    S = int(shard_frames or default_shard_frames(index, first, h * w))
    location = os.fspath(store) if isinstance(store, os.PathLike) else store
    if is_local(location):  # the workers writing shards may run in another directory
        location = os.path.abspath(location)

    try:
        with StoreLock(location):
            status = None if overwrite else store_status(location, storage_options)
            if status is not None:
                group, S = _resume(location, status, ident, name, shard_frames, repair, storage_options)
                if group is None:
                    return store  # complete and intact
            else:
                if not overwrite:
                    refuse_foreign(location, storage_options)
                meta = {**ident, "source": source, "name": name, "shard_frames": S, "complete": False}
                group = _create(location, camera, frames, (ys, xs), (index.height, index.width), S, codecs, meta,
                                roi, storage_options)
            done = group["_ibl_xvideo/done"][:]
            direct_codec = ({"auto": "blosc", None: "raw"}.get(compressors) if isinstance(compressors, (str, type(
                None))) else None) if is_local(location) else None
            export = Export(location, name, first, ys, xs, pixels, storage_options, S, direct_codec)
            todo = [Shard(export, k, k * S, min(n, (k + 1) * S)) for k in range(-(-n // S)) if not done[k]]
            estimate = None
            if is_local(location) and len(todo) > 2:  # the first shard measures what the rest will take
                _run_shards(index, todo[:1], False, False)
                estimate = _check_space(location, name, todo[0].k, [j.k for j in todo[1:]], S, n, check_space)
                todo = todo[1:]
            _run_shards(index, todo, progress, client, estimate)
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


def _selection(camera: xr.DataArray, time) -> xr.DataArray:
    """The part of ``camera`` to export: its ``time`` selection (seconds, as ``.sel``), not empty."""
    if not isinstance(camera, xr.DataArray):
        raise InvalidOptionError(f"to_zarr exports an xarray.DataArray (a camera, or an array made from one); got "
                                 f"{type(camera).__name__}.")
    if time is not None:
        if "time" not in camera.dims:
            raise InvalidOptionError(f"time= selects along a 'time' dim, and this array has dims {camera.dims}.")
        camera = camera.sel(time=time)
    if "time" in camera.dims and camera.sizes["time"] == 0:
        raise XVideoError("Nothing to export: the time selection is empty.")
    return camera


def _resume(location, status: dict, ident: dict, name: str, shard_frames, repair: bool, storage_options):
    """The group and shard length of a store that holds this export, its damaged shards unflagged.

    The group is None when the store is complete and intact. Raises when it holds
    another export, or was started on another shard grid.
    """
    import zarr

    mine = {k: status.get(k) for k in ident}
    if mine != ident:
        raise XVideoError(f"{location} holds another export ({status.get('source', '?')}, frames "
                          f"{status.get('frames')}); pass overwrite=True to replace it, or use another store.")
    S = int(status["shard_frames"])  # resume on the store's own grid
    if shard_frames and int(shard_frames) != S:
        raise XVideoError(f"{location} was started with shard_frames={S}: resume it with that (or without "
                          "shard_frames), or pass overwrite=True to start again.")
    damaged = set(status["shards_missing"])
    if repair:
        damaged |= set(damaged_shards(location, name, status, storage_options))
    if not damaged and status["complete"]:
        return None, S
    group = zarr.open_group(location, mode="r+", storage_options=storage_options)
    if damaged:
        _log.warning("%s: rewriting damaged shards %s", location, sorted(damaged))
        for k in sorted(damaged):
            group["_ibl_xvideo/done"][k] = False
    return group, S


def _create(location, camera: xr.DataArray, frames: np.ndarray, crop: tuple, frame_size: tuple, S: int, codecs: list,
            meta: dict, roi, storage_options):
    """A new store for ``camera``'s video frames ``frames`` cropped by ``crop``: arrays, attrs, flags.

    ``frame_size``: the video's (height, width); the store's ``y`` and ``x`` are the pixels kept.
    """
    import zarr

    yy, xx = np.arange(frame_size[0])[crop[0]], np.arange(frame_size[1])[crop[1]]
    n, h, w = frames.size, yy.size, xx.size
    group = zarr.open_group(location, mode="w", storage_options=storage_options, zarr_format=3)
    attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in camera.attrs.items()}
    attrs["roi"] = str(roi) if roi is not None else ""
    group.attrs.update({**attrs, "ibl_xvideo": meta})
    group.create_array(meta["name"], shape=(n, h, w), dtype="uint8", chunks=(1, h, w), shards=(S, h, w),
                       compressors=codecs, fill_value=0, dimension_names=("time", "y", "x"))
    t = group.create_array("time", shape=(n,), dtype="float64", chunks=(n,), dimension_names=("time",))
    t[:] = camera.time.values
    t.attrs["units"] = "s"
    group.create_array("frame", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("time",))[:] = frames
    for dim, pixels in (("y", yy), ("x", xx)):
        group.create_array(dim, shape=pixels.shape, dtype="int64", chunks=pixels.shape or (1,),
                           dimension_names=(dim,))[:] = pixels
    bookkeeping = group.create_group("_ibl_xvideo")
    for flags in ("done", "filled"):
        bookkeeping.create_array(flags, shape=(-(-n // S),), dtype="bool", chunks=(1,), fill_value=False)
    return group


def _write_failure(location, exc: OSError) -> str:
    """What a failed write of a store means to the user, from its errno."""
    what = write_problem(exc)
    todo = ("free some space (or choose another store), then run the same export again: it resumes where it "
            "stopped" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "choose a store you can write to")
    return f"Cannot write the Zarr store {location}: {what} ({exc.strerror or exc}). {todo.capitalize()}."


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


@dataclasses.dataclass(frozen=True)
class Export:
    """What every shard of one export shares: where it goes and which pixels of which frames it holds.

    ``direct_codec`` ('blosc' or 'raw'): a local store with the default codec (or none)
    gets its shard files written directly (:mod:`ibl_xvideo.store.direct`); None: zarr
    writes them.
    """

    location: str
    name: str
    first: int  # the video frame of store frame 0
    ys: slice
    xs: slice
    pixels: str
    storage_options: dict | None
    shard_frames: int
    direct_codec: str | None


@dataclasses.dataclass(frozen=True)
class Shard:
    """One unit of an export's work: shard ``k``, store frames ``[start, stop)``."""

    export: Export
    k: int
    start: int
    stop: int

    @property
    def frames(self) -> int:
        """How many frames the shard holds."""
        return self.stop - self.start


def _write_shard(index: VideoIndex, shard: Shard) -> int:
    """Decode a shard's frames, write them, then flag the shard done; returns its frame count."""
    e = shard.export
    if e.direct_codec:
        return _store_shard(e.location, e.name, shard.k, shard.frames, _build_shard(index, shard), e.storage_options)
    import zarr

    group = zarr.open_group(e.location, mode="r+", storage_options=e.storage_options)
    frames = read_frames(index, np.arange(e.first + shard.start, e.first + shard.stop), y=e.ys, x=e.xs,
                         pixels=e.pixels)
    group[e.name][shard.start:shard.stop] = frames
    # zarr-python writes no file for a shard of the fill value alone: recorded, so that a missing file is damage
    group["_ibl_xvideo/filled"][shard.k] = not frames.any()
    group["_ibl_xvideo/done"][shard.k] = True
    return shard.frames


def _write_run(index: VideoIndex, shards: list[Shard]) -> int:
    """Write consecutive shards in order, in one task; shards already flagged (a retried task) are skipped.

    Returns the frames the run covers.
    """
    import zarr

    e = shards[0].export
    done = zarr.open_group(e.location, mode="r+", storage_options=e.storage_options)["_ibl_xvideo/done"][:]
    try:
        for shard in shards:
            if not done[shard.k]:
                _write_shard(index, shard)
    finally:  # a long-lived worker thread does not keep a shard's worth of memory between tasks
        clear_scratch()
    return sum(shard.frames for shard in shards)


def _build_shard(index: VideoIndex, shard: Shard, buffer: int = 0) -> np.ndarray:
    """The bytes of a shard's file, in this thread's scratch buffer ``buffer``.

    Frames are encoded as they come out of the decoder (still in the CPU cache).
    """
    e = shard.export
    h, w = len(range(index.height)[e.ys]), len(range(index.width)[e.xs])
    builder = direct.ShardBuilder(e.shard_frames, h * w, compress=e.direct_codec == "blosc", buffer=buffer)
    base = e.first + shard.start
    each_frame(index, base, e.first + shard.stop, lambda i, frame: builder.add(i - base, frame),
               y=e.ys, x=e.xs, pixels=e.pixels)
    return builder.finish()


def _store_shard(location: str, name: str, k: int, n: int, data: np.ndarray, storage_options=None,
                 group=None) -> int:
    """Write shard ``k``'s bytes next to its place, rename it into place, then flag it done."""
    path = Path(location) / name / "c" / str(k) / "0" / "0"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".0.{os.getpid()}.{threading.get_ident()}.tmp")
    direct.write_file(tmp, data)  # looked up here: the tests replace it with a failing disk
    os.replace(tmp, path)
    if group is None:
        import zarr

        group = zarr.open_group(location, mode="r+", storage_options=storage_options)
    group["_ibl_xvideo/done"][k] = True
    return n


def _run_shards(index: VideoIndex, shards: list[Shard], progress: bool, client=None, estimate: int | None = None):
    """Write the shards, on the active dask.distributed client if there is one, else threads."""
    from tqdm.auto import tqdm

    if not shards:
        return
    location = shards[0].export.location
    bar = tqdm(total=sum(shard.frames for shard in shards), desc=f"export {shards[0].export.name}", unit="frame",
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
            size = max(1, len(shards) // (4 * threads))
            runs = [shards[i:i + size] for i in range(0, len(shards), size)]
            futures = [client.submit(_write_run, index_f, run, pure=False, retries=2) for run in runs]
            for fut in as_completed(futures):
                bar.update(fut.result())
        else:
            _run_local(index, shards, bar)
    finally:
        bar.close()


def _run_local(index: VideoIndex, shards: list[Shard], bar) -> None:
    """Write shards on threads, each thread taking a run of consecutive shards in order.

    Shards are a regular grid but keyframes need not be: a thread that goes on from
    one shard to the next continues its decoder where it stopped, instead of seeking
    back to the keyframe before the shard (up to a keyframe interval of wasted work
    per shard). With the direct writer, a shard's file is written in the background
    while the thread builds the next one (two scratch buffers per thread).
    """
    from concurrent.futures import ThreadPoolExecutor

    workers = min(os.cpu_count() or 1, len(shards)) or 1
    bounds = np.linspace(0, len(shards), workers + 1).round().astype(int)
    runs = [shards[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    lock, stop = threading.Lock(), threading.Event()

    def report(fut):
        if fut.exception() is None:
            with lock:
                bar.update(fut.result())

    def run(run_shards: list[Shard], writer):
        import zarr

        e = run_shards[0].export
        group = zarr.open_group(e.location, mode="r+", storage_options=e.storage_options)
        pending = None
        try:
            for i, shard in enumerate(run_shards):
                if stop.is_set():
                    return
                if not e.direct_codec:
                    with lock:
                        bar.update(_write_shard(index, shard))
                    continue
                data = _build_shard(index, shard, buffer=i % 2)
                if pending is not None:
                    pending.result()  # its buffer is the one the next shard is built in
                pending = writer.submit(_store_shard, e.location, e.name, shard.k, shard.frames, data,
                                        e.storage_options, group)
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
