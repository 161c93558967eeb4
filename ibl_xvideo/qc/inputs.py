"""The session files the camera QC reads, fetched through ONE when they are not on this computer.

ibllib's ``CameraQC(..., download_data=True)`` asks ONE for what its checks need; so does
:func:`fetch_qc_inputs`, for an eid and an online ONE: the camera's ALF times, its rig
files (``frameData.bin``, GPIO, frame counter, ``timestamps.ssv``), the session's
experiment description, the DAQ or Bpod sync the pin-state check compares with, the
wheel, and the session's own reference frames. Each is downloaded once into ONE's
cache (ONE skips what is there); the video itself is never downloaded here: the QC
streams its sample frames.
"""

from __future__ import annotations

import contextlib
import fnmatch
import warnings
from pathlib import Path

from ..errors import XVideoError

__all__ = ["fetch_qc_inputs", "qc_input_patterns"]


def qc_input_patterns(label: str) -> tuple[str, ...]:
    """Session-relative patterns of the files the QC of camera ``label`` reads (revisions and UUIDs allowed)."""
    return (
        f"alf/_ibl_{label}Camera.times*.npy",
        f"raw_video_data/_iblrig_{label}Camera.frameData*.bin",
        f"raw_video_data/_iblrig_{label}Camera.GPIO*.bin",
        f"raw_video_data/_iblrig_{label}Camera.frame_counter*.bin",
        f"raw_video_data/_iblrig_{label}Camera.timestamps*.ssv",
        f"raw_video_data/_xvideo_{label}Camera.referenceFrames*.npy",
        "_ibl_experiment.description*.yaml",
        "raw_ephys_data/_spikeglx_sync.*.npy",
        "raw_ephys_data/*.meta",
        "raw_ephys_data/*wiring*.json",
        "raw_ephys_data/*/_spikeglx_sync.*.npy",
        "raw_ephys_data/*/*.ap*.meta",
        "raw_sync_data/*",
        "raw_behavior_data/_iblrig_taskData.raw*.jsonable",
        "raw_task_data_*/_iblrig_taskData.raw*.jsonable",
        "alf/*wheel.timestamps*.npy",
        "alf/*wheel.position*.npy",
        "alf/*/*wheel.timestamps*.npy",
        "alf/*/*wheel.position*.npy",
    )


def _wanted(rel: str, patterns) -> bool:
    rel = "/".join(part for part in rel.split("/") if not part.startswith("#"))  # a revision folder aside
    return any(fnmatch.fnmatch(rel, p) for p in patterns) and not rel.endswith((".cbin", ".bin.gz", ".mp4"))


@contextlib.contextmanager
def _cache_lock(cache_dir: Path):
    """An exclusive lock on a ONE cache folder, across processes (where the platform has ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: ONE's own downloads are all there is
        yield
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".ibl_xvideo_fetch.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_qc_inputs(one, eid: str, label: str) -> list[Path]:
    """Download into ONE's cache the files the QC of ``label`` reads, for a session ``eid``; return them.

    Nothing is done for an offline ONE (its cache is all there is). ONE's own errors
    are typed (see :func:`ibl_xvideo.io.sources.one_errors`).
    """
    from ..io.sources import one_errors

    if one is None or getattr(one, "offline", True):
        return []
    with one_errors(f"listing the datasets of session {eid}", eid), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datasets = one.list_datasets(eid, details=True)
    if datasets is None or not len(datasets):
        return []
    patterns = qc_input_patterns(label)
    rels = [str(r) for r in datasets["rel_path"] if _wanted(str(r), patterns)]
    if not rels:
        return []
    names = [Path(r).name for r in rels]
    collections = [str(Path(r).parent).replace(".", "") or None for r in rels]
    # one fetch at a time into a cache: ONE renames a file as it lands, and a QC of the session's other camera
    # (another worker of a batch) must not read the folder while it does
    with _cache_lock(Path(one.cache_dir)), \
            one_errors(f"downloading the QC inputs of the {label} camera of session {eid}", eid), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files, _ = one.load_datasets(eid, names, collections=collections, download_only=True,
                                     assert_present=False)
    missing = [r for r, f in zip(rels, files) if f is None]
    if missing:
        raise XVideoError(f"ONE could not download {', '.join(missing)} of session {eid}: check the data server.")
    return [Path(f) for f in files]
