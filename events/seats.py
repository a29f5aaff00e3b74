"""The seat rule, written once, in SQL.

The rule: a seat needs room in the training (confirmed < capacity) and in the member
(confirmed of that member < per-member limit); a free seat is owed first to the earliest
waiting person (still active) who has room; registering someone who holds a seat or a place
writes nothing. ROOM, NEXT_WAITING, PROMOTE_NEXT and TAKE_SEAT below are the only places it is
written (with CAPACITY_ROOM, the part the secretariat's out-of-turn seat keeps, and
QUEUE_AT_TAIL / QUEUE_AT_HEAD, the waiting list's order: Registration.queue_position, not the
row id). Every act that gives seats or moves the list runs them while it holds the training's
lock:

- registering: on PostgreSQL one call of the function events_take_seat (built from these
  statements by take_seat_function(), installed by a migration that holds its text frozen; a
  test fails if the two ever differ), on SQLite the same statements on the DB-API connection;
  both first promote whoever the waiting list is owed to, then insert the registration;
- promotion after a cancellation or a change of capacity (services.promote_waiting_list) and
  the secretariat's moves: PROMOTE_NEXT through Django's cursor.

Why SQL and not the ORM (measured with bench/register.py and a serial timing of 500
registrations in one process, same machine, same minute, issue 10): the ORM path (five
compiled queries under the lock) cost 5.3 ms of CPU per registration against 0.6 ms here, and
in one bench run it missed the HTTP floor (http_ratio_to_floor 0.116 PostgreSQL, 0.128 SQLite,
floor 0.15) that this path keeps (0.23 on both). Taking a seat is the one write many people
make at once, while the training is locked, so its cost is the whole system's throughput.

On SQLite, where the database's own busy-wait sleeps in steps of up to 100 ms, writers take
turns on an operating-system file lock (events/locks.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.db import connection

from .locks import registration_turn

# %(training)s and %(member)s style parameters (Django's cursor, psycopg); turned into
# PL/pgSQL arguments for the function and into :name for sqlite3.


CAPACITY_ROOM = """(
    (SELECT COUNT(*) FROM events_registration AS seat
      WHERE seat.training_id = %(training)s AND seat.status = 'confirmed')
    < (SELECT capacity FROM events_training WHERE id = %(training)s)
)"""


def room(member: str) -> str:
    """SQL that is true when the training has a free seat and MEMBER (an SQL expression) is
    under its limit. Counted afresh in every statement: only confirmed seats count."""
    return f"""({CAPACITY_ROOM}
    AND (SELECT COUNT(*) FROM events_registration AS seat
          WHERE seat.training_id = %(training)s AND seat.status = 'confirmed'
            AND seat.member_id = {member})
    < (SELECT per_member_limit FROM events_training WHERE id = %(training)s)
)"""


# The place a person put on the waiting list takes: after everyone who was ever placed on
# this training's list (assigned under the training's lock, in the statement that places them,
# so two arrivals never share it). The secretariat may reorder the list (QUEUE_AT_HEAD, and
# services.reorder_waiting_list); the queue position, not the row id, is the order.
QUEUE_AT_TAIL = """(
    SELECT COALESCE(MAX(queued.queue_position), 0) + 1 FROM events_registration AS queued
     WHERE queued.training_id = %(training)s
)"""
QUEUE_AT_HEAD = """(
    SELECT COALESCE(MIN(queued.queue_position), 1) - 1 FROM events_registration AS queued
     WHERE queued.training_id = %(training)s AND queued.status = 'waitlisted'
)"""

# The first waiting person in queue order who could take a seat now; people no longer active
# are passed over.
NEXT_WAITING = f"""
SELECT waiting.id FROM events_registration AS waiting
  JOIN association_contact AS person ON person.id = waiting.contact_id
 WHERE waiting.training_id = %(training)s AND waiting.status = 'waitlisted'
   AND person.is_active AND {room("waiting.member_id")}
 ORDER BY waiting.queue_position, waiting.id LIMIT 1"""
PROMOTE_NEXT = f"""
UPDATE events_registration SET status = 'confirmed', confirmed_at = %(now)s
 WHERE id = ({NEXT_WAITING})
RETURNING id, contact_id"""
TAKE_SEAT = f"""
INSERT INTO events_registration (
    training_id, contact_id, member_id, status, registered_by_id, created_at, confirmed_at,
    cancelled_at, substituted_from_id, reminder_sent_at, attendance, sequence, queue_position
)
SELECT
    %(training)s, %(contact)s, %(member)s,
    CASE WHEN seat.free THEN 'confirmed' ELSE 'waitlisted' END,
    %(by)s, %(now)s,
    CASE WHEN seat.free THEN %(now)s END,
    NULL, NULL, NULL, '', 0,
    CASE WHEN seat.free THEN NULL ELSE {QUEUE_AT_TAIL} END
  FROM events_training AS training, (SELECT {room("%(member)s")} AS free) AS seat
 WHERE training.id = %(training)s AND training.status = 'published'
   AND NOT EXISTS (
        SELECT 1 FROM events_registration AS mine
         WHERE mine.training_id = %(training)s AND mine.contact_id = %(contact)s
           AND mine.status <> 'cancelled')
RETURNING id, status, queue_position"""
# The mail each act owes; its kind is named here, never copied from a registration's status.
INSERT_NOTICE = """
INSERT INTO events_notice (registration_id, contact_id, kind, status, subject, body, created_at,
                           sent_at, error)
VALUES (%(registration)s, %(recipient)s, %(kind)s, 'pending', '', '', %(now)s, NULL, '')"""
KIND_OF_SEAT = {"confirmed": "confirmed", "waitlisted": "waitlisted"}  # Notice.Kind by status
PROMOTED = "promoted"
MOVED_TO_WAITING = "moved_to_waiting"  # the secretariat took the seat back (calendar: CANCEL)

_FUNCTION_ARGS = {
    "%(training)s": "p_training",
    "%(contact)s": "p_contact",
    "%(member)s": "p_member",
    "%(by)s": "p_by",
    "%(now)s": "p_now",
}


def _plpgsql(sql: str, **more: str) -> str:
    for placeholder, name in {**_FUNCTION_ARGS, **more}.items():
        sql = sql.replace(placeholder, name)
    return sql.strip()


def take_seat_function() -> str:
    """The PostgreSQL function, from the statements above. A migration installs this text
    frozen; tests/events/test_seat_rule.py fails when it and this module part ways."""
    promote = _plpgsql(PROMOTE_NEXT)
    take = _plpgsql(TAKE_SEAT)
    notice = _plpgsql(
        INSERT_NOTICE,
        **{"%(registration)s": "v_id", "%(recipient)s": "v_contact", "%(kind)s": "v_kind"},
    )
    return f"""
CREATE OR REPLACE FUNCTION events_take_seat(
    p_training bigint, p_contact bigint, p_member bigint, p_by bigint, p_now timestamptz,
    p_async_commit boolean, OUT seat_id bigint, OUT seat_status text, OUT seat_place integer
) LANGUAGE plpgsql AS $body$
DECLARE
    v_id bigint;
    v_contact bigint;
    v_kind text;
    v_position integer;
BEGIN
    PERFORM 1 FROM events_training WHERE id = p_training FOR UPDATE;
    IF p_async_commit THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    LOOP  -- a free seat is owed to the waiting list first
        {promote}
        INTO v_id, v_contact;
        EXIT WHEN v_id IS NULL;
        v_kind := '{PROMOTED}';
        {notice};
    END LOOP;
    {take}
    INTO seat_id, seat_status, v_position;
    IF seat_id IS NULL THEN
        RETURN;
    END IF;
    v_id := seat_id;
    v_contact := p_contact;
    v_kind := CASE seat_status WHEN 'confirmed' THEN '{KIND_OF_SEAT["confirmed"]}'
                               ELSE '{KIND_OF_SEAT["waitlisted"]}' END;
    {notice};
    IF seat_status = 'waitlisted' THEN  -- the place the page shows, without another call
        SELECT COUNT(*) INTO seat_place FROM events_registration
         WHERE training_id = p_training AND status = 'waitlisted'
           AND queue_position <= v_position;
    END IF;
END
$body$
"""


DROP_TAKE_SEAT_FUNCTION = (
    "DROP FUNCTION IF EXISTS events_take_seat(bigint, bigint, bigint, bigint, timestamptz, boolean)"
)


def _sqlite(sql: str) -> str:
    return re.sub(r"%\((\w+)\)s", r":\1", sql)


PROMOTE_NEXT_SQLITE = _sqlite(PROMOTE_NEXT)
TAKE_SEAT_SQLITE = _sqlite(TAKE_SEAT)
INSERT_NOTICE_SQLITE = _sqlite(INSERT_NOTICE)


Seat = tuple[int, str, int | None]  # registration id, status, waiting-list place if known


def take_seat(
    *, training_id: int, contact_id: int, member_id: int, by_id: int | None, now: dt.datetime
) -> Seat | None:
    """Under the training's lock, in a transaction of its own (or the caller's, if one is
    open): promote whoever the waiting list is owed to, then insert the registration as
    confirmed or waitlisted, each with the notice that tells the person. Returns (id, status,
    waiting-list place when PostgreSQL counted it); None, and no registration written, when the
    training is not published or the person holds a seat or a place already."""
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


def _take_seat_postgresql(params: dict[str, Any]) -> Seat | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seat_id, seat_status, seat_place FROM events_take_seat("
            "%(training)s, %(contact)s, %(member)s, %(by)s, %(now)s, %(async)s)",
            params | {"async": settings.EVENTS_REGISTRATION_ASYNC_COMMIT},
        )
        row = cursor.fetchone()
    return None if row is None or row[0] is None else (row[0], row[1], row[2])


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
            while promoted := raw.execute(PROMOTE_NEXT_SQLITE, params).fetchone():
                raw.execute(
                    INSERT_NOTICE_SQLITE, _notice(params, promoted[0], promoted[1], PROMOTED)
                )
            row = raw.execute(TAKE_SEAT_SQLITE, params).fetchone()
            if row is not None:
                notice = _notice(params, row[0], params["contact"], KIND_OF_SEAT[row[1]])
                raw.execute(INSERT_NOTICE_SQLITE, notice)
        except BaseException:
            if own_transaction and raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        if own_transaction:
            raw.execute("COMMIT")
    return None if row is None else (row[0], row[1], None)


def _notice(params: dict[str, Any], registration: int, recipient: int, kind: str) -> dict:
    return {
        "registration": registration,
        "recipient": recipient,
        "kind": kind,
        "now": params["now"],
    }


def promote(*, training_id: int, now: dt.datetime) -> list[tuple[int, int]]:
    """Give free seats to the waiting list, each with its notice, through Django's cursor
    inside the caller's transaction, which holds the training's lock. Returns (registration
    id, contact id) of each person promoted, in order."""
    params = {"training": training_id, "now": connection.ops.adapt_datetimefield_value(now)}
    promoted: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        while True:
            cursor.execute(PROMOTE_NEXT, params)
            row = cursor.fetchone()
            if row is None:
                return promoted
            promoted.append((row[0], row[1]))
            cursor.execute(INSERT_NOTICE, _notice(params, row[0], row[1], PROMOTED))


# The secretariat's decision (with a reason, audited by the caller): a waiting person gets a
# seat out of turn or beyond the member's limit, never beyond the training's capacity.
CONFIRM_OUT_OF_TURN = f"""
UPDATE events_registration SET status = 'confirmed', confirmed_at = %(now)s
 WHERE id = %(registration)s AND training_id = %(training)s AND status = 'waitlisted'
   AND {CAPACITY_ROOM}
RETURNING id, contact_id"""


def confirm_out_of_turn(*, training_id: int, registration_id: int, now: dt.datetime) -> bool:
    """Inside the caller's transaction, which holds the training's lock; False when the
    training is full (or the registration is not waiting)."""
    params = {
        "training": training_id,
        "registration": registration_id,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(CONFIRM_OUT_OF_TURN, params)
        row = cursor.fetchone()
        if row is None:
            return False
        cursor.execute(INSERT_NOTICE, _notice(params, row[0], row[1], PROMOTED))
    return True


def waitlist_place(training_id: int, registration_id: int) -> int:
    """1 for the head of the waiting list, in queue order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM events_registration AS other"
            " JOIN events_registration AS mine ON mine.id = %s"
            " WHERE other.training_id = %s AND other.status = 'waitlisted'"
            " AND (other.queue_position < mine.queue_position"
            " OR (other.queue_position = mine.queue_position AND other.id <= mine.id))",
            [registration_id, training_id],
        )
        return int(cursor.fetchone()[0])


# The secretariat's moves (with a reason, audited by the caller), under the training's lock: a
# confirmed person goes back to the waiting list, first at its tail, so that the seat they
# free goes by PROMOTE_NEXT to whoever it is owed to (never straight back to them while
# someone else can take it); then, if asked, to its head (QUEUE_AT_HEAD).
MOVE_TO_WAITING = f"""
UPDATE events_registration
   SET status = 'waitlisted', confirmed_at = NULL, sequence = sequence + 1,
       queue_position = {QUEUE_AT_TAIL}
 WHERE id = %(registration)s AND training_id = %(training)s AND status = 'confirmed'
RETURNING id, contact_id"""
PUT_AT_HEAD = f"""
UPDATE events_registration SET queue_position = {QUEUE_AT_HEAD}
 WHERE id = %(registration)s AND training_id = %(training)s AND status = 'waitlisted'"""
SET_QUEUE_POSITION = """
UPDATE events_registration SET queue_position = %(position)s
 WHERE id = %(registration)s AND training_id = %(training)s AND status = 'waitlisted'"""


class SeatCameBack(Exception):
    """Nobody else on the waiting list could take the freed seat, so the rule gave it back."""


def move_to_waiting_list(
    *, training_id: int, registration_id: int, at_head: bool, now: dt.datetime
) -> list[tuple[int, int]] | None:
    """Inside the caller's transaction, which holds the training's lock. Returns (registration
    id, contact id) of each person promoted into the freed seat; None when the registration
    holds no seat. Raises SeatCameBack when the rule would give the seat back to the person
    moved (the caller rolls back)."""
    params = {
        "training": training_id,
        "registration": registration_id,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(MOVE_TO_WAITING, params)
        row = cursor.fetchone()
        if row is None:
            return None
        promoted = promote(training_id=training_id, now=now)
        if any(registration == registration_id for registration, _contact in promoted):
            raise SeatCameBack
        if at_head:
            cursor.execute(PUT_AT_HEAD, params)
        cursor.execute(INSERT_NOTICE, _notice(params, row[0], row[1], MOVED_TO_WAITING))
    return promoted


def set_queue(*, training_id: int, order: list[int]) -> None:
    """Give the waiting registrations ORDER (ids, head first) consecutive queue positions from
    the lowest they hold now, inside the caller's transaction, which holds the lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(queue_position) FROM events_registration"
            " WHERE training_id = %s AND status = 'waitlisted'",
            [training_id],
        )
        base = cursor.fetchone()[0] or 1
        for offset, registration_id in enumerate(order):
            cursor.execute(
                SET_QUEUE_POSITION,
                {
                    "training": training_id,
                    "registration": registration_id,
                    "position": base + offset,
                },
            )
