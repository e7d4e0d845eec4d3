"""Who waits for whom: a lock per collection instead of one for all data.

- Each namespace has a reentrant lock. A write command holds its collection's lock from
  reading its targets to journaling the result, so single-document writes are atomic and
  a collection's writes are applied (and journaled) one at a time.
- Reads hold no lock while they work: they take their collection's lock only to list the
  documents they will look at (stored documents are never changed in place, see store.py),
  so neither a long aggregation nor a point read waits for the other, and reads of one
  collection never wait for another collection's work.
- A command that holds one collection's lock while taking another's (a rename, an
  aggregation writing with `$out` or `$merge`) first takes `nesting`, so two of them can
  never wait for each other in a cycle.
- The `gate` is shared by every command that writes and taken exclusively by a checkpoint
  for the moment it captures the store and starts a new journal segment, so the snapshot
  and the journal split at a point where no write is half done.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class SharedLock:
    """Many holders in shared mode, or one in exclusive mode; a waiting exclusive request
    stops new shared holders, so a checkpoint is not starved by a stream of writes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive or self._waiting:
                self._cond.wait()
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                if not self._shared:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._exclusive or self._shared:
                self._cond.wait()
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class Locks:
    def __init__(self) -> None:
        self._by_ns: dict[str, threading.RLock] = {}
        self._registry = threading.Lock()
        self.nesting = threading.Lock()
        self.gate = SharedLock()

    def of(self, ns: str) -> threading.RLock:
        lock = self._by_ns.get(ns)
        if lock is None:
            with self._registry:
                lock = self._by_ns.setdefault(ns, threading.RLock())
        return lock
