"""A camera written as NWB: an external-mode ``ImageSeries`` referring to its video, with its session times.

The layout of IBL's NWB conversion and NWB's best practices for animal videos; the file
reopens with ``ibl_xvideo.open_camera(path, label)`` (:mod:`ibl_xvideo.io.nwb`). Needs
``pynwb`` (``pip install 'ibl-xvideo[nwb]'``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from .engine.planning import recorded
from .errors import InvalidLabelError, XVideoError
from .io.fileio import written
from .io.nwb import pynwb_module, series_name

__all__ = ["to_nwb"]


def to_nwb(camera, path, *, copy: bool = True, session_description: str | None = None,
           session_start_time=None, subject=None, pose=None) -> Path:
    """Write a camera as an NWB file: an external-mode ``ImageSeries`` with the camera's session times.

    Parameters
    ----------
    camera : xarray.DataArray
        A camera from :func:`ibl_xvideo.open_camera` of a local video, whole (all its
        frames: the series refers to the video file, so its timestamps are one per frame).
    path : PathLike
        The ``.nwb`` file to write (written whole or not at all).
    copy : bool
        Copy the video beside the ``.nwb`` (referred to by its name, as DANDI keeps it);
        False refers to it where it is (by an absolute path).
    session_description, session_start_time
        For the NWB file (defaults: the camera's session, and now).
    pose : xarray.Dataset, optional
        The camera's pose (:func:`ibl_xvideo.pose.load_pose` aligned to it), written as an
        ``ndx-pose`` ``PoseEstimation`` (one series a keypoint, its likelihood as confidence,
        on the camera's timestamps) in a ``behavior`` processing module; needs ``ndx-pose``.
    subject : pynwb.file.Subject, optional
        The animal (DANDI requires one); default the session folder's subject name, a
        mouse of unknown sex and age (``age="P0D/"``: at least 0 days, the open interval
        NWB allows for an unknown age). Pass the real one (its age or date of birth) for DANDI.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> cam.video.to_nwb("session_body.nwb")  # doctest: +SKIP
    >>> again = ibl_xvideo.open_camera("session_body.nwb", "body")  # doctest: +SKIP
    """
    import datetime
    import uuid

    pynwb = pynwb_module()
    rec = recorded(camera)
    label = camera.attrs.get("label") or ""
    if rec is None or not rec.whole or not np.array_equal(rec.frames, np.arange(rec.index.length)) or \
            "://" in rec.index.path:
        raise XVideoError("to_nwb writes a camera as its video file and times: give the whole camera of a local "
                          "video as open_camera opens it (not a selection, crop, transform or URL).")
    if label not in ("left", "right", "body", "belly"):
        raise InvalidLabelError("to_nwb needs the camera's label (open the camera with its label).")
    path = Path(path)
    video = Path(rec.index.path)
    target = path.parent / video.name if copy else video
    if copy and target.resolve() != video.resolve():
        with written(target) as tmp:
            shutil.copyfile(video, tmp)
    start = session_start_time or datetime.datetime.now(datetime.timezone.utc)
    if subject is None:
        session = Path(camera.attrs.get("session_path") or "")
        name = session.parts[-3] if len(session.parts) >= 3 else "unknown"
        # the age is unknown here: the ISO 8601 open interval "P0D/" (at least 0 days) says so, as NWB allows
        subject = pynwb.file.Subject(subject_id=name, species="Mus musculus", sex="U", age="P0D/",
                                     description="from the ALF session path; age unknown (pass subject=)")
    nwbfile = pynwb.NWBFile(subject=subject,
        session_description=session_description or f"{label} camera of {camera.attrs.get('eid') or video.name}",
        identifier=str(uuid.uuid4()), session_start_time=start, session_id=camera.attrs.get("eid") or None)
    series = pynwb.image.ImageSeries(
        name=series_name(label), description=f"the {label} camera's raw video ({camera.attrs.get('codec', '')})",
        external_file=[os.path.relpath(target, path.parent) if copy else str(target)], format="external",
        starting_frame=[0], timestamps=np.asarray(camera.time.values, dtype=np.float64), unit="n.a.")
    nwbfile.add_acquisition(series)
    if pose is not None:
        _add_pose(nwbfile, pose, series, subject, label)
    with written(path) as tmp:
        with pynwb.NWBHDF5IO(str(tmp), mode="w") as io:
            io.write(nwbfile)
    return path


def _add_pose(nwbfile, pose, series, subject, label: str) -> None:
    """The pose as ndx-pose's PoseEstimation, its series on the video's own timestamps."""
    try:
        from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    except ImportError as exc:
        from .errors import DependencyError

        raise DependencyError("Writing the pose to NWB needs ndx-pose: pip install ndx-pose.") from exc
    if pose.sizes["time"] != len(series.timestamps) or not np.array_equal(pose.time.values, series.timestamps):
        raise XVideoError("to_nwb(pose=): the pose is not on this camera's times: load it with "
                          "load_pose(..., camera=camera).")
    keypoints = [str(k) for k in pose.keypoints.values]
    skeleton = Skeleton(name=f"{label}_skeleton", nodes=keypoints, edges=np.zeros((0, 2), "uint8"), subject=subject)
    estimates = [PoseEstimationSeries(
        name=k, description=f"{k} as DLC estimates it in the {label} camera's frames (video pixels)",
        data=np.asarray(pose.position.sel(keypoints=k).transpose("time", "space").values, dtype=np.float64),
        unit="pixels", reference_frame="(0, 0) is the top left corner of the video's frames",
        timestamps=series, confidence=np.asarray(pose.likelihood.sel(keypoints=k).values, dtype=np.float64),
        confidence_definition="DLC's likelihood") for k in keypoints]
    behavior = nwbfile.create_processing_module(name="behavior", description="pose estimates")
    behavior.add(Skeletons(skeletons=[skeleton]))
    behavior.add(PoseEstimation(name=f"PoseEstimation{label.capitalize()}Camera", pose_estimation_series=estimates,
                                description=f"DLC pose of the {label} camera", source_software="DeepLabCut",
                                skeleton=skeleton, original_videos=[series.external_file[0]]))
