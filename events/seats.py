"""The hot path of registration, written in SQL.

Taking a seat is the one write that many people make at once (a training opens, a mail goes
out, a hundred offices press the button). It happens while the training is locked, so the
time it holds the lock is the throughput of the whole system. Hence:

- the counts, the rules and the insert are one statement rather than four ORM queries (each of
  which costs more to compile than to run);
- on PostgreSQL the whole registration is one call of a function planned once per connection,
  so the lock is never held while a round trip to Python is under way;
- on SQLite, where the database's own busy-wait sleeps in steps of up to 100 ms, writers take
  turns on an operating-system file lock instead, which hands the turn over at once.

Anything unusual (registered already, a free seat owed to the waiting list, the training closed)
takes no seat here and writes nothing; services.py then sorts it out through the ORM, in a
transaction of its own that takes the training's lock again."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connection

try:
    import fcntl
except ImportError:  # not on Linux: SQLite's own busy-wait still keeps the rules
    fcntl = None  # type: ignore[assignment]


TRAINING = """
training AS (
    SELECT status, capacity, per_member_limit FROM events_training WHERE id = %(training)s
)"""
COUNTS = """
counts AS (
    SELECT
        (SELECT COUNT(*) FROM events_registration
          WHERE training_id = %(training)s AND status = 'confirmed') AS total,
        (SELECT COUNT(*) FROM events_registration
          WHERE training_id = %(training)s AND status = 'confirmed'
            AND member_id = %(member)s) AS mine,
        (SELECT COUNT(*) FROM events_registration
          WHERE training_id = %(training)s AND contact_id = %(contact)s
            AND status <> 'cancelled') AS already
)"""
SEAT_FREE = "total < training.capacity AND mine < training.per_member_limit"
INSERT_REGISTRATION = f"""
INSERT INTO events_registration (
    training_id, contact_id, member_id, status, registered_by_id, created_at, confirmed_at,
    cancelled_at, substituted_from_id, reminder_sent_at, attendance
)
SELECT
    %(training)s, %(contact)s, %(member)s,
    CASE WHEN {SEAT_FREE} THEN 'confirmed' ELSE 'waitlisted' END,
    %(by)s, %(now)s,
    CASE WHEN {SEAT_FREE} THEN %(now)s END,
    NULL, NULL, NULL, ''
FROM counts, training
WHERE training.status = 'published' AND already = 0 AND (
    -- A free seat while someone waits who could take it is owed to them first.
    total >= training.capacity
    OR NOT EXISTS (
        SELECT 1 FROM events_registration AS waiting
         WHERE waiting.training_id = %(training)s AND waiting.status = 'waitlisted'
           AND (SELECT COUNT(*) FROM events_registration AS seat
                 WHERE seat.training_id = %(training)s AND seat.status = 'confirmed'
                   AND seat.member_id = waiting.member_id) < training.per_member_limit
    )
)
RETURNING id, status, contact_id
"""
NOTICE_COLUMNS = """
    registration_id, contact_id, kind, status, subject, body, created_at, claimed_at, sent_at,
    attempts, error
"""
# PostgreSQL: a function, so that the server plans its statements once per connection and runs
# the whole registration in one call; in autocommit the call is its own transaction and the
# lock is never held while a round trip to Python is under way. Each statement in a PL/pgSQL
# function takes a fresh snapshot (READ COMMITTED), so the counts are read after the lock.
# The row lock is held until COMMIT returns, and a synchronous COMMIT waits for the WAL to reach
# the disk; committing asynchronously (opt-in, EVENTS_REGISTRATION_ASYNC_COMMIT) keeps every
# rule, and what a crash of the database server could lose is the last fraction of a second of
# registrations, as SQLite in WAL mode with synchronous=NORMAL can.
# Installed by migration 0005; a change here needs a migration that installs it again.
_FUNCTION_PARAMS = {
    "%(training)s": "p_training",
    "%(contact)s": "p_contact",
    "%(member)s": "p_member",
    "%(by)s": "p_by",
    "%(now)s": "p_now",
}
_TAKE_SEAT_BODY = f"""
WITH {TRAINING}, {COUNTS}, seat AS ({INSERT_REGISTRATION}), notice AS (
    INSERT INTO events_notice ({NOTICE_COLUMNS})
    SELECT id, contact_id, status, 'pending', '', '', %(now)s, NULL, NULL, 0, '' FROM seat
)
SELECT seat.id, seat.status INTO seat_id, seat_status FROM seat;"""
for _placeholder, _name in _FUNCTION_PARAMS.items():
    _TAKE_SEAT_BODY = _TAKE_SEAT_BODY.replace(_placeholder, _name)
TAKE_SEAT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION events_take_seat(
    p_training bigint, p_contact bigint, p_member bigint, p_by bigint, p_now timestamptz,
    p_async_commit boolean, OUT seat_id bigint, OUT seat_status text, OUT seat_place integer
) LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM 1 FROM events_training WHERE id = p_training FOR UPDATE;
    IF p_async_commit THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    {_TAKE_SEAT_BODY}
    IF seat_status = 'waitlisted' THEN  -- the place the page shows, without another call
        SELECT COUNT(*) INTO seat_place FROM events_registration
         WHERE training_id = p_training AND status = 'waitlisted' AND id <= seat_id;
    END IF;
END
$body$
"""
DROP_TAKE_SEAT_FUNCTION = (
    "DROP FUNCTION IF EXISTS events_take_seat(bigint, bigint, bigint, bigint, timestamptz, boolean)"
)
# SQLite: the registration; its notice follows in a second statement. Written in sqlite3's own
# parameter style: this path talks to the DB-API connection directly (see _take_seat_sqlite).
TAKE_SEAT_SQLITE = re.sub(
    r"%\((\w+)\)s", r":\1", f"WITH {TRAINING}, {COUNTS} {INSERT_REGISTRATION}"
)
INSERT_NOTICE_SQLITE = (
    f"INSERT INTO events_notice ({NOTICE_COLUMNS})"
    " VALUES (?, ?, ?, 'pending', '', '', ?, NULL, NULL, 0, '')"
)


Seat = tuple[int, str, int | None]  # registration id, status, waiting-list place if known


def take_seat(
    *, training_id: int, contact_id: int, member_id: int, by_id: int | None, now: dt.datetime
) -> Seat | None:
    """Insert the registration as confirmed or waitlisted, with the notice that tells the
    person, in a transaction of its own (or in the caller's, if one is open), and return its
    (id, status, waiting-list place when PostgreSQL counted it). None, and nothing written,
    when the training is not published, the person is registered already, or a free seat is
    owed to the waiting list first."""
    params: dict[str, Any] = {
        "training": training_id,
        "contact": contact_id,
        "member": member_id,
        "by": by_id,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    if connection.vendor == "postgresql":
        return _take_seat_postgresql(params)
    return _take_seat_sqlite(params)


def _take_seat_sqlite(params: dict[str, Any]) -> Seat | None:
    """Straight on the DB-API connection (Django keeps it in autocommit): the write lock is
    the whole system's throughput, and Django's atomic() and cursor wrappers would double the
    time it is held (measured: 0.26 ms raw against 0.48 ms)."""
    connection.ensure_connection()
    raw = connection.connection
    own_transaction = not connection.in_atomic_block
    with connection.wrap_database_errors, registration_turn():
        if own_transaction:
            raw.execute("BEGIN IMMEDIATE")
        try:
            row = raw.execute(TAKE_SEAT_SQLITE, params).fetchone()
            if row is not None:
                raw.execute(
                    INSERT_NOTICE_SQLITE, (row[0], params["contact"], row[1], params["now"])
                )
        except BaseException:
            if own_transaction and raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        if own_transaction:
            raw.execute("COMMIT")
    return None if row is None else (row[0], row[1], None)


def _take_seat_postgresql(params: dict[str, Any]) -> Seat | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seat_id, seat_status, seat_place FROM events_take_seat("
            "%(training)s, %(contact)s, %(member)s, %(by)s, %(now)s, %(async)s)",
            params | {"async": settings.EVENTS_REGISTRATION_ASYNC_COMMIT},
        )
        row = cursor.fetchone()
    return None if row is None or row[0] is None else (row[0], row[1], row[2])


def waitlist_place(training_id: int, registration_id: int) -> int:
    """1 for the head of the waiting list (rows are inserted under the training's lock, so the
    id is the arrival order)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) + 1 FROM events_registration"
            " WHERE training_id = %s AND status = 'waitlisted' AND id < %s",
            [training_id, registration_id],
        )
        return int(cursor.fetchone()[0])


# --- SQLite: writers take turns on a file lock -------------------------------------------------

_turn: tuple[int, str, int] | None = None  # (pid, path, fd): a forked child opens its own


@contextlib.contextmanager
def registration_turn() -> Iterator[None]:
    """On SQLite, one registration writes at a time, queued by the kernel (flock), so that
    waiting writers do not sleep through free moments in SQLite's busy handler. Inside a
    transaction that is already open the connection may hold SQLite's write lock, so no turn
    is taken there (waiting for one could deadlock against a writer waiting for that lock)."""
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
