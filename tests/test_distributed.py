"""Graphs hold only picklable plain data and run on a real dask.distributed cluster."""

from __future__ import annotations

import pickle

import numpy as np

import ibl_xvideo

from .conftest import SESSION_EID


def test_pickle_round_trip(videos):
    cam = ibl_xvideo.open_camera(videos["bframes"], chunks=40)
    again = pickle.loads(pickle.dumps(cam))
    assert again.data.name == cam.data.name  # deterministic graph names
    assert type(again.data) is type(cam.data)  # list selections still planned per keyframe group
    assert np.array_equal(again.isel(time=[7, 250]).values, cam.isel(time=[7, 250]).values)
    lazy = ibl_xvideo.open_camera(videos["bframes"], chunks=None)
    assert np.array_equal(pickle.loads(pickle.dumps(lazy)).isel(time=3).values, lazy.isel(time=3).values)


def test_same_source_same_graph_name(videos):
    a = ibl_xvideo.open_camera(videos["mono"])
    b = ibl_xvideo.open_camera(videos["mono"])
    c = ibl_xvideo.open_camera(videos["mono"], pixels="luma")
    assert a.data.name == b.data.name != c.data.name


def test_cluster_reduction_equals_local(client, videos, one):
    cam = ibl_xvideo.open_camera(videos["longgop"], chunks=50)
    local = cam.mean(("y", "x")).compute(scheduler="sync").values
    remote = client.compute(cam.mean(("y", "x")).data).result()
    np.testing.assert_array_equal(local, remote)
    # an eid-opened camera carries everything its tasks need, too
    body = ibl_xvideo.open_camera(SESSION_EID, "body", one=one, chunks=20)
    got = client.compute(body.isel(time=slice(None, None, 3)).max(("y", "x")).data).result()
    np.testing.assert_array_equal(got, body.isel(time=slice(None, None, 3)).max(("y", "x")).values)
    # a list of frames, planned per keyframe group, computed by the workers
    picked = body.isel(time=[40, 3, 3, 71])
    np.testing.assert_array_equal(client.compute(picked.data).result(), picked.values)
    workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2


def test_full_qc_on_the_cluster_equals_local(client, one):
    """camera_qc(full=True) runs its pass on the active client's worker processes, with the same result."""
    import dask
    from distributed import get_task_stream

    from ibl_xvideo import qc

    kw = dict(one=one, n_samples=10, full=True, progress=False, kind="ephys")
    for refs in (False, np.zeros((1, 256, 320))):
        with get_task_stream(client) as ts:
            on_cluster = qc.camera_qc(SESSION_EID, "body", refs=refs, **kw)
        assert ts.data and {t["worker"] for t in ts.data} <= set(client.scheduler_info()["workers"])  # ran there
        with dask.config.set(scheduler="threads"):
            local = qc.camera_qc(SESSION_EID, "body", refs=refs, **kw)
        assert on_cluster.metrics == local.metrics
        np.testing.assert_array_equal(on_cluster.measures.brightness.values, local.measures.brightness.values)
        np.testing.assert_array_equal(on_cluster.samples, local.samples)


def test_the_progress_bar_counts_the_tasks_of_a_distributed_cluster(client, videos, capsys):
    """Under a distributed client Dask's local callbacks never run: the bar reads the scheduler's counts."""
    import re

    cam = ibl_xvideo.open_camera(videos["longgop"], chunks=50)
    with ibl_xvideo.progress("mean grey"):
        got = cam.mean(("y", "x")).compute()
    assert got.sizes["time"] == cam.sizes["time"]
    shown = capsys.readouterr().err.replace("\r", "\n").splitlines()
    final = [line for line in shown if line.startswith("mean grey")][-1]
    done, total = map(int, re.search(r"(\d+)/(\d+)", final).groups())
    assert total >= len(cam.chunks[0]) and done == total, final
