"""Damaged mp4s, as an adversary makes them: every read ends in the frames a sequential decode gives, or a typed error.

Each case mutates a copy of a small test video (truncation, bit flips anywhere, a
sample-table entry overwritten), then reads all of it through Dask and a scattered
list without Dask. A frame we return must equal the frame of the same timestamp in a
single-threaded sequential decode of the same damaged file by PyAV, unless our read
named it as concealed (``DamagedFramesWarning``); anything else must be an
``XVideoError``. Never a crash, a hang (a watchdog ends the run) or a wrong frame.
Cases are drawn by hypothesis with a fixed seed, so that CI sees the same ones.
"""

from __future__ import annotations

import faulthandler
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ibl_xvideo
from ibl_xvideo.engine.decode import DamagedFramesWarning, clear_caches
from ibl_xvideo.errors import XVideoError

from .cases import failure, record

pytestmark = pytest.mark.reliability

CASES = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))
_names = itertools.count()


@pytest.fixture(scope="module")
def source(videos):
    return videos["bframes"].read_bytes()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("mutations")


def _sequential(path) -> dict:
    """pts -> grey frame, decoding in order with PyAV until the end or the first error."""
    import av

    out = {}
    try:
        with av.open(str(path)) as c:
            for frame in c.decode(c.streams.video[0]):
                if frame.pts is not None:
                    out[frame.pts] = frame.to_ndarray(format="gray")
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        pass
    return out


def _check(kind: str, case: str, data: bytes, workdir) -> None:
    path = workdir / f"case{next(_names)}.mp4"
    path.write_bytes(data)
    clear_caches()
    faulthandler.dump_traceback_later(120, exit=True)  # a hang ends the run, loudly
    try:
        observed, ok = _read(path)
    finally:
        faulthandler.cancel_dump_traceback_later()
    record(kind, case, "exact frames or a typed error", observed, ok)
    assert ok, f"{kind} {case}: {observed}"


def _read(path) -> tuple[str, bool]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cam = ibl_xvideo.open_camera(path, pixels="luma", timestamps=False)
            n = cam.sizes["time"]
            whole = cam.values
            picks = np.random.default_rng(0).permutation(n)[: min(n, 25)]
            scattered = ibl_xvideo.open_camera(path, pixels="luma", timestamps=False, chunks=None).isel(
                time=picks).values
    except Exception as exc:  # noqa: BLE001 - typed or not, the table says which
        return failure(exc), isinstance(exc, XVideoError)
    concealed = set().union(*(w.message.frames for w in caught if issubclass(w.category, DamagedFramesWarning)))
    ref = _sequential(path)
    pts = ibl_xvideo.get_index(path).frame_pts
    for frames, numbers in ((whole, range(n)), (scattered, picks)):
        for frame, i in zip(frames, numbers):
            if int(i) in concealed:
                continue
            expect = ref.get(int(pts[i]))
            if expect is None or not np.array_equal(frame, expect):
                return f"wrong frame: {i} ({'absent from' if expect is None else 'differs from'} the " \
                       "sequential decode)", False
    return ("exact frames" + (f", {len(concealed)} named as concealed" if concealed else "")), True


@CASES
@given(cut=st.floats(0.0, 0.999))
def test_truncated(source, workdir, cut):
    at = int(len(source) * cut)
    _check("truncation", f"at byte {at} of {len(source)}", source[:at], workdir)


@CASES
@given(flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(1, 255)), min_size=1, max_size=8))
def test_bit_flips(source, workdir, flips):
    data = bytearray(source)
    where = []
    for pos, mask in flips:
        o = int(len(data) * pos)
        data[o] ^= mask
        where.append(f"{o}^{mask:#x}")
    _check("bit flips", " ".join(where), bytes(data), workdir)


TABLES = (b"stts", b"ctts", b"stss", b"stsc", b"stsz", b"stco")


@CASES
@given(table=st.sampled_from(TABLES), entry=st.floats(0.0, 0.999), value=st.integers(0, 2**32 - 1))
def test_sample_table_entry_overwritten(source, workdir, table, entry, value):
    at = source.find(table)
    if at < 0:
        return  # this video has no such table
    size = int.from_bytes(source[at - 4:at], "big")
    first, end = at + 12, at - 4 + size  # after the version/flags and the entry count
    o = first + 4 * int((end - first) // 4 * entry)
    data = bytearray(source)
    data[o:o + 4] = value.to_bytes(4, "big")
    _check("sample table", f"{table.decode()} word at byte {o} := {value}", bytes(data), workdir)
