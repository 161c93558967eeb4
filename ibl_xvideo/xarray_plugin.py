"""xarray backend engine: ``xr.open_dataarray(video, engine='ibl_xvideo')``, ``xr.open_datatree(session, ...)``."""

from __future__ import annotations

import os

import xarray as xr
from xarray.backends import BackendEntrypoint

from .camera import open_camera, open_session

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
        fetch="auto",
        storage_options=None,
        zarr_cache=None,
        **options,
    ) -> xr.Dataset:
        """Open a video file, URL or an eid's camera as a Dataset (see :func:`ibl_xvideo.open_camera`).

        Every option of :func:`~ibl_xvideo.open_camera`: ``chunks`` is xarray's own (it
        rechunks the lazily indexed frames), and ``cache`` (a Zarr store of the decoded
        frames; xarray keeps ``cache=`` for itself) is ``zarr_cache=``. A camera over HTTP
        or S3 opens here too.

        Examples
        --------
        >>> xr.open_dataset("s3://bucket/_iblrig_bodyCamera.raw.mp4", engine="ibl_xvideo",
        ...                 storage_options={"anon": True})  # doctest: +SKIP
        """
        options.setdefault("progress", False)
        da = open_camera(filename_or_obj, label, one=one, chunks=None, cache=zarr_cache, pixels=pixels,
                         timestamps=timestamps, on_mismatch=on_mismatch, fetch=fetch,
                         storage_options=storage_options, **options)
        ds = da.to_dataset()
        if "preferred_chunks" in da.encoding:
            ds[da.name].encoding["preferred_chunks"] = da.encoding["preferred_chunks"]
        if drop_variables:
            ds = ds.drop_vars(drop_variables, errors="ignore")
        return ds

    def open_datatree(self, filename_or_obj, *, drop_variables=None, labels=None, one=None, pixels="ibllib",
                      on_mismatch="raise", validate_times=True, **kwargs) -> xr.DataTree:
        """Open every camera of a session (a folder, or an eid with ``one``) as a DataTree, one node per label.

        Examples
        --------
        >>> tree = xr.open_datatree(session_path, engine="ibl_xvideo")  # doctest: +SKIP
        >>> tree["body"]["bodyCamera"]  # doctest: +SKIP
        """
        tree = open_session(filename_or_obj, one=one, labels=labels, chunks=None, pixels=pixels,
                            on_mismatch=on_mismatch, validate_times=validate_times)
        if drop_variables:
            attrs = dict(tree.attrs)
            tree = xr.DataTree.from_dict({f"/{name}": child.to_dataset().drop_vars(drop_variables, errors="ignore")
                                          for name, child in tree.children.items()})
            tree.attrs.update(attrs)
        return tree

    def guess_can_open(self, filename_or_obj) -> bool:
        """True for video file names and for session folders holding ``raw_video_data/``."""
        try:
            path = os.fspath(filename_or_obj)
        except TypeError:
            return False
        return path.lower().endswith(_SUFFIXES) or os.path.isdir(os.path.join(path, "raw_video_data"))
