"""Damaged Zarr stores: a read gives the exported frames exactly or a typed error, and repair restores them."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ibl_xvideo

from ..conftest import needs_zarr
from .cases import failure, record

pytestmark = [pytest.mark.reliability, needs_zarr]

CASES = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))
_names = itertools.count()


@pytest.fixture(scope="module")
def exported(videos, tmp_path_factory):
    cam = ibl_xvideo.open_camera(videos["bframes"])
    store = tmp_path_factory.mktemp("tamper") / "clean.zarr"
    ibl_xvideo.to_zarr(cam, store, progress=False)
    return cam, store, cam.values


def _shards(store):
    return sorted((store / "camera" / "c").glob("*/0/0"), key=lambda p: int(p.parent.parent.name))


@CASES
@given(how=st.sampled_from(["delete", "truncate", "flip", "zero"]), which=st.floats(0, 0.999),
       where=st.floats(0, 0.999), mask=st.integers(1, 255))
def test_a_damaged_shard_reads_exactly_or_fails_typed_and_repair_restores_it(exported, how, which, where, mask):
    cam, clean, frames = exported
    store = clean.with_name(f"case{next(_names)}.zarr")
    shutil.copytree(clean, store)
    shard = _shards(store)[int(len(_shards(store)) * which)]
    data = bytearray(shard.read_bytes())
    o = int(len(data) * where)
    if how == "delete":
        shard.unlink()
    elif how == "truncate":
        shard.write_bytes(bytes(data[:o]))
    elif how == "flip":
        data[o] ^= mask
        shard.write_bytes(bytes(data))
    else:  # a run of zeros, as a failed disk block gives
        data[o:o + 4096] = bytes(len(data[o:o + 4096]))
        shard.write_bytes(bytes(data))
    case = f"{how} shard {shard.parent.parent.name} at byte {o} of {len(data)}"
    try:
        got = ibl_xvideo.open_store(store, chunks=None).values
        observed = "exact frames" if np.array_equal(got, frames) else "wrong frames"
    except Exception as exc:  # noqa: BLE001 - typed or not, the table says which
        observed = failure(exc)
    ibl_xvideo.to_zarr(cam, store, repair=True, progress=False)
    repaired = np.array_equal(ibl_xvideo.open_store(store, chunks=None).values, frames)
    ok = observed.startswith(("exact", "typed")) and repaired
    record("Zarr store", case, "exact frames or a typed error; repair restores", observed + (
        "" if repaired else "; repair did not restore"), ok)
    shutil.rmtree(store)
    assert ok, f"{case}: {observed}, repaired: {repaired}"
