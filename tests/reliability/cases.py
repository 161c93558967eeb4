"""The reliability suite's record: every case tried, shown as a table at the end of the run (tests/conftest.py)."""

from __future__ import annotations

import collections
import re

from ibl_xvideo.errors import XVideoError

#: (kind, case, expected, observed, verdict) of every case tried in this run
CASES: list[tuple[str, str, str, str, str]] = []


def record(kind: str, case: str, expected: str, observed: str, ok: bool) -> None:
    CASES.append((kind, case, expected, observed, "ok" if ok else "WRONG"))


def failure(exc: BaseException) -> str:
    """What an exception counts as: a typed error (an ``XVideoError``), or what the suite exists to catch."""
    if isinstance(exc, XVideoError):
        return f"typed error: {type(exc).__name__}"
    return f"untyped error: {type(exc).__name__}: {exc}"


def summary(terminalreporter) -> None:
    """Write the table of the cases tried (for ``pytest_terminal_summary``)."""
    if not CASES:
        return
    tr = terminalreporter
    tr.section("reliability cases")
    by_kind = collections.defaultdict(collections.Counter)
    alone = collections.Counter(c[0] for c in CASES)
    for kind, _, _, observed, verdict in CASES:  # many cases of a kind: counted by outcome
        label = observed if alone[kind] == 1 or kind == "environment" else re.sub(
            r"\d+", "N", observed.split(":")[0])
        by_kind[kind][(label, verdict)] += 1
    rows = [("kind", "cases", "observed", "verdict")]
    for kind, counts in sorted(by_kind.items()):
        for (observed, verdict), n in sorted(counts.items()):
            rows.append((kind, str(n), observed, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        tr.write_line("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    wrong = [c for c in CASES if c[4] != "ok"]
    tr.write_line(f"{len(CASES)} cases tried, {len(CASES) - len(wrong)} as expected, {len(wrong)} not")
    for kind, case, expected, observed, _ in wrong:
        tr.write_line(f"WRONG {kind} {case}: expected {expected}, observed {observed}")
