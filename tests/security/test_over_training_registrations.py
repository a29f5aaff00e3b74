"""Attack: once a training is over, its registrations are the record of who came. A
coordinator (or the person) cancels or substitutes a registration afterwards to rewrite that
record; both are refused with a message and nothing changes (issue 8 §6, issue 10 §6)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from association import services as association
from events import services
from events.models import Registration
from tests.events.conftest import make_training

__all__ = ["make_training"]

REFUSAL = "この研修会は終了しているため、申込みの取消・差し替えはできません。"


@pytest.fixture
def over(make_training, alice, bob):
    """A training that took place last week, with bob's confirmed seat."""
    start = timezone.now() - dt.timedelta(days=7)
    training = make_training(starts_at=start, opens_at=start - dt.timedelta(days=60))
    registration = services.register_for_training(
        training, contact=bob, now=start - dt.timedelta(days=30)
    )
    services.mark_attendance([registration], attendance=Registration.Attendance.ATTENDED)
    return registration


@pytest.fixture
def dave(edogawa):
    return association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")


def test_a_coordinator_cannot_cancel_a_registration_of_a_training_that_is_over(client, alice, over):
    client.force_login(alice.user)
    url = reverse("events:cancel", args=[alice.member.local_government_id, over.pk])

    response = client.post(url, follow=True)

    assert REFUSAL in response.content.decode()
    over.refresh_from_db()
    assert over.status == Registration.Status.CONFIRMED
    assert over.attendance == Registration.Attendance.ATTENDED


def test_the_person_cannot_cancel_their_own_registration_after_the_training(client, bob, over):
    client.force_login(bob.user)
    url = reverse("events:cancel", args=[bob.member.local_government_id, over.pk])

    response = client.post(url, follow=True)

    assert REFUSAL in response.content.decode()
    over.refresh_from_db()
    assert over.status == Registration.Status.CONFIRMED


def test_a_coordinator_cannot_substitute_a_registration_of_a_training_that_is_over(
    client, alice, bob, dave, over
):
    client.force_login(alice.user)
    url = reverse("events:substitute", args=[alice.member.local_government_id, over.pk])

    page = client.get(url, follow=True)
    response = client.post(url, {"contact": dave.pk}, follow=True)

    assert REFUSAL in page.content.decode()
    assert REFUSAL in response.content.decode()
    over.refresh_from_db()
    assert over.contact_id == bob.pk
    assert over.substituted_from_id is None


def test_the_services_refuse_a_portal_actor_and_let_the_secretariat_correct_the_record(
    alice, bob, dave, over
):
    with pytest.raises(PermissionDenied, match=REFUSAL):
        services.cancel_registration(over, actor=alice)
    with pytest.raises(PermissionDenied, match=REFUSAL):
        services.substitute_registration(over, contact=dave, actor=alice)
    over.refresh_from_db()
    assert (over.status, over.contact_id) == (Registration.Status.CONFIRMED, bob.pk)

    services.substitute_registration(over, contact=dave)  # the secretariat (no portal actor)
    over.refresh_from_db()
    assert over.contact_id == dave.pk


def test_the_training_page_offers_no_cancel_or_substitute_once_it_is_over(client, alice, over):
    client.force_login(alice.user)
    url = reverse("events:detail", args=[alice.member.local_government_id, over.training_id])

    html = client.get(url).content.decode()

    assert reverse("events:cancel", args=[alice.member.local_government_id, over.pk]) not in html
    assert (
        reverse("events:substitute", args=[alice.member.local_government_id, over.pk]) not in html
    )
