"""Trainings open to non-member municipalities (非会員の市区町村)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from association import services as association_services
from association.models import Member
from events import services
from events.models import Registration, Training
from tests.conftest import lg


@pytest.fixture
def kawaguchi(registry):
    """埼玉県川口市: not a member, recorded as a guest so its staff can join open trainings."""
    return association_services.register_guest(lg("埼玉県川口市"))


@pytest.fixture
def dave(kawaguchi):
    return association_services.add_contact(
        kawaguchi, name="井上 大地", email="dave@city.kawaguchi.example.jp"
    )


def test_a_guest_municipality_is_no_member_but_its_staff_can_log_in(kawaguchi, dave):
    assert kawaguchi.status == Member.Status.GUEST
    assert not Member.objects.active().filter(pk=kawaguchi.pk).exists()
    assert dave.user is not None and dave.user.is_active


def test_a_guest_registers_for_a_training_open_to_non_members(make_training, dave):
    training = make_training(audience=Training.Audience.OPEN)
    registration = services.register_for_training(training, contact=dave)
    assert registration.status == Registration.Status.CONFIRMED


@pytest.mark.parametrize("audience", [Training.Audience.EVERYONE, Training.Audience.BLOCK])
def test_a_guest_is_refused_a_training_for_members_with_a_clear_message(
    make_training, kanto, dave, audience
):
    training = make_training(audience=audience, kind=Training.Kind.NATIONAL, block=None)
    with pytest.raises(ValidationError, match="会員団体の方が対象です"):
        services.register_for_training(training, contact=dave)
    assert not Registration.objects.filter(contact=dave).exists()


def test_members_may_join_a_training_open_to_non_members(make_training, bob):
    training = make_training(audience=Training.Audience.OPEN)
    assert (
        services.register_for_training(training, contact=bob).status
        == Registration.Status.CONFIRMED
    )


def test_a_guest_sees_only_open_trainings_in_the_portal(client, make_training, dave, kawaguchi):
    make_training(title="会員向け研修会", audience=Training.Audience.EVERYONE)
    make_training(title="公開研修会", audience=Training.Audience.OPEN)
    client.force_login(dave.user)
    html = client.get(reverse("portal:member", args=[kawaguchi.local_government_id])).content
    text = html.decode()
    assert "公開研修会" in text
    assert "会員向け研修会" not in text


def test_admitting_a_guest_makes_it_a_member(kawaguchi):
    member = association_services.admit_member(kawaguchi.local_government)
    assert member.status == Member.Status.ACTIVE
    assert list(member.events.values_list("action", flat=True)) == ["guest", "joined"]


def test_a_guest_receives_no_bulletins_of_a_list_for_all_members(dave, bob):
    from mailing import audience
    from mailing.models import MailingList

    everyone = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    recipients = set(audience.recipients(everyone).values_list("email", flat=True))
    assert bob.email in recipients
    assert dave.email not in recipients
