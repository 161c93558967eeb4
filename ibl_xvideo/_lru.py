"""A thread-safe LRU bounded by the bytes it holds."""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable


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
