"""The seat rule has one text (events/seats.py): the function a migration installs on
PostgreSQL is that text, frozen, and registering and promotion follow it on either database."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.db import connection

from events import seats, services
from events.models import Notice, Registration

LATEST = "events.migrations.0011_registration_queue_position"


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


def test_the_waiting_list_follows_the_queue_position_not_the_row_id(
    make_training, alice, bob, charlie, edogawa
):
    from association import services as association

    dave = association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")
    training = make_training(capacity=1, per_member_limit=5)
    seat = services.register_for_training(training, contact=alice)
    first = services.register_for_training(training, contact=bob)
    second = services.register_for_training(training, contact=charlie)
    third = services.register_for_training(training, contact=dave)

    positions = dict(Registration.objects.values_list("pk", "queue_position"))
    assert positions[seat.pk] is None  # a seat has no place in the queue
    assert [positions[r.pk] for r in (first, second, third)] == [1, 2, 3]
    # The secretariat put charlie ahead of everyone: the queue, not the id, decides.
    Registration.objects.filter(pk=second.pk).update(queue_position=0)
    assert [r.pk for r in Registration.objects.waitlisted()] == [second.pk, first.pk, third.pk]
    assert Registration.objects.get(pk=second.pk).waitlist_place() == 1
    assert Registration.objects.get(pk=first.pk).waitlist_place() == 2

    Registration.objects.filter(pk=seat.pk).update(status="cancelled")
    promoted = services.promote_waiting_list(training)

    assert [r.pk for r in promoted] == [second.pk]
    # Arriving later still means the tail, after every position ever given.
    late = services.register_for_training(
        training,
        contact=association.add_contact(
            edogawa, name="佐藤 花子", email="hanako@city.edogawa.example.jp"
        ),
    )
    assert Registration.objects.get(pk=late.pk).queue_position == 4


def test_the_migration_backfills_the_queue_from_the_row_ids(make_training, alice, bob, charlie):
    backfill = import_module("events.migrations.0011_registration_queue_position").BACKFILL
    training = make_training(capacity=1)
    for contact in (alice, bob, charlie):
        services.register_for_training(training, contact=contact)
    Registration.objects.update(queue_position=None)

    with connection.cursor() as cursor:
        cursor.execute(backfill)

    rows = Registration.objects.order_by("id").values_list("status", "queue_position")
    assert list(rows) == [("confirmed", None), ("waitlisted", 1), ("waitlisted", 2)]
