"""ibl-xvideo: IBL raw behaviour videos as lazy, frame-exact xarray/Dask arrays.

Examples
--------
>>> from ibl_xvideo import open_camera  # doctest: +SKIP
>>> cam = open_camera(eid, 'body', one=one)  # doctest: +SKIP
>>> cam.sel(time=1000, method='nearest').values  # doctest: +SKIP
>>> cam.video.to_zarr('body.zarr')  # doctest: +SKIP
"""

from . import accessor, errors  # noqa: F401  (accessor registers ``DataArray.video``)
from .camera import open_camera, open_session, video_meta
from .engine.decode import clear_caches, read_frames
from .engine.index import get_index
from .errors import XVideoError
from .events import peri_event, peri_event_mean
from .io.sources import VIDEO_LABELS
from .progress import progress
from .store import open_store, to_zarr

__version__ = "0.1.0"

__all__ = [
    "open_camera",
    "open_session",
    "video_meta",
    "read_frames",
    "to_zarr",
    "open_store",
    "peri_event",
    "peri_event_mean",
    "get_index",
    "clear_caches",
    "progress",
    "VIDEO_LABELS",
    "XVideoError",
    "errors",
    "show_versions",
    "__version__",
]


#: Submodules reached as attributes (``ibl_xvideo.qc.camera_qc``), imported on first use (start-up time)
_SUBMODULES = ("qc", "compat", "pose", "clips", "report", "demo", "io", "engine", "store")


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ibl_xvideo' has no attribute {name!r}")


def show_versions() -> str:
    """Versions of ibl-xvideo and the libraries it decodes and computes with."""
    import importlib.metadata as md
    import platform

    lines = [f"ibl-xvideo: {__version__}", f"python: {platform.python_version()}"]
    for dist in ("av", "numpy", "xarray", "dask", "distributed", "zarr", "google-crc32c", "one-api", "pandas",
                 "pyarrow", "scipy", "imageio", "imageio-ffmpeg", "tqdm", "opencv-python-headless", "matplotlib",
                 "ibllib"):
        try:
            lines.append(f"{dist}: {md.version(dist)}")
        except md.PackageNotFoundError:
            lines.append(f"{dist}: not installed")
    try:
        import av

        lines.append("ffmpeg (PyAV): " + ".".join(map(str, av.library_versions["libavcodec"])) + " (libavcodec)")
    except Exception:  # pragma: no cover
        pass
    return "\n".join(lines)
