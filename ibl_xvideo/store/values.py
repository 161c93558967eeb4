"""Exporting an array's own values: what ``to_zarr`` writes when the array is not a video's frames as decoded.

A camera after arithmetic, ``astype``, a transpose, an assignment, a copy with other
data, a list of scattered frames, a Zarr store's frames: none of these is what the
decoder gives, so none may be written from the video. Its values are computed shard by
shard (a Dask computation for a lazy array) and written as they are: dims, dtype,
shape and coordinates. The store records a token of the array (a Dask array's graph
name, a NumPy array's bytes), so an interrupted export of the same array resumes, and
the same checksums as a frame export guard every chunk.
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from ..errors import InvalidOptionError, XVideoError
from .layout import SHARD_BYTES, STORE_VERSION, is_local, parse_roi, refuse_foreign, store_status
from .lock import StoreLock

__all__ = ["export_values", "values_identity"]


def values_identity(arr: xr.DataArray) -> dict:
    """What a store of ``arr``'s values records to be that export (compared with :func:`store_status`)."""
    from dask.base import tokenize

    data = arr.variable._data
    token = tokenize(data.name if hasattr(data, "dask") else np.asarray(arr.values))
    return {"kind": "values", "token": token, "dims": list(arr.dims), "dtype": str(arr.dtype),
            "shape": [int(n) for n in arr.shape], "version": STORE_VERSION}


def _cropped(arr: xr.DataArray, roi) -> xr.DataArray:
    if roi is None:
        return arr
    if not {"y", "x"} <= set(arr.dims):
        raise InvalidOptionError(f"roi= crops the y and x dims, and this array has dims {arr.dims}: crop it first.")
    ys, xs = parse_roi(roi)
    return arr.isel(y=ys, x=xs)


def export_values(arr: xr.DataArray, store, *, roi=None, progress: bool = True, codecs: list, shard_frames=None,
                  overwrite: bool = False, storage_options: dict | None = None):
    """Write ``arr``'s values (3-D, any dims and dtype) to a Zarr v3 store, resumably; return the store.

    ``roi`` crops the ``y`` and ``x`` dims by position. Called by :func:`ibl_xvideo.to_zarr`
    for arrays that are not a video's decoded frames.
    """
    import zarr
    from tqdm.auto import tqdm

    arr = _cropped(arr, roi)
    if arr.ndim != 3:
        raise InvalidOptionError(f"to_zarr writes 3-D arrays of frames; this one has dims {arr.dims}.")
    name = arr.name or "camera"
    per = max(1, int(np.prod(arr.shape[1:])) * arr.dtype.itemsize)
    S = int(shard_frames or max(1, min(250, SHARD_BYTES // per)))
    if not hasattr(arr.variable._data, "dask"):  # a lazily indexed camera: read shard by shard, never whole
        arr = arr.chunk({arr.dims[0]: S})
    ident = values_identity(arr)
    location = os.path.abspath(os.fspath(store)) if is_local(store) else store
    with StoreLock(location):
        status = None if overwrite else store_status(location, storage_options)
        if status is not None:
            if {k: status.get(k) for k in ident} != ident:
                raise XVideoError(f"{location} holds another export ({status.get('source', '?')}); pass "
                                  "overwrite=True to replace it, or use another store.")
            if status["complete"]:
                return store
            S = int(status["shard_frames"])
            group = zarr.open_group(location, mode="r+", storage_options=storage_options)
            for k in status["shards_missing"]:
                group["_ibl_xvideo/done"][k] = False
        else:
            if not overwrite:
                refuse_foreign(location, storage_options)
            group = _create(location, arr, name, S, codecs, ident, storage_options)
        done = group["_ibl_xvideo/done"][:]
        n = arr.shape[0]
        todo = [k for k in range(done.size) if not done[k]]
        first = arr.dims[0]
        with tqdm(total=sum(min(n, (k + 1) * S) - k * S for k in todo), desc=f"export {name} (values)",
                  unit="frame", disable=not progress) as bar:
            for k in todo:
                a, b = k * S, min(n, (k + 1) * S)
                block = np.asarray(arr.isel({first: slice(a, b)}).values)
                group[name][a:b] = block
                group["_ibl_xvideo/filled"][k] = not block.any()
                group["_ibl_xvideo/done"][k] = True
                bar.update(b - a)
        meta = dict(group.attrs["ibl_xvideo"])
        meta["complete"] = bool(group["_ibl_xvideo/done"][:].all())
        group.attrs["ibl_xvideo"] = meta
    return store


def _create(location, arr: xr.DataArray, name: str, S: int, codecs: list, ident: dict, storage_options):
    import zarr

    group = zarr.open_group(location, mode="w", storage_options=storage_options, zarr_format=3)
    attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in arr.attrs.items()
             if isinstance(v, (str, int, float, bool, np.generic)) or v is None}
    meta = {**ident, "source": str(arr.attrs.get("source", "")), "name": name, "shard_frames": S, "complete": False}
    group.attrs.update({**attrs, "ibl_xvideo": meta})
    fill = np.zeros((), arr.dtype).item()
    group.create_array(name, shape=arr.shape, dtype=arr.dtype, chunks=(1,) + arr.shape[1:],
                       shards=(S,) + arr.shape[1:], compressors=codecs, fill_value=fill, dimension_names=arr.dims)
    for cname, coord in arr.coords.items():  # 1-D coordinates along the array's dims, as they are
        if coord.ndim == 1 and coord.dims[0] in arr.dims and coord.dtype.kind in "iufb" and cname != name:
            c = group.create_array(str(cname), shape=coord.shape, dtype=coord.dtype, chunks=coord.shape or (1,),
                                   dimension_names=coord.dims)
            c[:] = coord.values
            c.attrs.update({k: v for k, v in coord.attrs.items() if isinstance(v, (str, int, float))})
    bookkeeping = group.create_group("_ibl_xvideo")
    for flags in ("done", "filled"):
        bookkeeping.create_array(flags, shape=(-(-arr.shape[0] // S),), dtype="bool", chunks=(1,), fill_value=False)
    return group


def open_values(store, status: dict, storage_options: dict | None, chunks) -> xr.DataArray:
    """A ``'values'`` store's array, lazily through zarr-python (every chunk's checksum checked)."""
    import warnings

    name = status["name"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        ds = xr.open_zarr(store, consolidated=False, chunks=None, storage_options=storage_options)
    da = ds[name]
    coords = [c for c in ds.variables if c != name and ds[c].ndim == 1 and ds[c].dims[0] in da.dims]
    da = ds.set_coords(coords)[name]
    da.attrs = {k: v for k, v in ds.attrs.items() if k != "ibl_xvideo"}
    if chunks == "shards":
        chunks = {da.dims[0]: status["shard_frames"]}
    if chunks is not None:
        da = da.chunk(chunks)
    da.encoding["source"] = str(store)
    return da
