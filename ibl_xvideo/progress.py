"""One progress bar for long Dask computations on cameras, in the style of every other bar here (tqdm).

On the local schedulers the bar is fed by Dask's callbacks; under a ``dask.distributed``
client (where no callback runs in this process) by a scheduler plugin counting the
tasks the block's computations make and those done, read every half second.
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["progress"]


@contextlib.contextmanager
def progress(desc: str = "computing", *, disable: bool = False):
    """Show a tqdm progress bar for the Dask computations run inside the block.

    The bar counts Dask tasks (for a camera: chunks of frames), on the local
    schedulers and on a ``dask.distributed`` cluster alike.

    Parameters
    ----------
    desc : str
        The bar's label.
    disable : bool
        No bar (for scripts that print JSON, for example).

    Examples
    --------
    >>> with ibl_xvideo.progress("brightness"):  # doctest: +SKIP
    ...     brightness = cam.mean(("y", "x")).compute()
    """
    client = _distributed_client()
    if client is None:
        from tqdm.dask import TqdmCallback

        with TqdmCallback(desc=desc, unit="task", disable=disable):
            yield
        return
    with _SchedulerBar(client, desc, disable):
        yield


def _distributed_client():
    """The ``dask.distributed`` client Dask computes on now, or None (a local scheduler)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return None
    try:
        return default_client()
    except ValueError:  # no client: the local schedulers
        return None


_PLUGIN = "ibl_xvideo-progress"


def _task_counter():
    """A scheduler plugin counting the tasks it sees and those done, from its registration on (made on first use)."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    class TaskCounter(SchedulerPlugin):
        name = _PLUGIN

        def __init__(self):
            self.seen, self.done = set(), set()

        def transition(self, key, start, finish, *args, **kwargs):
            self.seen.add(key)
            if finish in ("memory", "erred"):
                self.done.add(key)

    return TaskCounter()


def _task_counts(dask_scheduler) -> tuple[int, int]:
    """(tasks, tasks done) since the counter was registered (run on the scheduler)."""
    plugin = dask_scheduler.plugins.get(_PLUGIN)
    return (len(plugin.seen), len(plugin.done)) if plugin is not None else (0, 0)


class _SchedulerBar:
    """A tqdm bar of the tasks a distributed scheduler runs while the block runs (polled in a thread)."""

    INTERVAL = 0.5

    def __init__(self, client, desc: str, disable: bool):
        self.client, self.desc, self.disable = client, desc, disable
        self.stop = threading.Event()

    def _counts(self) -> tuple[int, int]:
        return tuple(self.client.run_on_scheduler(_task_counts))

    def __enter__(self):
        from tqdm.auto import tqdm

        self.client.register_plugin(_task_counter(), name=_PLUGIN)
        self.bar = tqdm(total=0, desc=self.desc, unit="task", disable=self.disable)
        self.thread = threading.Thread(target=self._poll, name="ibl_xvideo-progress", daemon=True)
        self.thread.start()
        return self

    def _update(self) -> None:
        total, done = self._counts()
        self.bar.total = max(total, self.bar.total or 0)
        self.bar.n = min(max(done, self.bar.n), self.bar.total)
        self.bar.refresh()

    def _poll(self) -> None:
        while not self.stop.wait(self.INTERVAL):
            try:
                self._update()
            except Exception:  # noqa: BLE001 - a closing client: the block's own result says what happened
                return

    def __exit__(self, kind, value, tb):
        self.stop.set()
        self.thread.join()
        try:
            self._update()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.client.unregister_scheduler_plugin(_PLUGIN)
        except Exception:  # noqa: BLE001 - a closed client
            pass
        self.bar.close()
        return False
