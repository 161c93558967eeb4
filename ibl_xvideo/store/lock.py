"""One exporter at a time: an exclusive lock file beside a local store, stale locks taken over."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

from ..errors import StoreLockedError
from .layout import is_local

_log = logging.getLogger(__name__)


class StoreLock:
    """An exclusive lock on a local store: one exporter at a time, stale locks taken over."""

    def __init__(self, store):
        self.path = Path(store).with_name(Path(store).name + ".lock") if is_local(store) else None
        self.held = False

    def __enter__(self):
        if self.path is None:
            return self
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    other = json.loads(self.path.read_text() or "{}")
                except (OSError, ValueError):
                    other = {}
                if other.get("host") == me["host"] and not _alive(other.get("pid")):
                    _log.warning("Removing stale lock %s (pid %s is gone)", self.path, other.get("pid"))
                    self.path.unlink(missing_ok=True)
                    continue
                raise StoreLockedError(
                    f"{self.path.with_suffix('')} is being written by pid {other.get('pid')} on "
                    f"{other.get('host')}: wait for it to finish (or remove {self.path} if it died)."
                ) from None
            with os.fdopen(fd, "w") as fid:
                json.dump(me, fid)
            self.held = True
            return self
        raise StoreLockedError(f"Could not lock {self.path}: another exporter keeps taking it; try again.")

    def __exit__(self, *exc):
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
