"""The IBL camera QC on ibl-xvideo's engine.

``check_<name>`` are pure functions with ibllib's semantics (:mod:`.checks`);
:func:`camera_qc` loads a session's data, samples frames as ibllib does (or scans
every frame) and aggregates the outcomes; :func:`batch_qc` runs it over many sessions
on a Dask cluster into a resumable Parquet table; :mod:`.raw` reads the rig's camera files.
"""

from . import imgproc
from .batch import batch_qc
from .checks import (
    check_brightness,
    check_camera_times,
    check_dropped_frames,
    check_file_headers,
    check_focus,
    check_framerate,
    check_pin_state,
    check_position,
    check_resolution,
    check_timestamps,
    check_wheel_alignment,
    face_roi,
    find_face,
    frame_brightness,
    frame_measures,
    overall_outcome,
)
from .motion import frame_diff, frame_diffs, motion_energy, roi_motion_energy
from .run import QCResult, camera_qc, load_reference_frames, nearest_keyframes, sample_indices, session_qc
from .wheel import active_wheel_period, align_motion, movements

__all__ = [
    "camera_qc", "session_qc", "batch_qc", "QCResult", "imgproc", "face_roi", "frame_measures", "sample_indices",
    "nearest_keyframes", "load_reference_frames", "overall_outcome", "find_face",
    "frame_brightness", "check_brightness", "check_camera_times", "check_dropped_frames",
    "check_file_headers", "check_focus", "check_framerate", "check_pin_state", "check_position",
    "check_resolution", "check_timestamps", "check_wheel_alignment", "frame_diff", "frame_diffs",
    "motion_energy", "roi_motion_energy", "active_wheel_period", "align_motion", "movements",
]
