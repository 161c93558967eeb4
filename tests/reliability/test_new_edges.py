"""The newer features' edges, tried as an adversary would: each case ends in exact data or a typed error.

A file overwritten under an open decoder, object keys that a client would resolve to
another object, a password in a batch source, repeated batch sources, and pose tables
that are incomplete, too long or not tables at all. Every case joins the reliability
table printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.errors import InvalidOptionError, PoseTableError, SourceChangedError, TimestampsMismatchError
from ibl_xvideo.pose import load_pose

from .cases import failure, record

pytestmark = pytest.mark.reliability


def _expect(kind: str, case: str, error, fn) -> None:
    """Record and assert that ``fn()`` raises ``error`` (a typed error), nothing else."""
    try:
        fn()
    except error as exc:
        observed, ok = f"typed error: {type(exc).__name__}", True
    except Exception as exc:  # noqa: BLE001 - the table says what it was
        observed, ok = failure(exc), False
    else:
        observed, ok = "no error", False
    record(kind, case, f"typed error: {error.__name__}", observed, ok)
    assert ok, f"{kind} {case}: {observed}"


def test_a_file_overwritten_under_an_open_decoder_is_refused(videos, tmp_path):
    path = tmp_path / "v.mp4"
    shutil.copy(videos["bframes"], path)
    cam = ibl_xvideo.open_camera(path, timestamps=False)
    first = cam.isel(time=[5, 6]).values  # a decoder of this thread now stays open on the file
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat") + 4096  # same size, same tables: other frame bytes
    data[mdat:mdat + 2048] = bytes(255 - b for b in data[mdat:mdat + 2048])
    st = os.stat(path)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    _expect("new edges", "file overwritten in place, read by an open decoder", SourceChangedError,
            lambda: cam.isel(time=[5, 6]).values)
    assert first.shape == (2, 256, 320)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/pub/../other/private.mp4", "http://127.0.0.1:9/pub//x.mp4",
                                 "http://127.0.0.1:9/pub/%2e%2e/other/x.mp4", "s3://pub/../other/private.mp4"])
def test_paths_a_client_would_resolve_elsewhere_are_refused(url):
    _expect("new edges", f"dot segments in {url.split(':')[0]} path", InvalidOptionError,
            lambda: ibl_xvideo.open_camera(url, "body", timestamps=False, storage_options={"anon": True}
                                           if url.startswith("s3") else None))


def _pose_table(path, n=300, points=("nose", "paw"), drop=(), text=None):
    import pandas as pd

    cols = {}
    for p in points:
        for c in ("x", "y", "likelihood"):
            cols[f"{p}_{c}"] = np.full(n, 0.95 if c == "likelihood" else 10.0)
    for c in drop:
        cols.pop(c)
    table = pd.DataFrame(cols)
    if text is not None:
        table[text] = table[text].astype(str)  # a column of text, one cell not a number
        table.loc[3, text] = "abc"
    table.to_parquet(path)
    return path


@pytest.mark.parametrize("case", ["no likelihood", "no y", "301 rows", "400 rows", "not a table", "empty file",
                                  "a word in a cell", "no rows"])
def test_pose_tables_are_validated_on_load(case, videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["bframes"], "body", timestamps=False)  # 300 frames
    path = tmp_path / "_ibl_bodyCamera.dlc.pqt"
    error = PoseTableError
    if case == "no likelihood":
        _pose_table(path, drop=("paw_likelihood",))
    elif case == "no y":
        _pose_table(path, drop=("nose_y",))
    elif case in ("301 rows", "400 rows"):
        _pose_table(path, n=int(case.split()[0]))
        error = TimestampsMismatchError
    elif case == "not a table":
        path.write_text("scorer,bodyparts\n")
    elif case == "empty file":
        path.write_bytes(b"")
    elif case == "a word in a cell":
        _pose_table(path, text="nose_x")
    else:
        _pose_table(path, n=0)
    _expect("pose table", case, error, lambda: load_pose(path, "body", camera=cam))
    if error is PoseTableError:
        with pytest.raises(PoseTableError, match=str(path.name)):
            load_pose(path, "body", camera=cam)


def test_dlcs_own_header_is_read_as_ibls_columns(videos, tmp_path):
    import pandas as pd

    n = 300
    columns = pd.MultiIndex.from_product([["DLC_resnet50"], ["nose", "paw"], ["x", "y", "likelihood"]],
                                         names=["scorer", "bodyparts", "coords"])
    values = np.tile(np.array([1.0, 2.0, 0.5, 3.0, 4.0, 0.99]), (n, 1))
    pd.DataFrame(values, columns=columns).to_parquet(tmp_path / "dlc.pqt")
    pose = load_pose(tmp_path / "dlc.pqt", "body",
                     camera=ibl_xvideo.open_camera(videos["bframes"], "body", timestamps=False))
    assert list(pose.keypoints.values) == ["nose", "paw"]
    assert pose.position.sel(keypoints="paw").values[0].tolist() == [3.0, 4.0]
    assert pose.likelihood.sel(keypoints="nose").values[0] == 0.5
    record("pose table", "DLC's three-level header", "read", "read", True)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_only_regular_files_are_opened(kind, tmp_path):
    import faulthandler

    path = tmp_path / "_iblrig_bodyCamera.raw.mp4"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = "/dev/zero"
    faulthandler.dump_traceback_later(60, exit=True)  # a hang ends the run, loudly
    try:
        _expect("new edges", f"a {kind} named like a video", ibl_xvideo.errors.CorruptVideoError,
                lambda: ibl_xvideo.open_camera(path, "body", timestamps=False))
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("window, times", [((-np.inf, 1), [1.0]), ((1, 2, 3), [1.0]), ((2, 1), [1.0]),
                                           ((-1e9, 1e9), [1.0]), ((-3600, 3600), [1.0]), ("ab", [1.0]),
                                           ((-1, 1), ["abc", "105"])])
def test_peri_event_windows_and_times_are_checked(window, times, videos):
    cam = ibl_xvideo.open_camera(videos["bframes"], timestamps=False)
    _expect("peri-event", f"window {window!r:.20}, times {times!r:.20}", InvalidOptionError,
            lambda: ibl_xvideo.peri_event(cam, times, window))


def test_a_long_window_is_chunked_along_its_lags(videos, monkeypatch):
    """A chunk of one event's window would be its every frame: long windows are cut along the lags too."""
    import ibl_xvideo.events as events

    cam = ibl_xvideo.open_camera(videos["bframes"], timestamps=False)
    whole = ibl_xvideo.peri_event(ibl_xvideo.open_camera(videos["bframes"], timestamps=False, chunks=None),
                                  [3.0, 6.0], (-2, 2))
    monkeypatch.setattr(events, "CHUNK_BYTES", 256 * 320 * 10)  # ten frames a chunk
    stack = ibl_xvideo.peri_event(cam, [3.0, 6.0], (-2, 2))
    assert max(stack.data.chunks[1]) <= 10 and stack.data.chunksize[0] == 1
    assert np.array_equal(stack.isel(lag=[5, 100]).values, whole.isel(lag=[5, 100]).values)
    assert np.array_equal(stack.values, whole.values)


@pytest.mark.parametrize("target", ["missing folder", "read-only file system", "full disk"])
def test_every_file_the_package_writes_is_whole_or_a_typed_error(target, videos, tmp_path, small_tmpfs, capsys):
    """A clip and its times, a figure, the CLI's frame: written under temporary names and moved into place;
    a failure names the file, leaves nothing behind, and the CLI prints one line."""
    from ibl_xvideo.cli import main
    from ibl_xvideo.errors import OutputWriteError

    folder = (tmp_path / "nowhere" if target == "missing folder"
              else small_tmpfs("ro" if target.startswith("read-only") else "full", 48 << 10))
    cam = ibl_xvideo.open_camera(videos["bframes"], "body", timestamps=False)
    _expect("writes", f"clip into a {target}", OutputWriteError,
            lambda: cam.isel(time=slice(0, 60)).video.to_mp4(folder / "clip.mp4", progress=False, crf=0))
    _expect("writes", f"figure into a {target}", OutputWriteError,
            lambda: cam.video.plot(1.0, out=folder / "f.png"))
    code = main(["frame", str(videos["bframes"]), "body", "--index", "3", "-o", str(folder / "f.png")])
    err = capsys.readouterr().err.strip().splitlines()
    if target != "full disk":  # a 48 KiB disk holds one frame's PNG
        assert code == 2 and len(err) == 1 and "f.png" in err[0] and "Traceback" not in err[0], err
    if folder.exists():
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
        assert not (folder / "clip.mp4").exists() and not (folder / "clip.times.npy").exists()


def test_a_clip_and_its_times_appear_together(videos, tmp_path):
    cam = ibl_xvideo.open_camera(videos["bframes"], "body", timestamps=False)
    out = cam.isel(time=slice(0, 12)).video.to_mp4(tmp_path / "clip.mp4", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip.times.npy"]
    assert np.load(tmp_path / "clip.times.npy").size == 12 and out.stat().st_size > 0


def test_no_secret_reaches_any_output(videos, tmp_path, capsys):
    """A camera streamed with a password in its URL: every file written from it (a Zarr export, a clip and its
    times, a figure, the QC's JSON and report figure, the CLI's output) holds no byte of the password."""
    import importlib.util
    import json

    from ibl_xvideo.cli import main

    from ..httpserver import PASSWORD, FileServer

    root = tmp_path / "served"
    root.mkdir()
    shutil.copy(videos["bframes"], root / "_iblrig_bodyCamera.raw.mp4")
    srv = FileServer(root)
    out = tmp_path / "out"
    out.mkdir()
    try:
        url = srv.url("_iblrig_bodyCamera.raw.mp4", area="private", auth=True)
        assert PASSWORD in url
        cam = ibl_xvideo.open_camera(url, timestamps=False)
        cam.isel(time=slice(0, 10)).video.to_mp4(out / "clip.mp4", progress=False)
        cam.video.plot(1.0, out=out / "frame.png")
        res = ibl_xvideo.qc.camera_qc(url, "body", n_samples=5, progress=False)
        (out / "qc.json").write_text(json.dumps(res.to_dict()))
        res.plot(out / "qc.png")
        assert main(["qc", url, "body", "--json", "--n-samples", "5"]) == 0
        assert main(["meta", url, "body"]) == 0
        if importlib.util.find_spec("zarr") is not None:  # zarr-python 3: Python >= 3.11
            cam.isel(time=slice(0, 30)).video.to_zarr(out / "s.zarr", progress=False)
    finally:
        srv.close()
    printed = capsys.readouterr()
    leaks = [str(p) for p in out.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]
    leaks += ["stdout"] * (PASSWORD in printed.out) + ["stderr"] * (PASSWORD in printed.err)
    leaks += [f"attrs[{k!r}]" for k, v in cam.attrs.items() if PASSWORD in str(v)]
    record("secrets", "a password in a camera's URL, in every output", "none", ", ".join(leaks) or "none",
           not leaks)
    assert not leaks, leaks
