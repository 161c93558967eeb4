"""``camera.video``: ibl-xvideo's operations as an xarray accessor on camera arrays.

Registered when :mod:`ibl_xvideo` is imported::

    cam = ibl_xvideo.open_camera(eid, 'body', one=one)
    cam.video.meta                        # ibllib's video_meta keys and ours
    cam.video.frame_at(1000)              # the frame at a session time, or an error outside the camera's
    cam.video.brightness()                # lazy mean grey level of the QC ROI, per frame
    cam.video.motion_energy()             # brainbox's motion energy, one Dask pass
    cam.video.to_zarr('body.zarr')        # resumable Zarr export
    cam.video.qc(n_samples=100)           # ibllib's camera QC on this video
    cam.video.peri_event(stim_on, (-1, 2))  # the frames around each event, (event, lag, y, x)
    cam.video.pose()                      # the camera's DLC pose estimates on its clock
    cam.video.plot(1000, pose=pose)       # the frame at a session time, with its pose points
    cam.video.montage([10, 20, 30])       # frames on a grid
    cam.video.to_mp4('clip.mp4', time=slice(100, 104))  # a shareable H.264 clip and its times
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import InvalidOptionError, TimeOutOfRangeError, XVideoError

__all__ = ["VideoAccessor"]


@xr.register_dataarray_accessor("video")
class VideoAccessor:
    """Operations on a camera array from :func:`ibl_xvideo.open_camera` (``camera.video.<name>``)."""

    def __init__(self, camera: xr.DataArray):
        self._cam = camera

    def _label(self) -> str:
        label = self._cam.attrs.get("label")
        if not label:
            raise XVideoError("This array has no camera label in its attrs: open it with ibl_xvideo.open_camera.")
        return label

    def _transport(self):
        """How the array's video is read (credentials, retry policy), when the array is a camera's frames."""
        from .engine.planning import recorded

        rec = recorded(self._cam)
        return None if rec is None else rec.index.transport

    @property
    def meta(self) -> dict:
        """The metadata of the video file the array was opened from (:func:`ibl_xvideo.video_meta`).

        ibllib's keys and ours, of the file: a crop, a time selection or a transform of the
        camera has the file's ``width``, ``height`` and ``length`` here; the array's own
        are ``cam.sizes`` and ``cam.dtype``.

        Examples
        --------
        >>> cam.video.meta['fps'], cam.video.meta['length']  # doctest: +SKIP
        (30, 30000)
        """
        from .camera import video_meta

        source = self._cam.attrs.get("source")
        if not source:
            raise XVideoError("This array has no 'source' attribute: open it with ibl_xvideo.open_camera.")
        meta = video_meta(source, self._cam.attrs.get("label") or None, storage_options=self._transport())
        meta["eid"] = self._cam.attrs.get("eid") or meta["eid"]  # opened by eid: known even without ONE
        return meta

    def frame_at(self, time: float) -> xr.DataArray:
        """The frame nearest a session time, refusing times outside the camera's.

        ``sel(time=t, method='nearest')`` gives the last frame for a time hours past the
        end; this raises instead when ``time`` is more than one frame period before the
        first frame or after the last.

        Raises
        ------
        TimeOutOfRangeError
            Naming the camera's first and last times.

        Examples
        --------
        >>> frame = cam.video.frame_at(1000.0)  # doctest: +SKIP
        >>> int(frame.frame), float(frame.time)  # the frame shown at t = 1000 s  # doctest: +SKIP
        """
        times = self._cam["time"].values
        if not times.size:
            raise TimeOutOfRangeError("This camera has no frames.")
        fps = float(self._cam.attrs.get("fps") or 0) or 1.0
        t0, t1 = float(np.nanmin(times)), float(np.nanmax(times))
        if not t0 - 1 / fps <= float(time) <= t1 + 1 / fps:
            clock = "frame / fps" if self._cam.attrs.get("timestamps_policy") == "frame/fps" else "session clock"
            raise TimeOutOfRangeError(
                f"t = {float(time):g} s is outside the {self._cam.attrs.get('label') or ''} camera's times "
                f"({t0:.3f} to {t1:.3f} s, {clock}): pick a time inside them.")
        # the nearest by value (the array's times may be a list in any order), the earlier on a tie
        return self._cam.isel(time=int(np.nanargmin(np.abs(times - float(time)))))

    def brightness(self, roi: bool = True) -> xr.DataArray:
        """Mean grey level of each frame in ibllib's brightness ROI for this camera (lazy).

        Examples
        --------
        >>> b = cam.video.brightness().compute()  # one Dask pass over the video  # doctest: +SKIP
        >>> b.sel(time=slice(100, 200)).mean()  # doctest: +SKIP
        """
        from .camera import as_frames, pixel_region
        from .qc.checks import brightness_roi

        cam = as_frames(self._cam, "brightness()")
        if roi:
            h, w = int(cam.attrs.get("height") or cam.sizes["y"]), int(cam.attrs.get("width") or cam.sizes["x"])
            ys, xs = brightness_roi(self._label(), h, w)
            cam = pixel_region(cam, ys, xs, "pass roi=False for the mean of every pixel the array holds")
        return cam.mean(("y", "x")).rename("brightness")

    def motion_energy(self, diff: int = 2, normalize: bool = True):
        """Brainbox's motion energy and the diffs' standard deviation (:func:`ibl_xvideo.qc.motion_energy`).

        Examples
        --------
        >>> energy, std = cam.isel(y=slice(300, 500)).video.motion_energy()  # doctest: +SKIP
        """
        from .qc.motion import motion_energy

        return motion_energy(self._cam, diff=diff, normalize=normalize)

    def roi_motion_energy(self, roi=None) -> xr.DataArray:
        """Iblvideo's ROI motion energy (:func:`ibl_xvideo.qc.roi_motion_energy`).

        Examples
        --------
        >>> wheel = cam.video.roi_motion_energy(roi=(slice(400, 512), slice(200, 440))).compute()  # doctest: +SKIP
        """
        from .qc.motion import roi_motion_energy

        return roi_motion_energy(self._cam, roi)

    def to_zarr(self, store, **kwargs):
        """Export the frames to Zarr, resumably (:func:`ibl_xvideo.to_zarr`); return the store.

        Examples
        --------
        >>> cam.video.to_zarr('body.zarr', time=slice(100, 200), roi='0:256,320:640')  # doctest: +SKIP
        """
        from .store import to_zarr

        return to_zarr(self._cam, store, **kwargs)

    def peri_event(self, times, window=(-1.0, 2.0), **kwargs) -> xr.DataArray:
        """The frames around each event time, a lazy ``(event, lag, y, x)`` stack (:func:`ibl_xvideo.peri_event`).

        Examples
        --------
        >>> trials = one.load_object(eid, 'trials')  # doctest: +SKIP
        >>> stack = cam.video.peri_event(trials['stimOn_times'], window=(-0.5, 1.0))  # doctest: +SKIP
        """
        from .events import peri_event

        return peri_event(self._cam, times, window, **kwargs)

    def pose(self, **kwargs) -> xr.Dataset:
        """The camera's DLC pose estimates, aligned to its frames (:func:`ibl_xvideo.pose.load_pose`).

        Examples
        --------
        >>> pose = cam.video.pose()  # doctest: +SKIP
        >>> pose.position.sel(keypoints='nose_tip')  # doctest: +SKIP
        """
        from .pose import load_pose

        return load_pose(self._cam, **kwargs)

    def plot(self, time: float, **kwargs):
        """The frame at a session time, titled with its frame and time (:func:`ibl_xvideo.pose.plot_frame`).

        Examples
        --------
        >>> cam.video.plot(1000, pose=cam.video.pose(), out='frame.png')  # doctest: +SKIP
        """
        from .pose import plot_frame

        return plot_frame(self._cam, time, **kwargs)

    def montage(self, times, **kwargs):
        """Frames at session times on a grid (:func:`ibl_xvideo.pose.montage`).

        Examples
        --------
        >>> cam.video.montage(trials['stimOn_times'][:8], pose=cam.video.pose(), out='m.png')  # doctest: +SKIP
        """
        from .pose import montage

        return montage(self._cam, times, **kwargs)

    def to_mp4(self, path, **kwargs):
        """A time range and region of the camera as an H.264 clip and its times (:func:`ibl_xvideo.clips.to_mp4`).

        Examples
        --------
        >>> cam.video.to_mp4('stim.mp4', time=slice(100, 103), burn_time=True)  # doctest: +SKIP
        """
        from .clips import to_mp4

        return to_mp4(self._cam, path, **kwargs)

    def to_nwb(self, path, **kwargs):
        """The camera as an NWB file: an external-mode ``ImageSeries`` with its times (:mod:`ibl_xvideo.nwbexport`).

        Examples
        --------
        >>> cam.video.to_nwb('session_body.nwb')  # doctest: +SKIP
        """
        from .nwbexport import to_nwb

        return to_nwb(self._cam, path, **kwargs)

    def qc(self, **kwargs):
        """Ibllib's camera QC on this video (:func:`ibl_xvideo.qc.camera_qc`).

        Runs on the whole video and, when it lies in a session folder, on the
        session's files: its timestamps as stored (a ``truncate`` or ``pad`` choice
        made when opening the array does not hide a count mismatch from the QC).
        Timestamps given to ``open_camera`` (a file, or an array as aligned then)
        are passed on.

        Raises
        ------
        XVideoError
            If the array is a selection of the video's frames.

        Examples
        --------
        >>> res = cam.video.qc(samples='keyframes')  # doctest: +SKIP
        >>> res.outcome, res.reasons  # doctest: +SKIP
        """
        from .engine.planning import recorded
        from .qc.run import camera_qc

        cam = self._cam
        if cam.attrs.get("cache") and cam.encoding.get("source"):  # opened from a Zarr cache of the camera
            as_opened = cam.dims == ("time", "y", "x") and cam.dtype == np.uint8 and np.array_equal(
                cam.frame.values, np.arange(cam.sizes["time"]))
        else:
            rec = recorded(cam)
            as_opened = rec is not None and rec.whole and np.array_equal(rec.frames, np.arange(rec.frames.size))
        length = int(cam.attrs.get("length", -1))
        if not as_opened or cam.sizes["time"] < min(length, cam.attrs.get("n_timestamps") or length):
            raise InvalidOptionError(
                "qc() judges the whole video as recorded, so it runs on the camera as opened by "
                "ibl_xvideo.open_camera, not on a selection, a crop, a transform or a copy of it (whose values "
                "are not the recording's). For measures of this array, use its values: e.g. "
                ".video.brightness(), .video.motion_energy().")
        source = cam.attrs.get("session_path") or cam.attrs.get("source")
        origin = cam.attrs.get("timestamps", "none")
        if origin in ("user", "nwb"):  # an array given to open_camera, or an NWB series' (as aligned then)
            kwargs.setdefault("timestamps", cam.time.values)
        elif origin not in ("alf", "none"):  # a file given to open_camera
            kwargs.setdefault("timestamps", origin)
        if cam.attrs.get("cache") and cam.encoding.get("source"):  # opened from a Zarr cache: QC reads it
            kwargs.setdefault("cache", cam.encoding["source"])
        if source == cam.attrs.get("source"):  # a URL: read as the camera was (credentials, retry policy)
            kwargs.setdefault("storage_options", self._transport())
        result = camera_qc(source, self._label(), **kwargs)
        result.eid = result.eid or cam.attrs.get("eid") or ""  # opened by eid: its session's, without ONE here
        return result
