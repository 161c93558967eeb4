"""The engine: a video's frames as exact uint8 arrays, without xarray, Dask or Zarr below planning.

- :mod:`~ibl_xvideo.engine.index`: the pts and keyframe tables of a video (one builder over
  any source), cached on disk;
- :mod:`~ibl_xvideo.engine.decode`: frames of a video, every one checked by its pts;
- :mod:`~ibl_xvideo.engine.planning`: outer keys, and list selections planned per
  keyframe group (or a store's shard) for Dask.
"""
