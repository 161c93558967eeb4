"""Motion energy with brainbox's semantics, on NumPy frames or as Dask reductions over a camera.

``frame_diff``, ``frame_diffs`` and ``motion_energy`` reproduce
``brainbox.video`` (float32 differences, the Pythagorean norm over colour channels
scaled to 0..255; rounded for one pair, truncated for a stack; population standard
deviation per frame). :func:`roi_motion_energy` is iblvideo's ``ROIMotionEnergy``:
``mean |g[i+1] - g[i]|`` over a region, the last value repeated.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["frame_diff", "frame_diffs", "motion_energy", "roi_motion_energy"]

_NORM = np.float32(np.sqrt(255 ** 2 * 3))


def _norm(diff32: np.ndarray, channels: bool) -> np.ndarray:
    if channels:
        return np.sqrt((diff32 ** 2).sum(axis=-1)) / _NORM
    return np.sqrt(diff32 ** 2 * 3) / _NORM


def frame_diff(frame1, frame2) -> np.ndarray:
    """Distance between two frames ((h, w) or (h, w, 3)) scaled to 0..255, rounded to uint8."""
    frame1, frame2 = np.asarray(frame1), np.asarray(frame2)
    if frame1.shape != frame2.shape:
        raise ValueError("Frames must have the same shape")
    d = np.float32(frame1) - np.float32(frame2)
    return np.uint8(np.round(np.float32(_norm(d, frame1.ndim == 3)) * 255))


def frame_diffs(frames, diff: int = 1) -> np.ndarray:
    """Distances between frames ``i + diff`` and ``i``, scaled to 0..255, truncated to uint8.

    Returns
    -------
    numpy.ndarray
        ``(n - diff, h, w)`` uint8.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.shape[0] < diff:
        raise ValueError("Difference must be less than number of frames")
    d = frames[diff:] - frames[:-diff]
    return np.uint8(_norm(d, frames.ndim == 4) * 255)


def motion_energy(frames, diff: int = 2, normalize: bool = True):
    """Per-frame motion energy (sum of :func:`frame_diffs`) and the diffs' standard deviation.

    Parameters
    ----------
    frames : array-like or xarray.DataArray
        ``(n, h, w)`` grey frames; a lazy camera from :func:`ibl_xvideo.open_camera` is
        reduced chunk by chunk with Dask (each chunk decoded once).
    diff : int
        Lag between the frames compared.
    normalize : bool
        Min-max normalise the energy to 0..1.

    Returns
    -------
    (energy, std)
        Arrays of length ``n - diff`` (DataArrays along the later frame's time for a
        DataArray input). brainbox's optional Gaussian smoothing is not provided.
    """
    if isinstance(frames, xr.DataArray):
        from ..camera import as_frames

        frames = as_frames(frames, "motion_energy")
        if frames.shape[0] < diff:
            raise ValueError("Difference must be less than number of frames")
        later = frames.isel(time=slice(diff, None))
        f = frames.data.astype(np.float32)
        # brainbox's float32 arithmetic, so that the truncation to uint8 is the same
        d = (_norm(f[diff:] - f[:-diff], False) * 255).astype(np.uint8)
        energy = xr.DataArray(d.sum(axis=(1, 2), dtype=np.float64), dims="time", coords=later.time.coords)
        std = xr.DataArray(d.std(axis=(1, 2), dtype=np.float64), dims="time", coords=later.time.coords)
        if normalize:
            energy = (energy - energy.min()) / (energy.max() - energy.min())
        return energy.rename("motion_energy"), std.rename("motion_energy_std")
    df = frame_diffs(frames, diff)
    std = df.reshape(df.shape[0], -1).std(axis=1, dtype=np.float64)
    energy = df.sum(axis=(1, 2), dtype=np.float64)
    if normalize:
        energy = (energy - energy.min()) / (energy.max() - energy.min())
    return energy, std


def roi_motion_energy(camera: xr.DataArray, roi=None) -> xr.DataArray:
    """Iblvideo's ROI motion energy: ``mean |g[i+1] - g[i]|`` in the ROI, last value repeated.

    Parameters
    ----------
    camera : xarray.DataArray
        ``(time, y, x)`` frames (lazy cameras are reduced with Dask).
    roi : (slice, slice) or [w, h, x, y], optional
        Region: a pair of slices, or iblvideo's ``position.npy`` layout ``[w, h, x, y]``.

    Returns
    -------
    xarray.DataArray
        float64, one value per frame.
    """
    from ..camera import as_frames, pixel_region
    from ..errors import InvalidOptionError

    camera = as_frames(camera, "roi_motion_energy")
    if roi is not None and not isinstance(roi[0], slice):
        w, h, x, y = (int(v) for v in roi)
        if min(w, h, x, y) < 0:
            raise InvalidOptionError(f"ROI {list(roi)} has negative values")
        roi = (slice(y, y + h), slice(x, x + w))
    # the ROI is in the video's pixels: found by the array's y and x coordinates (a crop keeps its place)
    crop = camera if roi is None else pixel_region(camera, roi[0], roi[1], "pass a region the array holds")
    g = crop.data.astype(np.float32)
    me = abs(g[1:] - g[:-1]).mean(axis=(1, 2), dtype=np.float64)
    import dask.array as da

    if isinstance(me, da.Array):
        me = da.concatenate([me, me[-1:]])
    else:
        me = np.r_[me, me[-1:]]
    return xr.DataArray(me, dims="time", coords=camera.time.coords, name="ROIMotionEnergy")
