"""PostgreSQL: the function that takes a seat in one call, as this migration first installed it.

Its body is frozen here as text: a migration never imports app code, so it installs the same
thing whenever it runs. Migration 0008 replaces it with the function events/seats.py builds
today."""

from django.db import migrations

TAKE_SEAT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION events_take_seat(
    p_training bigint, p_contact bigint, p_member bigint, p_by bigint, p_now timestamptz,
    p_async_commit boolean, OUT seat_id bigint, OUT seat_status text, OUT seat_place integer
) LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM 1 FROM events_training WHERE id = p_training FOR UPDATE;
    IF p_async_commit THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;

WITH
training AS (
    SELECT status, capacity, per_member_limit FROM events_training WHERE id = p_training
),
counts AS (
    SELECT
        (SELECT COUNT(*) FROM events_registration
          WHERE training_id = p_training AND status = 'confirmed') AS total,
        (SELECT COUNT(*) FROM events_registration
          WHERE training_id = p_training AND status = 'confirmed'
            AND member_id = p_member) AS mine,
        (SELECT COUNT(*) FROM events_registration
          WHERE training_id = p_training AND contact_id = p_contact
            AND status <> 'cancelled') AS already
), seat AS (
INSERT INTO events_registration (
    training_id, contact_id, member_id, status, registered_by_id, created_at, confirmed_at,
    cancelled_at, substituted_from_id, reminder_sent_at, attendance
)
SELECT
    p_training, p_contact, p_member,
    CASE WHEN total < training.capacity AND mine < training.per_member_limit THEN 'confirmed' ELSE 'waitlisted' END,
    p_by, p_now,
    CASE WHEN total < training.capacity AND mine < training.per_member_limit THEN p_now END,
    NULL, NULL, NULL, ''
FROM counts, training
WHERE training.status = 'published' AND already = 0 AND (
    -- A free seat while someone waits who could take it is owed to them first.
    total >= training.capacity
    OR NOT EXISTS (
        SELECT 1 FROM events_registration AS waiting
         WHERE waiting.training_id = p_training AND waiting.status = 'waitlisted'
           AND (SELECT COUNT(*) FROM events_registration AS seat
                 WHERE seat.training_id = p_training AND seat.status = 'confirmed'
                   AND seat.member_id = waiting.member_id) < training.per_member_limit
    )
)
RETURNING id, status, contact_id
), notice AS (
    INSERT INTO events_notice (
    registration_id, contact_id, kind, status, subject, body, created_at, claimed_at, sent_at,
    attempts, error
)
    SELECT id, contact_id, status, 'pending', '', '', p_now, NULL, NULL, 0, '' FROM seat
)
SELECT seat.id, seat.status INTO seat_id, seat_status FROM seat;
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


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TAKE_SEAT_FUNCTION, params=None)
        schema_editor.execute(TAKE_SEAT_FUNCTION, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TAKE_SEAT_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("events", "0004_training_open_to_non_members")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
