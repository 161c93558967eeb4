"""batch_qc and ``ibl-xvideo qc-batch`` on a real dask.distributed cluster, over generated sessions.

Twenty-three sessions: eighteen good ones, and five faulty ones (a truncated video, a
video that is not one, timestamps missing, timestamps one short, a folder that does
not exist). A worker is killed mid-batch; a rerun does no work.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ibl_xvideo import qc
from ibl_xvideo.cli import main
from ibl_xvideo.errors import InvalidOptionError

from .conftest import SESSION_EID, make_camera

pytestmark = pytest.mark.cluster

QC_KW = dict(n_samples=8, refs=False, kind="ephys")


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Session folders: good ones (a body camera each, two with a left camera too) and faulty ones."""
    root = tmp_path_factory.mktemp("batch")
    good = []
    for k in range(18):
        sp = root / f"lab/Subjects/mouse{k:02d}/2026-01-01/001"
        make_camera(sp, "body", 150, width=160, height=128, seed=k)
        if k < 2:
            make_camera(sp, "left", 120, width=160, height=128, fps=60, seed=k)
        good.append(sp)
    faulty = {}
    for name in ("truncated", "not_a_video", "no_times", "times_short"):
        sp = root / f"lab/Subjects/{name}/2026-01-01/001"
        video = make_camera(sp, "body", 150, width=160, height=128, seed=99)
        times = sp / "alf" / "_ibl_bodyCamera.times.npy"
        if name == "truncated":
            data = video.read_bytes()
            video.write_bytes(data[:len(data) // 3])
        elif name == "not_a_video":
            video.write_bytes(b"this is not an mp4 file" * 100)
        elif name == "no_times":
            times.unlink()
        else:
            np.save(times, np.load(times)[:-1])
        faulty[name] = sp
    faulty["missing"] = root / "lab/Subjects/nobody/2026-01-01/001"
    return good, faulty


def _read(out: Path) -> pd.DataFrame:
    """The table as it is now: its bytes read once (pyarrow opens a path twice, and the batch replaces the file
    as rows arrive, so a second open may see the next version)."""
    import io

    return pd.read_parquet(io.BytesIO(out.read_bytes()))


def _all(sessions):
    good, faulty = sessions
    return [str(s) for s in good + list(faulty.values())]


def test_batch_qc_table_on_a_cluster(sessions, client, tmp_path):
    good, faulty = sessions
    out = tmp_path / "qc.parquet"
    table = qc.batch_qc(_all(sessions), out=out, client=client, progress=False, **QC_KW)
    assert out.exists() and list(table.columns) == list(qc.batch.COLUMNS)
    assert len(table) == 18 + 2 + 5  # every camera of every session, and one row for the missing folder
    assert pd.read_parquet(out).shape == table.shape
    by = {(r.source, r.label): r for r in table.itertuples()}
    # a good camera's row is camera_qc's outcome, metrics and reasons
    direct = qc.camera_qc(str(good[3]), "body", progress=False, **QC_KW).to_dict()
    row = by[(str(good[3]), "body")]
    assert row.outcome == direct["outcome"] and pd.isna(row.error_type)
    assert json.loads(row.metrics) == {k.removeprefix("_videoBody_"): v for k, v in direct["metrics"].items()}
    assert json.loads(row.reasons) == {k.removeprefix("_videoBody_"): v for k, v in direct["reasons"].items()}
    assert row.resolution == "FAIL" and row.timestamps == "PASS"  # 160x128 where ephys expects 640x512
    assert row.frames == 150 and row.samples == "exact" and row.n_samples == 8 and row.seconds > 0
    assert pd.isna(row.bytes_read)  # a local video: not measured
    assert row.worker.startswith("tcp://127.0.0.1")
    assert {r.label for r in table.itertuples() if r.source == str(good[0])} == {"body", "left"}
    # the faulty sessions: typed errors, or the QC's own verdict
    assert by[(str(faulty["truncated"]), "body")].error_type == "CorruptVideoError"
    assert by[(str(faulty["not_a_video"]), "body")].error_type == "CorruptVideoError"
    assert by[(str(faulty["no_times"]), "body")].outcome == "NOT_SET"
    short = by[(str(faulty["times_short"]), "body")]
    assert short.timestamps == "FAIL" and short.outcome in ("FAIL", "CRITICAL") and pd.isna(short.error_type)
    missing = by[(str(faulty["missing"]), "")]
    assert missing.error_type == "XVideoError" and "No camera video" in missing.error
    assert table["error_type"].notna().sum() == 3

    # a rerun does no work: every row is there (a client that cannot run anything is never used)
    again = qc.batch_qc(_all(sessions), out=out, client=object(), progress=False, **QC_KW)
    pd.testing.assert_frame_equal(again, table)
    # with retry_errors, only the failed rows run again (and fail again, as they should)
    retried = qc.batch_qc(_all(sessions), out=out, client=client, progress=False, retry_errors=True, **QC_KW)
    assert len(retried) == len(table) and retried["error_type"].notna().sum() == 3
    kept = table[table.error_type.isna()].set_index(["source", "label"]).sort_index()
    np.testing.assert_array_equal(
        retried[retried.error_type.isna()].set_index(["source", "label"]).sort_index()["finished"], kept["finished"])


def test_a_worker_killed_mid_batch(sessions, client, tmp_path):
    """The tasks of a killed worker run again elsewhere; the table is whole, with no error rows."""
    good, _ = sessions
    out = tmp_path / "qc.parquet"
    sources = [str(s) for s in good]
    done = {}

    def run():
        done["table"] = qc.batch_qc(sources, labels=["body"], out=out, client=client, progress=False,
                                    flush_seconds=0, full=True, **QC_KW)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.exists() and len(_read(out)) >= 2):
        time.sleep(0.05)
    rows_at_kill = len(_read(out))
    victim, pid = sorted(client.run(os.getpid).items())[0]
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    table = done["table"]
    assert rows_at_kill < len(sources), "the batch ended before the worker was killed: the test proves nothing"
    assert len(table) == len(sources) and table["error_type"].isna().all()
    assert set(table["source"]) == set(sources) and (table["frames"] == 150).all()
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the next tests


def test_qc_batch_cli(sessions, client, tmp_path, capsys):
    good, faulty = sessions
    listing = tmp_path / "sessions.txt"
    listing.write_text("# two sessions\n" + f"{good[0]}\n{faulty['truncated']}  # a broken one\n")
    out = tmp_path / "cli.parquet"
    address = client.scheduler.address
    assert main(["qc-batch", str(listing), str(good[1]), "-o", str(out), "--scheduler", address,
                 "--n-samples", "8", "--no-refs", "--kind", "ephys", "--samples", "keyframes"]) == 0
    printed = capsys.readouterr().out
    table = pd.read_parquet(out)
    assert len(table) == 2 + 1 + 2 and set(table["samples"].dropna()) == {"keyframes"}  # body + left twice
    assert f"{len(table)} cameras -> {out}" in printed and "CorruptVideoError" in printed
    assert "body   FAIL" in printed  # the 160x128 videos fail the ephys resolution
    with pytest.raises(SystemExit, match="does not exist"):
        main(["qc-batch", str(good[0]), "-o", str(tmp_path / "nowhere" / "t.parquet")])


def test_batch_qc_by_eid_and_bad_options(one, client, tmp_path):
    table = qc.batch_qc([SESSION_EID, "00000000-0000-0000-0000-000000000000"], one=one, client=client,
                        progress=False, **QC_KW)
    assert sorted(table.loc[table.error_type.isna(), "label"]) == ["body", "left"]
    assert set(table.loc[table.error_type.isna(), "eid"]) == {SESSION_EID}
    assert list(table.loc[table.error_type.notna(), "error_type"]) == ["SessionNotFoundError"]
    with pytest.raises(qc.batch.InvalidLabelError, match="labels must be among"):
        qc.batch_qc([SESSION_EID], labels=["tail"], one=one)
    with pytest.raises(qc.batch.InvalidOptionError, match="samples"):
        qc.batch_qc([SESSION_EID], samples="some", one=one)
    bad = Path(tmp_path / "not_a_table.parquet")
    bad.write_text("hello")
    with pytest.raises(qc.batch.XVideoError, match="not a batch table"):
        qc.batch_qc([SESSION_EID], out=bad, one=one)


def test_keyframe_samples_agree_with_exact_samples(sessions, client):
    """Keyframe QC against exact QC on every camera of the batch, the faulty ones included: check by check."""
    from ibl_xvideo.qc.run import CHECK_NAMES

    exact = qc.batch_qc(_all(sessions), client=client, progress=False, **QC_KW)
    keyed = qc.batch_qc(_all(sessions), client=client, progress=False, samples="keyframes", **QC_KW)
    key = ["source", "label"]
    both = exact.merge(keyed, on=key, suffixes=("_exact", "_keyframes"))
    assert len(both) == len(exact) == 25 and set(both["samples_keyframes"].dropna()) == {"keyframes"}
    for col in ("outcome", "error_type", *CHECK_NAMES):
        a, b = both[f"{col}_exact"].fillna("-"), both[f"{col}_keyframes"].fillna("-")
        assert (a == b).all(), (col, both.loc[a != b, key].values.tolist())


def test_repeated_sources_give_one_row_each_and_an_empty_batch_is_refused(sessions, client, tmp_path):
    good, _ = sessions
    s1, s2 = str(good[0]), str(good[2])
    with pytest.warns(UserWarning, match="more than once"):
        table = qc.batch_qc([s1, s1, s2, s1], client=client, out=tmp_path / "t.parquet", progress=False, **QC_KW)
    assert sorted(zip(table.source, table.label)) == sorted([(s1, "body"), (s1, "left"), (s2, "body")])
    twice = qc.batch_qc([s2], labels=["body", "body"], client=client, progress=False, **QC_KW)
    assert list(zip(twice.source, twice.label)) == [(s2, "body")]
    with pytest.raises(InvalidOptionError, match="empty"):
        qc.batch_qc([], client=client, progress=False)


def test_no_password_reaches_the_batch_table(client, tmp_path):
    """A source URL with credentials: its row names the URL without them, in every column and byte."""
    url = "http://alice:Secr3tPW@127.0.0.1:9/lab/Subjects/m/2026-01-01/001/raw_video_data/_iblrig_bodyCamera.raw.mp4"
    out = tmp_path / "t.parquet"
    table = qc.batch_qc([url], client=client, out=out, progress=False, **QC_KW)
    assert len(table) == 1 and table.error_type[0]  # nothing listens on port 9: an error row
    assert table.source[0] == url.replace("alice:Secr3tPW@", "")
    assert b"Secr3tPW" not in out.read_bytes() and "Secr3tPW" not in table.to_csv()
    again = qc.batch_qc([url], client=client, out=out, progress=False, retry_errors=False, **QC_KW)
    assert len(again) == 1  # the row written without the password is the same source's row
