"""The hot path of registration, written in SQL.

Taking a seat is the one write that many people make at once (a training opens, a mail goes
out, a hundred offices press the button). It happens while the training is locked, so the
time it holds the lock is the throughput of the whole system: the counts and the insert are one
statement here rather than four ORM queries (each of which costs more to compile than to run).
Anything unusual falls back to the ORM in services.py under the same lock."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection


def lock_training(training_id: int) -> tuple[str, int, int] | None:
    """Lock the training row (PostgreSQL; SQLite holds its write lock already) and read what a
    registration depends on: (status, capacity, per_member_limit)."""
    if connection.vendor != "postgresql":
        sql = "SELECT status, capacity, per_member_limit FROM events_training WHERE id = %s"
    elif settings.EVENTS_REGISTRATION_ASYNC_COMMIT:
        # The row lock is held until COMMIT returns, and a synchronous COMMIT waits for the WAL
        # to reach the disk (2–3 ms here): that wait, not the work, would bound registrations
        # per second. Committing asynchronously keeps every rule (the lock still orders the
        # seats); what a crash of the database server could lose is the last fraction of a
        # second of registrations, as SQLite in WAL mode with synchronous=NORMAL can.
        sql = (
            "SELECT status, capacity, per_member_limit,"
            " set_config('synchronous_commit', 'off', true)"
            " FROM events_training WHERE id = %s FOR UPDATE"
        )
    else:
        sql = (
            "SELECT status, capacity, per_member_limit FROM events_training"
            " WHERE id = %s FOR UPDATE"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [training_id])
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2])


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
INSERT_REGISTRATION = """
INSERT INTO events_registration (
    training_id, contact_id, member_id, status, registered_by_id, created_at, confirmed_at,
    cancelled_at, substituted_from_id, reminder_sent_at, attendance
)
SELECT
    %(training)s, %(contact)s, %(member)s,
    CASE WHEN total < %(capacity)s AND mine < %(limit)s THEN 'confirmed' ELSE 'waitlisted' END,
    %(by)s, %(now)s,
    CASE WHEN total < %(capacity)s AND mine < %(limit)s THEN %(now)s END,
    NULL, NULL, NULL, ''
FROM counts
WHERE already = 0 AND (
    -- A free seat while someone waits who could take it is owed to them first.
    total >= %(capacity)s
    OR NOT EXISTS (
        SELECT 1 FROM events_registration AS waiting
         WHERE waiting.training_id = %(training)s AND waiting.status = 'waitlisted'
           AND (SELECT COUNT(*) FROM events_registration AS seat
                 WHERE seat.training_id = %(training)s AND seat.status = 'confirmed'
                   AND seat.member_id = waiting.member_id) < %(limit)s
    )
)
RETURNING id, status, contact_id
"""
NOTICE_COLUMNS = """
    registration_id, contact_id, kind, status, subject, body, created_at, claimed_at, sent_at,
    attempts, error
"""
# SQLite: the registration; its notice follows in a second statement.
TAKE_SEAT_SQLITE = f"WITH {COUNTS} {INSERT_REGISTRATION}"
# PostgreSQL: one round trip for both, with a data-modifying WITH.
TAKE_SEAT_POSTGRESQL = f"""
WITH {COUNTS}, seat AS ({INSERT_REGISTRATION}), notice AS (
    INSERT INTO events_notice ({NOTICE_COLUMNS})
    SELECT id, contact_id, status, 'pending', '', '', %(now)s, NULL, NULL, 0, '' FROM seat
)
SELECT id, status FROM seat
"""


def take_seat(
    *,
    training_id: int,
    contact_id: int,
    member_id: int,
    capacity: int,
    limit: int,
    by_id: int | None,
    now: dt.datetime,
) -> tuple[int, str] | None:
    """Insert the registration as confirmed or waitlisted, with the notice that tells the
    person, and return (id, status); None when the person is registered already or a free seat
    is owed to the waiting list first (the caller sorts those out). The caller holds the
    training lock."""
    params = {
        "training": training_id,
        "contact": contact_id,
        "member": member_id,
        "capacity": capacity,
        "limit": limit,
        "by": by_id,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(TAKE_SEAT_POSTGRESQL, params)
            row = cursor.fetchone()
            return None if row is None else (row[0], row[1])
        cursor.execute(TAKE_SEAT_SQLITE, params)
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute(
            f"INSERT INTO events_notice ({NOTICE_COLUMNS})"
            " VALUES (%s, %s, %s, 'pending', '', '', %s, NULL, NULL, 0, '')",
            [row[0], contact_id, row[1], params["now"]],
        )
    return (row[0], row[1])
