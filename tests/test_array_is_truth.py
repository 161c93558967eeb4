"""The array is the truth: every function that takes a camera honours the array it is given, or refuses it.

A matrix: forms of a camera (crops, flips, arithmetic, ``astype``, time slices and lists,
transposes, other data, a hand-built array with the same attrs, an assignment, no Dask,
a store export) times every public function and accessor method that takes one. Each
case is EXACT (equal to the same computation written here from the array's own values,
dims by name) or REFUSED with one of the package's typed errors, as the reference says;
nothing else may escape.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import ibl_xvideo
from ibl_xvideo import open_camera, open_store, to_zarr
from ibl_xvideo.demo.synth import make_video
from ibl_xvideo.errors import XVideoError
from ibl_xvideo.pose import load_pose
from ibl_xvideo.qc import camera_qc
from ibl_xvideo.qc.checks import brightness_roi, frame_measures
from ibl_xvideo.qc.motion import motion_energy, roi_motion_energy

from .conftest import needs_zarr

N, H, W = 90, 256, 320
LABEL = "body"


class Refused(Exception):
    """The reference computation says this form is refused."""


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("truth") / "_iblrig_bodyCamera.raw.mp4", N, width=W, height=H, gop=30)


def _assigned(path):
    cam = open_camera(path, timestamps=False)
    cam[10:20] = 0
    return cam


def _store(path, folder):
    to_zarr(open_camera(path, timestamps=False).isel(y=slice(20, 200)), folder / "crop.zarr", progress=False)
    return open_store(folder / "crop.zarr")


FORMS = {
    "camera": lambda p, d: open_camera(p, timestamps=False),
    "no Dask": lambda p, d: open_camera(p, timestamps=False, chunks=None),
    "crop": lambda p, d: open_camera(p, timestamps=False).isel(y=slice(40, 250), x=slice(30, 300)),
    "crop, no Dask": lambda p, d: open_camera(p, timestamps=False, chunks=None).isel(y=slice(40, 250)),
    "flip": lambda p, d: open_camera(p, timestamps=False).isel(x=slice(None, None, -1)),
    "255 - cam": lambda p, d: 255 - open_camera(p, timestamps=False),
    "cam // 2": lambda p, d: open_camera(p, timestamps=False) // 2,
    "astype f4": lambda p, d: open_camera(p, timestamps=False).astype("f4"),
    "time slice": lambda p, d: open_camera(p, timestamps=False).isel(time=slice(10, 70)),
    "time list": lambda p, d: open_camera(p, timestamps=False).isel(time=[50, 3, 40, 41, 7]),
    "transpose (time, x, y)": lambda p, d: open_camera(p, timestamps=False).transpose("time", "x", "y"),
    "transpose (x, y, time)": lambda p, d: open_camera(p, timestamps=False).transpose("x", "y", "time"),
    "other data": lambda p, d: open_camera(p, timestamps=False).copy(data=np.full((N, H, W), 9, np.uint8)),
    "hand-built": lambda p, d: (lambda c: xr.DataArray(np.arange(N * H * W, dtype=np.uint32).reshape(N, H, W)
                                                       .astype(np.uint8), dims=c.dims, coords=c.coords,
                                                       attrs=c.attrs, name=c.name))(
        open_camera(p, timestamps=False)),
    "assigned": lambda p, d: _assigned(p),
    "store of a crop": lambda p, d: _store(p, d),
}

#: The forms that are the camera as opened: the only ones the QC judges.
AS_OPENED = {"camera", "no Dask"}


def _frames(arr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The array's values as (time, y, x), and its pixel coordinates (dims by name, independently of the package)."""
    order = [arr.dims.index(d) for d in ("time", "y", "x")]
    values = np.transpose(np.asarray(arr.values), order)
    return values, np.asarray(arr["y"].values), np.asarray(arr["x"].values)


def _region(arr, ys: slice, xs: slice) -> np.ndarray:
    values, y, x = _frames(arr)
    want_y, want_x = np.arange(H)[ys], np.arange(W)[xs]
    if not (np.isin(want_y, y).all() and np.isin(want_x, x).all()):
        raise Refused
    return values[:, np.isin(y, want_y)][:, :, np.isin(x, want_x)]


def _whole_in_order(arr) -> None:
    _, y, x = _frames(arr)
    if not (np.array_equal(y, np.arange(H)) and np.array_equal(x, np.arange(W))):
        raise Refused


def _brightness_ref(arr):
    ys, xs = brightness_roi(LABEL, H, W)
    return _region(arr, ys, xs).mean(axis=(1, 2))


def _measures_ref(arr):
    _whole_in_order(arr)
    return _brightness_ref(arr)


def _energy_ref(arr):
    values = _frames(arr)[0]
    return motion_energy(values, diff=2)[0]


ROI = (slice(100, 200), slice(60, 160))


def _roi_energy_ref(arr):
    g = _region(arr, *ROI).astype(np.float32)
    me = np.abs(g[1:] - g[:-1]).mean(axis=(1, 2), dtype=np.float64)
    return np.r_[me, me[-1:]]


def _nearest(arr, t):
    times = np.asarray(arr.time.values)
    return int(np.argmin(np.abs(times - t)))


def _frame_at_ref(arr):
    return _frames(arr)[0][_nearest(arr, float(arr.time.values[len(arr.time) // 2]))]


def _mp4_ref(arr):
    if arr.dtype != np.uint8:
        raise Refused
    return _frames(arr)[0]


def _refused(arr):
    raise Refused


def _qc_ref(form):
    if form not in AS_OPENED:
        raise Refused
    return None


def _pose(arr) -> xr.Dataset:
    n = arr.sizes["time"]
    return xr.Dataset({"position": (("time", "keypoints", "space"), np.full((n, 1, 2), 50.0)),
                       "likelihood": (("time", "keypoints"), np.ones((n, 1)))},
                      coords={"time": arr.time.values, "frame": ("time", arr.frame.values),
                              "keypoints": ["nose_tip"], "space": ["x", "y"]})


def _image(fig) -> np.ndarray:
    return np.asarray(fig.axes[0].images[0].get_array())


def _decoded(path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="gray") for f in c.decode(video=0)])


def _run(fn, *args):
    try:
        return fn(*args)
    except XVideoError as exc:
        return exc


#: function -> (what the package computes, the reference from the array's values, how to compare)
def _cases(tmp):
    def t_mid(arr):
        return float(arr.time.values[len(arr.time) // 2])

    def plot_image(arr, pose=None):
        import matplotlib.pyplot as plt

        fig = arr.video.plot(t_mid(arr), pose=pose)
        try:
            return _image(fig)
        finally:
            plt.close(fig)

    def montage_images(arr):
        import matplotlib.pyplot as plt

        times = arr.time.values[[0, len(arr.time) - 1]]
        fig = arr.video.montage(times)
        try:
            return np.stack([np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images])
        finally:
            plt.close(fig)

    def exported(arr, via):
        store = tmp / f"export-{len(list(tmp.iterdir()))}.zarr"
        (arr.video.to_zarr if via == "accessor" else lambda s, **kw: to_zarr(arr, s, **kw))(store, progress=False)
        back = open_store(store)
        return back.dims, back.dtype, np.asarray(back.values)

    def clip(arr):
        path = tmp / f"clip-{len(list(tmp.iterdir()))}.mp4"
        arr.video.to_mp4(path, progress=False)
        return _decoded(path)

    def clip_ref(arr):
        values = _mp4_ref(arr)
        h, w = values.shape[1:]
        return Lossy(values[:, :h - h % 2, :w - w % 2])  # H.264 at crf 18: close, not equal

    def events(arr):
        return np.asarray(arr.time.values)[[2, len(arr.time) // 2]]

    def peri(arr):
        return np.asarray(ibl_xvideo.peri_event(arr, events(arr), window=(-0.1, 0.1)).values)

    def stack_ref(arr):
        """The stack from the values: (frames (event, lag, y, x), valid (event, lag))."""
        values, times = _frames(arr)[0], np.asarray(arr.time.values)
        fps = float(arr.attrs["fps"])
        lags = np.arange(int(np.ceil(-0.1 * fps - 1e-9)), int(np.floor(0.1 * fps + 1e-9)) + 1)
        out = np.zeros((2, lags.size) + values.shape[1:], values.dtype)
        valid = np.zeros((2, lags.size), bool)
        for e, t in enumerate(events(arr)):
            for k, lag in enumerate(lags):
                i = _nearest(arr, t) + lag
                if 0 <= i < len(times) and abs(times[i] - (t + lag / fps)) <= 1 / fps:
                    out[e, k], valid[e, k] = values[i], True
        return out, valid

    def peri_plot(arr):
        import matplotlib.pyplot as plt

        from ibl_xvideo.events import plot_peri_event

        fig = plot_peri_event(ibl_xvideo.peri_event(arr, events(arr), window=(-0.1, 0.1)))
        try:
            return np.asarray(fig.axes[0].images[0].get_array(), dtype=np.float32)
        finally:
            plt.close(fig)

    def peri_plot_ref(arr):
        out, valid = stack_ref(arr)
        return out[valid[:, 0], 0].astype(np.float32).mean(axis=0)

    def pose_rows(arr):
        table = tmp / "_ibl_bodyCamera.dlc.pqt"
        if not table.exists():
            import pandas as pd

            rows = np.arange(N, dtype=float)
            pd.DataFrame({"nose_x": rows, "nose_y": rows + 0.5, "nose_likelihood": np.full(N, 0.99)}).to_parquet(table)
        pose = load_pose(table, LABEL, camera=arr)
        return pose.position.sel(keypoints="nose", space="x").values

    def listed(arr):
        return np.asarray(arr.isel(time=[2, 0, 1]).transpose("time", "y", "x").values)

    return {
        "to_zarr": (lambda a: exported(a, "function"), lambda a: (a.dims, a.dtype, np.asarray(a.values))),
        ".video.to_zarr": (lambda a: exported(a, "accessor"), lambda a: (a.dims, a.dtype, np.asarray(a.values))),
        ".video.brightness": (lambda a: a.video.brightness().values, _brightness_ref),
        "frame_measures": (lambda a: frame_measures(a, LABEL).brightness.values, _measures_ref),
        "motion_energy": (lambda a: motion_energy(a)[0].values, _energy_ref),
        ".video.roi_motion_energy": (lambda a: a.video.roi_motion_energy(ROI).values, _roi_energy_ref),
        "roi_motion_energy": (lambda a: roi_motion_energy(a, ROI).values, _roi_energy_ref),
        ".video.frame_at": (lambda a: np.asarray(a.video.frame_at(t_mid(a)).transpose("y", "x").values),
                            _frame_at_ref),
        "peri_event": (peri, lambda a: stack_ref(a)[0]),
        "plot_peri_event": (peri_plot, peri_plot_ref),
        "load_pose(camera=)": (pose_rows, lambda a: np.asarray(a.frame.values, dtype=float)),
        "camera_qc": (lambda a: camera_qc(a, LABEL), _refused),
        ".video.plot": (plot_image, _frame_at_ref),
        ".video.plot(pose=)": (lambda a: plot_image(a, _pose(a)), lambda a: (_whole_in_order(a), _frame_at_ref(a))[1]),
        ".video.montage": (montage_images, lambda a: _frames(a)[0][[0, len(a.time) - 1]]),
        ".video.to_mp4": (clip, clip_ref),
        "list selection": (listed, lambda a: _frames(a)[0][[2, 0, 1]]),
        ".video.meta": (lambda a: a.video.meta["length"], lambda a: N),
    }


class Lossy:
    """Values a lossy encoding must come close to (mean difference under 2 grey levels)."""

    def __init__(self, values):
        self.values = values


def _equal(got, want) -> bool:
    if isinstance(want, Lossy):
        return got.shape == want.values.shape and np.abs(got.astype(float) - want.values).mean() < 2
    if isinstance(want, tuple):
        return len(got) == len(want) and all(_equal(g, w) for g, w in zip(got, want))
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.dtype == want.dtype and np.allclose(got, want, equal_nan=True) \
            if want.dtype.kind == "f" else np.array_equal(got, want)
    return got == want


FUNCTIONS = [".video.qc", "to_zarr", ".video.to_zarr", ".video.brightness", "frame_measures", "motion_energy",
             ".video.roi_motion_energy", "roi_motion_energy", ".video.frame_at", "peri_event", ".video.plot",
             ".video.plot(pose=)", ".video.montage", ".video.to_mp4", "list selection", ".video.meta",
             "plot_peri_event", "load_pose(camera=)", "camera_qc"]


@needs_zarr
@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_is_exact_or_refused(form, function, video, tmp_path):
    pytest.importorskip("matplotlib")
    arr = FORMS[form](video, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if function == ".video.qc":
            try:
                _qc_ref(form)
            except Refused:
                with pytest.raises(XVideoError):
                    arr.video.qc(n_samples=5, progress=False)
                return
            result = arr.video.qc(n_samples=5, progress=False)
            assert result.outcome is not None
            return
        ours, ref = _cases(tmp_path)[function]
        try:
            want = ref(arr)
        except Refused:
            got = _run(ours, arr)
            assert isinstance(got, XVideoError), f"{form} / {function}: expected a typed refusal, got {got!r}"
            return
        got = ours(arr)  # an untyped exception fails the test here
    assert _equal(got, want), f"{form} / {function}: the result is not the computation from the array's values"


@needs_zarr
def test_a_derived_export_is_never_served_as_the_camera(video, tmp_path):
    """open_camera(cache=) reads a store only when it holds this camera's frames as decoded."""
    cam = open_camera(video, timestamps=False)
    store = tmp_path / "cache.zarr"
    to_zarr(255 - cam, store, progress=False)
    with pytest.warns(UserWarning, match="rebuilding"):
        cached = open_camera(video, timestamps=False, cache=store)
    assert cached.attrs["cache"] == "refilled"
    assert np.array_equal(cached.values, cam.values)
    to_zarr(cam.isel(x=slice(0, 40)), tmp_path / "crop.zarr", progress=False)
    with pytest.warns(UserWarning, match="rebuilding"):
        again = open_camera(video, timestamps=False, cache=tmp_path / "crop.zarr")
    assert again.shape == cam.shape and np.array_equal(again.values, cam.values)


def test_an_assignment_is_seen_by_every_read(video):
    cam = open_camera(video, timestamps=False)
    cam[30:40] = 0
    assert cam.isel(time=[35]).values.max() == 0
    assert cam.isel(time=slice(35, 36)).values.max() == 0
    assert (cam + 0).isel(time=[31, 60]).values[0].max() == 0
    lazy = open_camera(video, timestamps=False, chunks=None)
    with pytest.raises(XVideoError, match="load"):
        lazy[30:40] = 0


def test_pixel_coordinates_say_where_a_crop_came_from(video):
    cam = open_camera(video, timestamps=False)
    assert np.array_equal(cam.x.values, np.arange(W)) and np.array_equal(cam.y.values, np.arange(H))
    crop = cam.isel(y=slice(40, 80), x=slice(100, 140))
    assert crop.x.values[0] == 100 and crop.y.values[0] == 40
    assert np.array_equal(cam.sel(x=slice(100, 139), y=slice(40, 79)).values, crop.values)
    flipped = cam.isel(x=slice(None, None, -1))
    assert flipped.x.values[0] == W - 1
