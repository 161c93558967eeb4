"""Reading a store: its frames as a lazy array (planned selections, checksums verified), and its damage."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .._shared import run_each
from ..engine.planning import frames_dask, outer_key
from ..errors import StoreCorruptError, XVideoError
from .direct import READ_THREADS, LocalShards
from .layout import damaged_message, is_local, store_status
from .values import open_values


class StoreFrames(BackendArray):
    """Lazy ``(time, y, x)`` frames of a store's array.

    Local stores in :func:`to_zarr`'s layout are read straight from their shard files
    (:class:`LocalShards`); others through zarr-python, one run of consecutive frames
    at a time (it reads an integer-array selection of a sharded array several times
    slower than the same frames as slices), in parallel. Picklable: holds the store's
    location, not open arrays.
    """

    #: Threads reading the shards or runs of one request (reads wait on the disk; blosc releases the GIL).
    THREADS = READ_THREADS

    def __init__(self, store, name: str, shape: tuple, dtype, token: str, storage_options: dict | None = None,
                 shard_frames: int = 1, filled: frozenset | None = None):
        self.store, self.name, self.storage_options, self.filled = store, name, storage_options, filled
        self.shape, self.dtype, self.token = tuple(shape), np.dtype(dtype), token
        self.length, self.shard_frames = self.shape[0], max(int(shard_frames), 1)
        self._array = self._local = None
        self._opened = False

    @classmethod
    def of(cls, location, status: dict, shape: tuple, dtype, token: str, storage_options=None) -> StoreFrames:
        """The frames of the store whose :func:`store_status` is ``status`` (its shard grid, its all-fill shards)."""
        filled = None if status["shards_filled"] is None else frozenset(status["shards_filled"])
        return cls(location, status["name"], shape, dtype, token, storage_options, status["shard_frames"], filled)

    def __getstate__(self):
        return {**self.__dict__, "_array": None, "_local": None, "_opened": False}

    def __dask_tokenize__(self):
        return ("ibl_xvideo._StoreFrames", self.token)

    @property
    def array(self):
        """The store's array through zarr-python (opened on first use)."""
        if self._array is None:
            import zarr

            self._array = zarr.open_group(self.store, mode="r", storage_options=self.storage_options)[self.name]
        return self._array

    @property
    def local(self) -> LocalShards | None:
        """The direct reader of a local store in our layout, else None (opened on first use)."""
        if not self._opened:
            self._local, self._opened = LocalShards.open(self.store, self.name, self.filled), True
        return self._local

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._raw)

    def __setitem__(self, key, value) -> None:
        raise XVideoError(f"The frames of the Zarr store {self.store} are read-only here: call .load() (or "
                          ".copy(deep=True)) first, or open it with Dask chunks.")

    def _raw(self, key: tuple) -> np.ndarray:
        frames, ysl, xsl, finish = outer_key(key, self.shape)
        uniq, inverse = np.unique(frames, return_inverse=True)
        out = self.local.read(uniq, ysl, xsl) if self.local is not None else self._zarr_read(uniq, ysl, xsl)
        return finish(out if np.array_equal(uniq, frames) else out[inverse.reshape(-1)])

    def plan_groups(self, frames: np.ndarray) -> np.ndarray:
        """The shard of each frame: the unit of a planned selection (``engine.planning.frames_dask``)."""
        return frames // self.shard_frames

    def read_planned(self, frames: np.ndarray, ykey, xkey) -> np.ndarray:
        """``frames`` (sorted, one shard), cropped."""
        return self._raw((frames, ykey, xkey))

    def _zarr_read(self, frames: np.ndarray, ysl: slice, xsl: slice) -> np.ndarray:
        arr = self.array
        yy, xx = np.arange(self.shape[1])[ysl], np.arange(self.shape[2])[xsl]
        if not (frames.size and yy.size and xx.size):
            return np.empty((frames.size, yy.size, xx.size), self.dtype)
        # zarr takes positive steps only: read the bounding box, then step in NumPy
        box = (slice(int(yy.min()), int(yy.max()) + 1), slice(int(xx.min()), int(xx.max()) + 1))
        starts = np.flatnonzero(np.r_[True, np.diff(frames) > 1])
        runs = [(int(frames[a]), int(frames[b - 1]) + 1) for a, b in zip(starts, np.r_[starts[1:], frames.size])]

        def read(run):
            try:
                return arr[(slice(*run),) + box][:, yy - box[0].start][:, :, xx - box[1].start]
            except ValueError as exc:  # zarr-python's checksum mismatch
                raise StoreCorruptError(damaged_message(self.store, run[0] // self.shard_frames, str(exc))) from exc

        parts = run_each(read, runs, self.THREADS)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


def damaged_shards(location: str, name: str, status: dict, storage_options: dict | None) -> list[int]:
    """The shards of a store whose frames cannot be read back intact (every checksum checked)."""
    import zarr

    arr = zarr.open_group(location, mode="r", storage_options=storage_options)[name]
    reader = StoreFrames.of(location, status, arr.shape, arr.dtype, "verify", storage_options)
    S, n = reader.shard_frames, reader.length
    bad = []
    for k in range(-(-n // S)):
        try:
            reader._raw((np.arange(k * S, min(n, (k + 1) * S)), slice(None), slice(None)))
        except StoreCorruptError:
            bad.append(k)
    return bad


def open_store(store, storage_options: dict | None = None, chunks: Any = "shards") -> xr.DataArray:
    """Open a complete export as a lazy DataArray (Dask chunks = shards by default).

    ``chunks=None`` gives a lazily indexed array without Dask: the fastest for random
    frames (one frame ~0.5 ms here, against ~2.4 ms through a Dask graph).

    Raises
    ------
    XVideoError
        If the store is not a complete ibl-xvideo export.
    """
    status = store_status(store, storage_options)
    if status is None:
        raise XVideoError(f"{store} is not an ibl-xvideo Zarr export.")
    missing = status["shards_missing"]
    if missing:
        listed = f"{missing[:10]}{' ...' if len(missing) > 10 else ''}"
        raise StoreCorruptError(damaged_message(store, missing[0], f"its file is missing; missing in all: {listed}"))
    if not status["complete"]:
        raise XVideoError(
            f"{store} is a partial export ({status['shards_done']} of {status['shards']} shards): run "
            "ibl_xvideo.to_zarr again with the same camera and selection to finish it."
        )
    if status.get("kind") == "values":
        return open_values(store, status, storage_options, chunks)
    if chunks == "shards":
        chunks = {"time": status["shard_frames"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        # the coordinates are one chunk each: splitting them is fine
        warnings.filterwarnings("ignore", message=".*separate the stored chunks.*")
        ds = xr.open_zarr(store, consolidated=False, chunks=None, storage_options=storage_options)
    ds = ds.set_coords("frame")
    name = status["name"]
    lazy = ds[name]
    # a worker process (another working directory) finds a local store by its absolute path
    location = os.path.abspath(store) if is_local(store) else store
    token = f"{location}-{name}-{json.dumps({k: v for k, v in status.items() if k != 'shards_done'}, sort_keys=True)}"
    frames = StoreFrames.of(location, status, lazy.shape, lazy.dtype, token, storage_options)
    coords = {"time": ds["time"].variable, "frame": ("time", ds["frame"].values)}
    coords.update({dim: ds[dim].variable for dim in ("y", "x") if dim in ds.variables})
    da = xr.DataArray(xr.Variable(lazy.dims, indexing.LazilyIndexedArray(frames)), name=name, coords=coords)
    da.attrs = {k: v for k, v in ds.attrs.items() if k != "ibl_xvideo"}
    if chunks is not None:
        da = da.chunk(chunks, name_prefix=f"{name}-zarr-", token=hashlib.sha1(token.encode()).hexdigest())
        # a list of frames reads only those frames, not their whole shards (see frames_dask)
        da = da.copy(data=frames_dask(da.data, frames))
    da.encoding["source"] = str(store)
    return da
