"""Export decoded frames to Zarr (v3), resumably, and reopen them as a cache.

The layout of a store is described in :mod:`ibl_xvideo.store.layout`. The modules, by
job: :mod:`.layout` (what a store is: identity, status), :mod:`.write`
(:func:`to_zarr`), :mod:`.read` (:func:`open_store`), :mod:`.lock` (one exporter at a
time) and :mod:`.direct` (shard files without zarr-python).
"""

from .layout import (
    AUTO_BLOSC,
    DEFAULT_SHARD_FRAMES,
    SHARD_BYTES,
    STORE_VERSION,
    parse_roi,
    store_identity,
    store_status,
)
from .read import open_store
from .write import to_zarr

__all__ = ["to_zarr", "open_store", "store_status", "store_identity", "parse_roi", "DEFAULT_SHARD_FRAMES",
           "AUTO_BLOSC", "SHARD_BYTES", "STORE_VERSION"]
