"""xarray backend engine: ``xr.open_dataarray(path, engine='ibl_xvideo')``."""

from __future__ import annotations

import os

import xarray as xr
from xarray.backends import BackendEntrypoint

from .camera import open_camera

__all__ = ["VideoBackendEntrypoint"]

_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")


class VideoBackendEntrypoint(BackendEntrypoint):
    """Open a camera video (or session folder) as a Dataset holding one ``'<label>Camera'`` variable.

    The variable is lazily indexed and states its keyframe-aligned chunks in
    ``encoding['preferred_chunks']``; pass ``chunks={}`` to get them as Dask chunks.
    """

    description = "IBL raw camera videos as lazy (time, y, x) uint8 arrays"
    url = "https://github.com/int-brain-lab"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "label", "one", "pixels",
                               "timestamps", "on_mismatch", "validate_times")

    def open_dataset(
        self,
        filename_or_obj,
        *,
        drop_variables=None,
        label=None,
        one=None,
        pixels="ibllib",
        timestamps=None,
        on_mismatch="raise",
        validate_times=True,
    ) -> xr.Dataset:
        """Open a video file as a Dataset (see :func:`ibl_xvideo.open_camera`)."""
        da = open_camera(filename_or_obj, label, one=one, chunks=None, pixels=pixels,
                         timestamps=timestamps, on_mismatch=on_mismatch, validate_times=validate_times)
        ds = da.to_dataset()
        ds[da.name].encoding["preferred_chunks"] = da.encoding["preferred_chunks"]
        if drop_variables:
            ds = ds.drop_vars(drop_variables, errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj) -> bool:
        """True for video file names."""
        try:
            return os.fspath(filename_or_obj).lower().endswith(_SUFFIXES)
        except TypeError:
            return False
