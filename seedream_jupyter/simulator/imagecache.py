"""A byte-bounded LRU cache of encoded images, drawn at most once per key at a time.

Images are drawn lazily on first download; concurrent downloads of the same image wait for one
drawing, and a semaphore bounds how many full-size images are drawn at once (a 4K RGB canvas is
~50 MB), so 200 concurrent tasks do not hog memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class ImageCache:
    def __init__(self, max_bytes: int, max_concurrent_draws: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._draws = threading.BoundedSemaphore(max(1, max_concurrent_draws))
        self.hits = 0
        self.misses = 0

    def _lookup(self, key: Hashable) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return data

    def get_or_create(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        data = self._lookup(key)
        if data is not None:
            return data
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            data = self._lookup(key)
            if data is not None:
                return data
            with self._draws:
                data = make()
            self._store(key, data)
        with self._lock:
            self._key_locks.pop(key, None)
        return data

    def _store(self, key: Hashable, data: bytes) -> None:
        with self._lock:
            self.misses += 1
            if len(data) > self.max_bytes:
                return
            self._items[key] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._size
