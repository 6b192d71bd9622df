"""One lock per namespace, shared by every process that opens the data directory.

Index files are written by whichever process changes the namespace; a lock file
(`locks/<namespace>.lock`, flock) keeps two processes from rebuilding or saving
them at once, and keeps a reader from loading a half-replaced set. The lock is
re-entrant within a process (a thread lock in front of it, and a depth count, so
an inner release does not free the file lock the outer holder still needs).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class NamespaceLocks:
    """`with locks.hold(namespace):` — exclusive across threads and processes, re-entrant in one thread."""

    def __init__(self, directory: Path | None):
        self.directory = directory  # None: in-process only (an in-memory store has no files to guard)
        self._guard = threading.Lock()
        self._locks: dict[str, _Lock] = {}

    @contextmanager
    def hold(self, namespace: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(namespace, _Lock(self._path(namespace)))
        with lock:
            yield

    def _path(self, namespace: str) -> Path | None:
        if self.directory is None:
            return None
        from hyperloom.retrieval.index import safe_name

        return self.directory / f"{safe_name(namespace)}.lock"


class _Lock:
    def __init__(self, path: Path | None):
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread.acquire()
        if self._depth == 0 and self.path is not None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                self._thread.release()
                raise
            self._fd = fd
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
        self._thread.release()
