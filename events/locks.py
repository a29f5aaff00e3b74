"""SQLite: registrations take turns on an operating-system file lock.

SQLite's own busy handler sleeps in growing steps (up to 100 ms) while another connection holds
the write lock, so under a burst the lock sits free while writers sleep; a kernel lock (flock)
hands the turn to the next writer at once. On PostgreSQL the training's row lock queues writers
itself and this is a no-op. It keeps no rule: the seat rule is in services.py, under the
training's lock, whichever database runs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from django.db import connection

try:
    import fcntl
except ImportError:  # not on Linux: SQLite's own busy-wait still keeps the rules
    fcntl = None  # type: ignore[assignment]


_turn: tuple[int, str, int] | None = None  # (pid, path, fd): a forked child opens its own


@contextlib.contextmanager
def registration_turn() -> Iterator[None]:
    """One registration writes at a time on SQLite. Inside a transaction that is already open
    the connection may hold SQLite's write lock, so no turn is taken there (waiting for one
    could deadlock against a writer waiting for that lock)."""
    fd = _turn_fd()
    if fd is None or connection.in_atomic_block:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _turn_fd() -> int | None:
    global _turn
    name = str(connection.settings_dict["NAME"])
    if fcntl is None or connection.vendor != "sqlite" or "memory" in name or not name:
        return None
    path = f"{name}-registrations.lock"
    if _turn is None or _turn[0] != os.getpid() or _turn[1] != path:
        if _turn is not None and _turn[0] == os.getpid():
            os.close(_turn[2])
        _turn = (os.getpid(), path, os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    return _turn[2]
