"""PostgreSQL: drop the seat function of 0005; registrations take seats through the ORM
(events/services.py, the one place of the seat rule). Reversing installs 0005's frozen text."""

from django.db import migrations

DROP_TAKE_SEAT_FUNCTION = (
    "DROP FUNCTION IF EXISTS events_take_seat(bigint, bigint, bigint, bigint, timestamptz, boolean)"
)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TAKE_SEAT_FUNCTION, params=None)


def reinstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        frozen = import_module("events.migrations.0005_take_seat_function")
        schema_editor.execute(frozen.TAKE_SEAT_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("events", "0006_audit_entries_link_registrants")]

    operations = [migrations.RunPython(drop, reinstall, elidable=False)]
