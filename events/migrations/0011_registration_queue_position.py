"""The waiting list's order becomes an explicit queue position (Registration.queue_position),
given in the statement that puts a person on the list, so the secretariat can reorder it; the
PostgreSQL seat function places people by it (events/seats.py).

Existing waiting lists keep their order: positions 1, 2, … by row id (SQL only). The function's
text is frozen here (a migration never imports app code); tests/events/test_seat_rule.py fails
when it and events.seats.take_seat_function() part ways."""

from django.conf import settings
from django.db import migrations, models

TAKE_SEAT_FUNCTION = r"""
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
        UPDATE events_registration SET status = 'confirmed', confirmed_at = p_now
 WHERE id = (
SELECT waiting.id FROM events_registration AS waiting
  JOIN association_contact AS person ON person.id = waiting.contact_id
 WHERE waiting.training_id = p_training AND waiting.status = 'waitlisted'
   AND person.is_active AND ((
    (SELECT COUNT(*) FROM events_registration AS seat
      WHERE seat.training_id = p_training AND seat.status = 'confirmed')
    < (SELECT capacity FROM events_training WHERE id = p_training)
)
    AND (SELECT COUNT(*) FROM events_registration AS seat
          WHERE seat.training_id = p_training AND seat.status = 'confirmed'
            AND seat.member_id = waiting.member_id)
    < (SELECT per_member_limit FROM events_training WHERE id = p_training)
)
 ORDER BY waiting.queue_position, waiting.id LIMIT 1)
RETURNING id, contact_id
        INTO v_id, v_contact;
        EXIT WHEN v_id IS NULL;
        v_kind := 'promoted';
        INSERT INTO events_notice (registration_id, contact_id, kind, status, subject, body, created_at,
                           sent_at, error)
VALUES (v_id, v_contact, v_kind, 'pending', '', '', p_now, NULL, '');
    END LOOP;
    INSERT INTO events_registration (
    training_id, contact_id, member_id, status, registered_by_id, created_at, confirmed_at,
    cancelled_at, substituted_from_id, reminder_sent_at, attendance, sequence, queue_position
)
SELECT
    p_training, p_contact, p_member,
    CASE WHEN seat.free THEN 'confirmed' ELSE 'waitlisted' END,
    p_by, p_now,
    CASE WHEN seat.free THEN p_now END,
    NULL, NULL, NULL, '', 0,
    CASE WHEN seat.free THEN NULL ELSE (
    SELECT COALESCE(MAX(queued.queue_position), 0) + 1 FROM events_registration AS queued
     WHERE queued.training_id = p_training
) END
  FROM events_training AS training, (SELECT ((
    (SELECT COUNT(*) FROM events_registration AS seat
      WHERE seat.training_id = p_training AND seat.status = 'confirmed')
    < (SELECT capacity FROM events_training WHERE id = p_training)
)
    AND (SELECT COUNT(*) FROM events_registration AS seat
          WHERE seat.training_id = p_training AND seat.status = 'confirmed'
            AND seat.member_id = p_member)
    < (SELECT per_member_limit FROM events_training WHERE id = p_training)
) AS free) AS seat
 WHERE training.id = p_training AND training.status = 'published'
   AND NOT EXISTS (
        SELECT 1 FROM events_registration AS mine
         WHERE mine.training_id = p_training AND mine.contact_id = p_contact
           AND mine.status <> 'cancelled')
RETURNING id, status, queue_position
    INTO seat_id, seat_status, v_position;
    IF seat_id IS NULL THEN
        RETURN;
    END IF;
    v_id := seat_id;
    v_contact := p_contact;
    v_kind := CASE seat_status WHEN 'confirmed' THEN 'confirmed'
                               ELSE 'waitlisted' END;
    INSERT INTO events_notice (registration_id, contact_id, kind, status, subject, body, created_at,
                           sent_at, error)
VALUES (v_id, v_contact, v_kind, 'pending', '', '', p_now, NULL, '');
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

# Each waiting person's place by arrival (row id), per training; the same SQL on both databases.
BACKFILL = """
UPDATE events_registration SET queue_position = (
    SELECT COUNT(*) FROM events_registration AS earlier
     WHERE earlier.training_id = events_registration.training_id
       AND earlier.status = 'waitlisted' AND earlier.id <= events_registration.id)
 WHERE status = 'waitlisted'
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TAKE_SEAT_FUNCTION, params=None)
        schema_editor.execute(TAKE_SEAT_FUNCTION, params=None)


def reinstall_previous(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        previous = import_module("events.migrations.0008_take_seat_function_promotes_first")
        schema_editor.execute(DROP_TAKE_SEAT_FUNCTION, params=None)
        schema_editor.execute(previous.TAKE_SEAT_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("association", "0007_merge_search_columns_and_listing_index"),
        ("events", "0010_member_calendar_feeds"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="registration",
            name="queue_position",
            field=models.IntegerField(blank=True, null=True, verbose_name="キャンセル待ちの順"),
        ),
        migrations.AddIndex(
            model_name="registration",
            index=models.Index(fields=["training", "queue_position"], name="registration_queue"),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=False),
        migrations.RunPython(install, reinstall_previous, elidable=False),
    ]
