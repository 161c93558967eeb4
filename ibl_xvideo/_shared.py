"""What the process shares between calls, each thing bounded: made here, and nowhere else.

- :data:`CACHE`: recently used bytes, by whoever keeps them (decoded frames for
  interactive access, 1 KiB blocks fetched over HTTP), under one byte limit:
  ``IBL_XVIDEO_CACHE_MB`` (default 384 MiB). Its keys start with their kind.
- :func:`run_each`: one thread pool (the cores, at least 4 threads) for the package's
  parallel reads (keyframe groups of a video, shard runs of a Zarr store); each call
  runs at most as many of its items at once as it asks for.
- :func:`thread_scratch`: each thread's reusable scratch arrays, at most
  :data:`SCRATCH_PER_THREAD` a thread (fresh memory costs a page fault a page).

The open decoders are the other bounded state (:mod:`ibl_xvideo.engine.decode`: four a
thread), with the HTTP connection pool and the ONE instances made for eids
(``docs/design.md`` lists them all). A forked child starts each afresh (its parent's
pool threads, decoders and connections are not its own).
"""

from __future__ import annotations

import collections
import os
import threading
from typing import Any, Callable

__all__ = ["ByteLRU", "CACHE", "run_each", "thread_scratch", "clear_scratch", "SCRATCH_PER_THREAD",
           "after_fork_in_child"]


class ByteLRU:
    """Least-recently-used mapping holding at most ``max_bytes`` (as ``size_of`` counts them)."""

    def __init__(self, max_bytes: int, size_of: Callable[[Any], int] = len):
        self.max_bytes = max_bytes
        self.size_of = size_of
        self.nbytes = 0
        self.data: collections.OrderedDict = collections.OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        """The value for ``key`` (now most recent), or None."""
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        """Keep ``value`` unless it alone exceeds the budget; evict the oldest to fit."""
        size = self.size_of(value)
        if size > self.max_bytes:
            return
        with self.lock:
            if key in self.data:
                return
            self.data[key] = value
            self.nbytes += size
            while self.nbytes > self.max_bytes and self.data:
                _, old = self.data.popitem(last=False)
                self.nbytes -= self.size_of(old)

    def clear(self) -> None:
        """Forget everything."""
        with self.lock:
            self.data.clear()
            self.nbytes = 0


def _nbytes(value) -> int:
    """Bytes of a cached value: ``bytes``, an array, or a tuple whose last item is one."""
    if isinstance(value, tuple):
        value = value[-1]
    return value.nbytes if hasattr(value, "nbytes") else len(value)


#: The process's one byte cache (see the module's docstring).
CACHE = ByteLRU(int(float(os.environ.get("IBL_XVIDEO_CACHE_MB", "384")) * 2**20), size_of=_nbytes)

_POOL = None
_POOL_LOCK = threading.Lock()


def _pool():
    global _POOL
    with _POOL_LOCK:  # two first callers at once must not make two pools
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=max(os.cpu_count() or 2, 4), thread_name_prefix="ibl_xvideo")
        return _POOL


def run_each(fn: Callable[[Any], Any], items, limit: int) -> list:
    """``[fn(item) for item in items]``, at most ``limit`` at once on the shared pool, items taken in order.

    The first failure is raised once the running items end; no item starts after it (nor
    after an interrupt of the waiting thread). ``fn`` must not call :func:`run_each` itself:
    the pool's threads would wait on each other.
    """
    items = list(items)
    if limit <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    out: list = [None] * len(items)
    lock, state = threading.Lock(), {"next": 0, "failed": False}

    def lane():
        while True:
            with lock:
                i = state["next"]
                if i >= len(items) or state["failed"]:
                    return
                state["next"] = i + 1
            try:
                out[i] = fn(items[i])
            except BaseException:
                state["failed"] = True
                raise

    lanes = [_pool().submit(lane) for _ in range(min(limit, len(items)))]
    try:
        for fut in lanes:
            fut.exception()  # wait for every lane: none still runs when this returns or raises
    finally:
        state["failed"] = True  # (done, or interrupted: no lane takes another item)
    for fut in lanes:
        fut.result()
    return out


#: Scratch arrays a thread keeps (more: it starts over).
SCRATCH_PER_THREAD = 64
_scratch = threading.local()


def thread_scratch(key, make: Callable[[], Any], fits: Callable[[Any], bool] | None = None):
    """The calling thread's scratch object ``key`` (while ``fits(it)``, if given), else a new ``make()`` kept.

    Valid until the thread's next call for the same key.
    """
    bufs = getattr(_scratch, "bufs", None)
    if bufs is None:
        bufs = _scratch.bufs = {}
    found = bufs.get(key)
    if found is None or (fits is not None and not fits(found)):
        if len(bufs) >= SCRATCH_PER_THREAD:
            bufs.clear()
        found = bufs[key] = make()
    return found


def clear_scratch() -> None:
    """Free the calling thread's scratch arrays (a long-lived worker thread need not keep a shard's memory)."""
    getattr(_scratch, "bufs", {}).clear()


def after_fork_in_child(reset: Callable[[], None]) -> None:
    """Call ``reset()`` in every forked child of this process (where ``fork()`` exists: not on Windows).

    A child has its parent's memory but not its other threads: whatever those threads
    held (a pool's workers, open decoders, connections, locks) must start afresh there.
    """
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=reset)


def _reset_in_child() -> None:
    # the parent's pool threads do not exist in the child (its pool would never run a task); a lock
    # another thread held at the fork would never be released
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()
    CACHE.lock = threading.Lock()


after_fork_in_child(_reset_in_child)
