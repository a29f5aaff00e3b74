"""The seat rules under real concurrency: separate processes, one database (SQLite or
PostgreSQL, whichever the run uses), all requests released at the same moment."""

import random
from collections import Counter

import pytest
from django.db.models import Count, F

from association import services as association
from association.models import LocalGovernment
from events.models import Notice, Registration, Training
from tests.workers import purge_queues

from .concurrent import Crowd

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def crowd():
    with Crowd(processes=16) as crowd:
        yield crowd
    # The children queued mail tasks that no worker will take.
    purge_queues()


@pytest.fixture
def staff(registry):
    """40 members with 5 staff each."""
    contacts = []
    governments = LocalGovernment.objects.municipalities().order_by("code")[:40]
    for n, lg in enumerate(governments):
        member = association.admit_member(lg)
        for k in range(5):
            contacts.append(
                association.add_contact(
                    member, name=f"職員 {n}-{k}", email=f"s{k}@lg{lg.code}.example.jp"
                )
            )
    return contacts


def assert_rules_hold(training):
    per_member = (
        Registration.objects.confirmed()
        .filter(training=training)
        .values("member_id")
        .annotate(n=Count("id"))
    )
    assert all(row["n"] <= training.per_member_limit for row in per_member)
    confirmed = Registration.objects.confirmed().filter(training=training).count()
    assert confirmed <= training.capacity
    active = Registration.objects.active().filter(training=training)
    assert active.values("contact_id").distinct().count() == active.count()
    return confirmed


def test_it_confirms_exactly_50_of_200_simultaneous_registrations_round_after_round(
    make_training, staff, crowd
):
    for round_ in range(3):
        training = make_training(capacity=50, per_member_limit=3, title=f"研修 {round_}")
        people = random.sample(staff, len(staff))
        jobs = [("register", training.pk, c.pk) for c in people]
        # Twenty people press the button twice.
        jobs += [("register", training.pk, c.pk) for c in people[:20]]
        random.shuffle(jobs)

        results = crowd.run(jobs, jitter=0.01 * (round_ + 1))

        errors = [r for r in results if r[2].startswith("error")]
        assert errors == []
        assert assert_rules_hold(training) == 50
        assert Registration.objects.active().filter(training=training).count() == 200
        assert Registration.objects.waitlisted().filter(training=training).count() == 150
        assert Notice.objects.filter(registration__training=training).count() == 200
        assert_each_decision_was_right_in_arrival_order(training)


def test_it_gives_each_freed_seat_to_exactly_one_person_while_others_register(
    make_training, staff, crowd
):
    from events import services

    training = make_training(capacity=50, per_member_limit=3)
    first, newcomers = staff[:120], staff[120:]
    for contact in first:
        services.register_for_training(training, contact=contact)
    confirmed = list(Registration.objects.confirmed().filter(training=training))
    assert len(confirmed) == 50
    leaving = random.sample(confirmed, 20)
    jobs = [("cancel", training.pk, r.pk) for r in leaving]
    jobs += [("register", training.pk, c.pk) for c in newcomers]
    jobs += [("promote", training.pk, 0)] * 20
    random.shuffle(jobs)

    results = crowd.run(jobs, jitter=0.05)
    services.promote_waiting_list(training)  # as the task queued by the last cancel would

    assert [r for r in results if r[2].startswith("error")] == []
    assert assert_rules_hold(training) == 50 or _everyone_waiting_is_at_the_limit(training)
    promoted = Notice.objects.filter(registration__training=training, kind=Notice.Kind.PROMOTED)
    once = Counter(promoted.values_list("registration_id", flat=True))
    assert all(n == 1 for n in once.values())
    assert set(once) == set(
        Registration.objects.filter(training=training, status="confirmed")
        .filter(confirmed_at__gt=F("created_at"))
        .values_list("id", flat=True)
    )
    for registration in leaving:
        registration.refresh_from_db()
        assert registration.status == Registration.Status.CANCELLED


def test_moves_to_the_waiting_list_at_once_keep_the_capacity_exact(make_training, staff, crowd):
    """The secretariat's moves (issue 10 §2), some pressed twice, while others register: each
    freed seat goes to exactly one waiting person, and the seats stay exactly full."""
    from events import services

    training = make_training(capacity=50, per_member_limit=3)
    first, newcomers = staff[:120], staff[120:160]
    for contact in first:
        services.register_for_training(training, contact=contact)
    confirmed = list(Registration.objects.confirmed().filter(training=training))
    moving = random.sample(confirmed, 10)
    jobs = [("to_waiting", training.pk, r.pk) for r in moving]
    jobs += [("to_waiting", training.pk, r.pk) for r in moving[:2]]  # pressed twice
    jobs += [("register", training.pk, c.pk) for c in newcomers]
    random.shuffle(jobs)

    results = crowd.run(jobs, jitter=0.02)

    errors = [r for r in results if r[2].startswith("error")]
    moved = [r for r in results if r[2].startswith("moved")]
    # A second press is refused, as a refusal, not a failure, unless a promotion gave that
    # person the seat back between the two presses: then it is a move again.
    assert all("ValidationError" in r[2] for r in errors)
    assert {r[1] for r in errors} <= {r.pk for r in moving[:2]}
    assert len(moved) + len(errors) == 12 and len(moved) >= 10
    assert assert_rules_hold(training) == 50
    promoted = Notice.objects.filter(registration__training=training, kind=Notice.Kind.PROMOTED)
    once = Counter(promoted.values_list("registration_id", flat=True))
    # Each freed seat went to exactly one person, told once; only someone moved in between
    # can be promoted twice.
    assert sum(int(r[2].split(":")[1]) for r in moved) == promoted.count()
    assert all(n == 1 or pk in {r.pk for r in moving} for pk, n in once.items())
    for registration in moving:
        registration.refresh_from_db()
        # Back in a seat only by a later move's promotion (someone put at the head).
        assert registration.status == Registration.Status.WAITLISTED or registration.pk in once
    positions = list(
        Registration.objects.waitlisted()
        .filter(training=training)
        .values_list("queue_position", flat=True)
    )
    assert len(positions) == len(set(positions))  # no two people share a place


def assert_each_decision_was_right_in_arrival_order(training):
    """Replay the registrations in the order they took the lock: each got a seat exactly when
    the training and the member had room at that moment."""
    total, per_member = 0, Counter[int]()
    for member_id, status in (
        Registration.objects.filter(training=training)
        .order_by("id")
        .values_list("member_id", "status")
    ):
        room = total < training.capacity and per_member[member_id] < training.per_member_limit
        assert status == ("confirmed" if room else "waitlisted")
        if room:
            total += 1
            per_member[member_id] += 1


def _everyone_waiting_is_at_the_limit(training: Training) -> bool:
    at_limit = set(
        Registration.objects.confirmed()
        .filter(training=training)
        .values("member_id")
        .annotate(n=Count("id"))
        .filter(n__gte=training.per_member_limit)
        .values_list("member_id", flat=True)
    )
    waiting = set(
        Registration.objects.waitlisted()
        .filter(training=training)
        .values_list("member_id", flat=True)
    )
    return waiting <= at_limit
