"""``batch_qc``: the camera QC of many sessions on a Dask cluster, into a resumable Parquet table.

Every (session, camera) is one independent task on a ``dask.distributed`` cluster (a
local one by default). Each finished task is a row of the table (see
:data:`COLUMNS`); the table is rewritten to its Parquet file as rows arrive, so a
batch that is stopped keeps what it did, and a rerun skips the rows already there. A
session that fails (a missing or corrupt video, an unknown eid, a worker that died on
it every time) is a row with its error's type and message, not the end of the batch.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from pathlib import Path

from ..errors import InvalidLabelError, InvalidOptionError, XVideoError
from ..io.fileio import written
from ..io.remote import redact, redact_text
from ..io.sources import VIDEO_LABELS, is_eid, label_from_path, session_labels
from .run import CHECK_NAMES, camera_qc, check_qc_options

__all__ = ["batch_qc", "COLUMNS"]

#: The batch table: one row per (source, label). Check columns hold the outcome's name
#: (``PASS``, ``WARNING``, ``FAIL``, ``CRITICAL``, ``NOT_SET``); ``metrics`` and
#: ``reasons`` are JSON objects keyed by check name (ibllib's values, and why each
#: check that is not a PASS is what it is).
COLUMNS = {
    "source": "the session (eid or path) or video as given",
    "eid": "the session's eid, when known",
    "label": "the camera ('left', 'right', 'body', 'belly')",
    "outcome": "the overall QC outcome; empty when the task failed",
    **{check: f"the {check} check's outcome" for check in CHECK_NAMES},
    "metrics": "JSON: each check's ibllib value (an outcome, or [outcome, values...])",
    "reasons": "JSON: why each check that is not a PASS is what it is",
    "samples": "how the sample frames were picked ('exact' or 'keyframes')",
    "n_samples": "how many sample frames",
    "frames": "frames in the video (empty when the task failed before reading it)",
    "seconds": "wall-clock seconds of the task on its worker",
    "bytes_read": "bytes fetched over HTTP for this camera; empty for a local video (not measured)",
    "error_type": "the error's type when the task failed (e.g. VideoNotFoundError), else empty",
    "error": "the error's message when the task failed, else empty",
    "worker": "the Dask worker that ran the task",
    "finished": "when the task finished (UTC)",
}


def _row(source: str, label: str | None, **values) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(source=redact(source), label=label or "", **values)  # a URL's password never reaches the table
    return row


def _error_row(source: str, label: str | None, exc: BaseException, **values) -> dict:
    return _row(source, label, error_type=type(exc).__name__, error=redact_text(str(exc) or repr(exc)),
                finished=_now(), **values)


def _now():
    import pandas as pd

    return pd.Timestamp.now(tz="UTC")


def _qc_task(source: str, label: str | None, one, qc_kwargs: dict) -> dict:
    """One (session, camera) of a batch, on a worker: its row (an error row if it fails)."""
    worker = ""
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        pass
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # what the warnings say is in the row's reasons
            res = camera_qc(source, label, one=one, progress=False, **qc_kwargs)
    except Exception as exc:  # noqa: BLE001 - a batch records every failure as its row
        return _error_row(source, label, exc, seconds=time.perf_counter() - t0, worker=worker,
                          samples=qc_kwargs["samples"], n_samples=qc_kwargs["n_samples"])
    d = res.to_dict()
    prefix = f"_video{res.label.capitalize()}_"
    metrics, reasons = ({k.removeprefix(prefix): v for k, v in d[key].items()} for key in ("metrics", "reasons"))
    return _row(
        source, res.label, eid=res.eid or "", outcome=d["outcome"],
        **{check: _outcome_name(metrics.get(check)) for check in CHECK_NAMES},
        metrics=json.dumps(metrics), reasons=redact_text(json.dumps(reasons)),
        samples=d["samples"], n_samples=qc_kwargs["n_samples"], frames=res.measures.attrs.get("frames"),
        seconds=time.perf_counter() - t0, bytes_read=res.measures.attrs.get("bytes_read"),  # camera_qc counts them
        worker=worker, finished=_now())


def _outcome_name(value) -> str | None:
    if value is None:
        return None
    return value[0] if isinstance(value, list) else value


def _tasks(sources, labels, one) -> tuple[list[tuple[str, str | None]], list[dict]]:
    """The (source, label) pairs of a batch, and the error rows of sessions whose cameras cannot be listed."""
    pairs, errors = [], []
    for source in dict.fromkeys(str(s) for s in sources):  # a source listed twice is checked once
        if "://" in source or Path(source).suffix == ".mp4":  # one video: its label from its name
            pairs.append((source, label_from_path(source)))
            continue
        if labels is not None:
            pairs += [(source, lb) for lb in labels]
            continue
        try:
            found = session_labels(source, one=one)
        except Exception as exc:  # noqa: BLE001 - recorded as the session's row
            errors.append(_error_row(source, None, exc))
            continue
        if not found:
            where = "ONE's cache" if is_eid(source) else source
            errors.append(_error_row(source, None, XVideoError(
                f"No camera video in {where} for session {source}: nothing to check.")))
        pairs += [(source, lb) for lb in found]
    unique = list({(redact(s), lb): (s, lb) for s, lb in reversed(pairs)}.values())[::-1]  # first kept
    return unique, errors


def _read_table(out: Path):
    import pandas as pd

    if out is None or not out.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    try:
        table = pd.read_parquet(out)
    except Exception as exc:
        raise XVideoError(f"{out} exists but is not a batch table Parquet can read ({exc}); "
                          "pick another -o path or remove it.") from exc
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise XVideoError(f"{out} is not a batch_qc table (no columns {sorted(missing)}); "
                          "pick another -o path or remove it.")
    return table


def _write_table(rows: list[dict], out: Path):
    """The rows as a DataFrame, written atomically to ``out`` (when given)."""
    import pandas as pd

    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("frames", "n_samples", "bytes_read"):
        table[col] = pd.array(table[col].astype("Float64").round(), dtype="Int64")
    table["seconds"] = table["seconds"].astype("float64")
    table["finished"] = pd.to_datetime(table["finished"], utc=True)
    for col in set(COLUMNS) - {"frames", "n_samples", "bytes_read", "seconds", "finished"}:
        table[col] = table[col].astype("string")
    if out is not None:
        with written(out) as tmp:  # whole or not at all; a failure is an OutputWriteError naming the table
            table.to_parquet(tmp, index=False)
    return table


def batch_qc(sources, labels=None, *, out=None, client=None, one=None, samples: str = "exact",
             n_samples: int = 100, retry_errors: bool = False, progress: bool = True, flush_seconds: float = 5.0,
             **qc_kwargs):
    """The camera QC of many sessions, each (session, camera) a task on a Dask cluster, as a table.

    Parameters
    ----------
    sources : iterable of str, UUID or PathLike
        Sessions (eids, with ``one``, or session folders) and single videos (paths or
        URLs of ``.mp4`` files).
    labels : sequence of str, optional
        The cameras of each session; default every camera a session has.
    out : str or PathLike, optional
        The Parquet file of the table. Rows already in it are skipped (a rerun does
        only what is left); the file is rewritten as rows arrive (at most every
        ``flush_seconds``) and at the end.
    client : distributed.Client, optional
        The cluster to run on; default a local cluster of one single-threaded worker
        process per core, closed at the end.
    one : one.api.One, optional
        For eids (pickled to the workers).
    samples, n_samples, **qc_kwargs
        As :func:`ibl_xvideo.qc.camera_qc` (``refs``, ``kind``, ``full``...).
    retry_errors : bool
        Also run again the rows of ``out`` that failed.
    progress : bool
        A progress bar over the tasks.

    Returns
    -------
    pandas.DataFrame
        One row per (source, label), the columns of :data:`COLUMNS`.

    Examples
    --------
    >>> table = batch_qc(eids, one=one, samples='keyframes', out='qc.parquet')  # doctest: +SKIP
    >>> table.groupby(['label', 'outcome']).size()  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    check_qc_options(n_samples=n_samples, samples=samples, kind=qc_kwargs.get("kind"),
                     full_measures=qc_kwargs.get("full_measures"))
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if not sources:
        raise InvalidOptionError("batch_qc needs at least one session or video: the list of sources is empty.")
    repeated = len(sources) - len(set(map(str, sources)))
    if repeated:
        warnings.warn(f"{repeated} source(s) listed more than once: each (session, camera) is checked once, one row "
                      "each.", stacklevel=2)
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(dict.fromkeys(labels))
        bad = [lb for lb in labels if lb not in VIDEO_LABELS]
        if bad:
            raise InvalidLabelError(f"labels must be among {VIDEO_LABELS}; got {bad}.")
    if "progress" in qc_kwargs or "cache" in qc_kwargs:
        raise InvalidOptionError("batch_qc runs camera_qc without progress bars or caches: do not pass "
                                 "progress= or cache= for its cameras.")
    out = None if out is None else Path(out)
    if out is not None and not out.resolve().parent.is_dir():
        raise InvalidOptionError(f"out={out}: the folder {out.resolve().parent} does not exist.")
    done_table = _read_table(out)
    rows = done_table.to_dict("records")
    if retry_errors:
        rows = [r for r in rows if not isinstance(r["error_type"], str)]
    done = {(redact(r["source"]), r["label"]) for r in rows}
    pairs, errors = _tasks(sources, labels, one)
    rows += [r for r in errors if (r["source"], r["label"]) not in done]
    todo = [(s, lb) for s, lb in pairs if (redact(s), lb or "") not in done]
    qc_kwargs = {**qc_kwargs, "samples": samples, "n_samples": n_samples}
    if not todo:
        return _write_table(rows, out)

    own = client is None
    if own:
        client = _local_client()
    try:
        rows = _run(client, todo, one, qc_kwargs, rows, out, progress, flush_seconds, tqdm)
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
    return _write_table(rows, out)


def _local_client():
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise XVideoError("batch_qc needs dask.distributed: pip install distributed") from exc
    cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None, host="127.0.0.1")
    return Client(cluster)


def _run(client, todo, one, qc_kwargs, rows, out, progress, flush_seconds, tqdm):
    from distributed import as_completed

    one_future = client.scatter(one, broadcast=True) if one is not None else None
    futures = {}
    for source, label in todo:
        f = client.submit(_qc_task, source, label, one_future, qc_kwargs, pure=False,
                          key=f"qc-{label or 'video'}-{uuid.uuid4().hex}")
        futures[f] = (source, label)
    last = time.monotonic()
    with tqdm(total=len(futures), desc="QC batch", unit="camera", disable=not progress) as bar:
        for f in as_completed(futures):
            source, label = futures[f]
            try:
                row = f.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the task killed its workers
                row = _error_row(source, label, exc, samples=qc_kwargs["samples"],
                                 n_samples=qc_kwargs["n_samples"])
            rows.append(row)
            f.release()
            bar.update()
            if out is not None and time.monotonic() - last >= flush_seconds:
                _write_table(rows, out)
                last = time.monotonic()
    return rows
