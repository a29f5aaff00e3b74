"""The seat rule has one text (events/seats.py): the function a migration installs on
PostgreSQL is that text, frozen, and registering and promotion follow it on either database."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.db import connection

from events import seats, services
from events.models import Notice, Registration

LATEST = "events.migrations.0008_take_seat_function_promotes_first"


def normalised(sql: str) -> str:
    return "\n".join(line.rstrip() for line in sql.strip().splitlines())


def test_the_migration_installs_the_function_the_module_writes_today():
    frozen = import_module(LATEST).TAKE_SEAT_FUNCTION

    assert normalised(frozen) == normalised(seats.take_seat_function())


@pytest.mark.django_db
def test_the_installed_function_is_the_frozen_text_on_postgresql():
    if connection.vendor != "postgresql":
        assert connection.vendor == "sqlite"  # SQLite runs the module's statements themselves
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'events_take_seat'")
        [(source,)] = cursor.fetchall()
    body = seats.take_seat_function().split("$body$")[1]
    assert normalised(source) == normalised(body)


def test_no_migration_imports_app_code():
    import pathlib

    for path in pathlib.Path("events/migrations").glob("0*.py"):
        text = path.read_text()
        assert "from events" not in text and "import events" not in text, path.name


def test_a_registration_promotes_the_waiting_person_a_free_seat_is_owed_to_first(
    make_training, alice, bob, charlie, edogawa
):
    from association import services as association

    dave = association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")
    training = make_training(capacity=2, per_member_limit=1)
    alice_seat = services.register_for_training(training, contact=alice)
    waiting_bob = services.register_for_training(training, contact=bob)  # 江戸川区 at its limit
    services.register_for_training(training, contact=charlie)  # the last seat
    Registration.objects.filter(pk=alice_seat.pk).update(status="cancelled")  # a seat frees

    # The free seat is owed to bob (earliest waiting, now with room), not to dave who arrives.
    late = services.register_for_training(training, contact=dave)

    waiting_bob.refresh_from_db()
    assert waiting_bob.status == Registration.Status.CONFIRMED
    assert late.status == Registration.Status.WAITLISTED
    kinds = dict(Notice.objects.filter(registration=waiting_bob).values_list("kind", "contact"))
    assert kinds[Notice.Kind.PROMOTED] == bob.pk
    assert Notice.objects.get(registration=late).kind == Notice.Kind.WAITLISTED
