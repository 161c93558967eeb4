"""Peri-event stacks: the frames around each event, read once per keyframe group."""

from __future__ import annotations

import dask
import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.engine.decode import STATS
from ibl_xvideo.errors import InvalidOptionError, XVideoError

from .conftest import frame_numbers, needs_zarr

#: events (s) on the clock of a bare 300-frame 30 fps file (time = frame / 30): one before the
#: first frame, one at the start, two sharing a keyframe group, one near the end, one after it
EVENTS = [-0.4, 0.04, 2.5, 2.9, 9.9, 12.0]
WINDOW = (-0.2, 0.3)


def _stack(cam, events=EVENTS, **kw):
    ibl_xvideo.clear_caches()
    STATS.reset()
    with dask.config.set(scheduler="sync"):
        stack = ibl_xvideo.peri_event(cam, events, WINDOW, **kw)
        values = stack.values
    return stack, values


def test_stack_equals_the_frames_read_one_by_one(videos, reference):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    stack, values = _stack(cam)
    assert stack.dims == ("event", "lag", "y", "x") and values.shape == (6, 16, 256, 320)
    np.testing.assert_allclose(stack.lag.values, np.arange(-6, 10) / 30)
    frames = stack.frame.values
    for e in range(6):
        for k in range(16):
            if stack.valid.values[e, k]:
                assert np.array_equal(values[e, k], reference["bframes"][frames[e, k]])
                assert abs(stack.time.values[e, k] - (EVENTS[e] + stack.lag.values[k])) <= 1 / 30
            else:
                assert frames[e, k] == -1 and np.isnan(stack.time.values[e, k]) and not values[e, k].any()
    # nothing before the first frame nor after the last: the edges are masked, not repeated
    assert not stack.valid[0].values.any() and not stack.valid[5].values.any()
    assert stack.valid[1].values.sum() == 11 and frame_numbers(values[1, 6:9]) == [1, 2, 3]
    assert stack.valid[4].values.sum() == 6 + 3  # frames 291..299


def test_each_keyframe_group_is_visited_once(videos):
    cam = ibl_xvideo.open_camera(videos["bframes"])  # a keyframe every 60 frames
    stack, _ = _stack(cam)
    wanted = np.unique(stack.frame.values[stack.valid.values])
    assert STATS.seeks == np.unique(wanted // 60).size  # events 2 and 3 share their group: one visit
    assert STATS.frames <= sum(int(wanted[wanted // 60 == g].max()) - 60 * g + 1 for g in np.unique(wanted // 60))


@pytest.mark.parametrize("form", ["lazy", "cropped", "transformed"])
def test_every_form_of_camera_gives_the_same_stack(videos, form):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    _, full = _stack(cam)
    if form == "lazy":
        stack, values = _stack(ibl_xvideo.open_camera(videos["bframes"], chunks=None))
        np.testing.assert_array_equal(values, full)
    elif form == "cropped":
        stack, values = _stack(cam.isel(y=slice(20, 120), x=slice(5, 300, 2)))
        np.testing.assert_array_equal(values, full[:, :, 20:120, 5:300:2])
    else:  # after a transform there is no planning, but the same frames
        stack, values = _stack(cam + 0)
        np.testing.assert_array_equal(values, full)


def test_nan_events_are_skipped_with_a_warning_and_bad_input_is_refused(videos):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    with pytest.warns(UserWarning, match="1 of 3 event times are NaN"):
        stack = ibl_xvideo.peri_event(cam, [1.0, np.nan, 2.0], WINDOW)
    assert stack.sizes["event"] == 2 and list(stack.event_time.values) == [1.0, 2.0]
    with pytest.raises(InvalidOptionError, match="start < end"):
        ibl_xvideo.peri_event(cam, [1.0], (0.5, -0.5))
    with pytest.raises(XVideoError, match="time, y, x"):
        ibl_xvideo.peri_event(cam.isel(y=0), [1.0], WINDOW)
    assert cam.video.peri_event([1.0], WINDOW).sizes["lag"] == 16  # the accessor


def test_the_stack_is_chunked_by_events(videos):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    stack = ibl_xvideo.peri_event(cam, np.linspace(0.5, 9.5, 20), WINDOW, events_per_chunk=3)
    assert stack.data.chunks[0] == (3,) * 6 + (2,)
    mean = stack.where(stack.valid).mean("event").compute()  # a reduction over events, chunk by chunk
    assert mean.dims == ("lag", "y", "x")


@pytest.mark.parametrize("chains", [None, 1, 3])
def test_the_streaming_mean_equals_xarray_s(videos, chains):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    events = np.r_[EVENTS, np.linspace(0.5, 9.5, 14)]
    stack = ibl_xvideo.peri_event(cam, events, WINDOW, events_per_chunk=3)
    mean = ibl_xvideo.peri_event_mean(stack, chains=chains)
    assert mean.dims == ("lag", "y", "x") and mean.dtype == np.float64
    expected = stack.astype("float64").where(stack.valid).mean("event").values  # (a lag without a frame: NaN)
    np.testing.assert_allclose(mean.values, expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(mean.n_events.values, stack.valid.sum("event").values)
    every = ibl_xvideo.peri_event_mean(stack, valid_only=False, chains=chains).values
    np.testing.assert_allclose(every, stack.astype("float64").mean("event").values, rtol=1e-12)
    # dims by name: a transposed stack gives the same mean
    np.testing.assert_array_equal(ibl_xvideo.peri_event_mean(stack.transpose("lag", "x", "event", "y"),
                                                             chains=chains).values, mean.values)


def test_the_streaming_mean_of_a_long_window_and_on_a_cluster(videos, client):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    stack = ibl_xvideo.peri_event(cam, [3.0, 4.0, 5.5], (-1.0, 1.0), events_per_chunk=1)
    long = ibl_xvideo.peri_event(cam, [3.0, 4.0, 5.5], (-1.0, 1.0))
    mean = client.compute(ibl_xvideo.peri_event_mean(stack), sync=True)
    np.testing.assert_allclose(mean.values, stack.astype("float64").where(stack.valid).mean("event").values,
                               rtol=1e-12)
    np.testing.assert_allclose(ibl_xvideo.peri_event_mean(long).values, mean.values, rtol=1e-12)


def test_the_streaming_mean_refuses_what_is_not_a_stack(videos):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    with pytest.raises(XVideoError, match="dims event, lag, y, x"):
        ibl_xvideo.peri_event_mean(cam)
    stack = ibl_xvideo.peri_event(cam, [2.0], WINDOW)
    with pytest.raises(XVideoError, match="valid"):
        ibl_xvideo.peri_event_mean(stack.drop_vars("valid"))
    assert ibl_xvideo.peri_event_mean(stack.drop_vars("valid"), valid_only=False).shape == stack.shape[1:]


@needs_zarr
def test_a_zarr_store_gives_the_same_stack(videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    _, full = _stack(cam)
    ibl_xvideo.to_zarr(cam, tmp_path / "s.zarr", progress=False)
    _, values = _stack(ibl_xvideo.open_store(tmp_path / "s.zarr"))
    np.testing.assert_array_equal(values, full)


def test_peri_event_figure(videos, tmp_path):
    pytest.importorskip("matplotlib")
    from ibl_xvideo.events import plot_peri_event

    stack = ibl_xvideo.peri_event(ibl_xvideo.open_camera(videos["bframes"]), [2.0, 5.0], WINDOW)
    fig = plot_peri_event(stack, tmp_path / "pe.png", n_lags=4)
    assert (tmp_path / "pe.png").exists() and len(fig.axes) == 5
    mean = ibl_xvideo.peri_event_mean(stack)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 4
    for ax in shown:  # each panel is the mean frame at the lag its title names
        lag = float(ax.get_title().rstrip(" s"))
        k = int(np.argmin(np.abs(mean.lag.values - lag)))
        np.testing.assert_allclose(ax.images[0].get_array(), mean.isel(lag=k).values)


def test_nearest_picks_the_earlier_on_a_tie_and_clips_at_the_ends():
    from ibl_xvideo.engine.planning import nearest

    a = np.array([0.0, 1.0, 2.0, 4.0])
    assert list(nearest(a, [-5.0, 0.4, 0.5, 0.6, 3.0, 3.1, 9.0])) == [0, 0, 0, 1, 2, 3, 3]
    assert list(nearest(np.array([7.0]), [0.0, 7.0, 100.0])) == [0, 0, 0]
    with pytest.raises(ValueError):
        nearest(np.array([]), [1.0])
