"""PostgreSQL: the function that takes a seat in one call (see events/seats.py)."""

from django.db import migrations


def install(apps, schema_editor):
    from events import seats

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(seats.DROP_TAKE_SEAT_FUNCTION, params=None)
        schema_editor.execute(seats.TAKE_SEAT_FUNCTION, params=None)


def uninstall(apps, schema_editor):
    from events import seats

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(seats.DROP_TAKE_SEAT_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("events", "0004_training_open_to_non_members")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
