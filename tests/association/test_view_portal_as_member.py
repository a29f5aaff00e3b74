"""The secretariat sees a member's portal as its coordinator would, read-only (issue 10 §2):
a permission of its own, asked first, audited, time-limited, ended by logout; every POST is
refused; never a login as that person."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from association import view_as
from association.models import AuditEntry, Contact, User
from events.models import Registration
from tests.events.conftest import make_training  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db


def start_url(member) -> str:
    return reverse("admin:association_member_view_portal", args=[member.pk])


def member_page(member) -> str:
    return reverse("portal:member", args=[member.local_government_id])


@pytest.fixture
def secretariat(client, registry):
    """A secretariat user with the permission, and the rights to reach the member's page."""
    user = User.objects.create_user("support", email="support@renkei.example.jp", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_portal_as_member", "view_member", "change_member", "view_contact"]
        )
    )
    client.force_login(user)
    return client


@pytest.fixture
def viewing(secretariat, edogawa, alice, bob):
    secretariat.post(start_url(edogawa))
    return secretariat


def test_it_asks_first_then_shows_the_coordinators_portal_with_a_banner_and_audits(
    secretariat, edogawa, alice, bob
):
    asked = secretariat.get(start_url(edogawa))
    assert "閲覧のみで表示する" in asked.content.decode()
    assert view_as.SESSION_KEY not in secretariat.session

    started = secretariat.post(start_url(edogawa))

    assert started.headers["Location"] == member_page(edogawa)
    page = secretariat.get(member_page(edogawa)).content.decode()
    assert f"閲覧のみ・{edogawa.name}として表示中" in page
    assert bob.name in page  # the coordinator's page: the member's contacts
    entry = AuditEntry.objects.get(action="portal_viewed_as_member")
    assert entry.actor is not None and entry.actor.username == "support"
    trainings = secretariat.get(reverse("events:member", args=[edogawa.local_government_id]))
    assert trainings.status_code == 200


def test_the_member_admin_page_offers_it_only_with_the_permission(secretariat, edogawa, alice):
    change = reverse("admin:association_member_change", args=[edogawa.pk])
    assert "この団体としてポータルを見る" in secretariat.get(change).content.decode()


def test_it_is_never_a_login_as_that_person(viewing, edogawa, alice):
    assert int(viewing.session["_auth_user_id"]) != alice.user_id
    assert User.objects.get(pk=viewing.session["_auth_user_id"]).username == "support"


@pytest.mark.parametrize(
    "url",
    [
        lambda m, t: reverse("events:detail", args=[m.local_government_id, t.pk]),
        lambda m, t: reverse("portal:contact_add", args=[m.local_government_id]),
        lambda m, t: reverse("admin:events_training_registrations", args=[t.pk]),
        lambda m, t: reverse("set_language"),
        lambda m, t: "/no/such/page/",
    ],
)
def test_every_post_is_refused_with_a_japanese_message(
    viewing,
    edogawa,
    bob,
    make_training,  # noqa: F811  (the fixture imported above)
    url,
):
    training = make_training()

    response = viewing.post(
        url(edogawa, training), {"contact": bob.pk, "act": "register", "new-contact": bob.pk}
    )

    assert response.status_code == 403
    assert "閲覧のみで表示しているため、この操作はできません" in response.content.decode()
    assert not Registration.objects.exists()
    assert Contact.objects.filter(member=edogawa).count() == 2


def test_another_admin_without_the_permission_is_refused(client, registry, edogawa, alice):
    user = User.objects.create_user("clerk", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_member", "change_member"])
    )
    client.force_login(user)

    assert client.get(start_url(edogawa)).status_code == 403
    assert client.post(start_url(edogawa)).status_code == 403
    assert view_as.SESSION_KEY not in client.session
    assert client.get(member_page(edogawa)).status_code == 403  # not their member
    change = reverse("admin:association_member_change", args=[edogawa.pk])
    assert "この団体としてポータルを見る" not in client.get(change).content.decode()
    assert not AuditEntry.objects.filter(action="portal_viewed_as_member").exists()


def test_losing_the_permission_ends_the_view(viewing, edogawa):
    user = User.objects.get(username="support")
    user.user_permissions.remove(Permission.objects.get(codename="view_portal_as_member"))

    assert viewing.get(member_page(edogawa)).status_code == 403
    assert view_as.SESSION_KEY not in viewing.session


def test_it_ends_when_its_time_is_up(viewing, edogawa, monkeypatch):
    later = time.time() + view_as.LASTS.total_seconds() + 1
    monkeypatch.setattr(view_as.time, "time", lambda: later)

    page = viewing.get(member_page(edogawa))

    assert page.status_code == 403
    assert view_as.SESSION_KEY not in viewing.session


def test_it_ends_on_logout(viewing, edogawa):
    assert viewing.post(reverse("account_logout")).status_code == 302

    assert view_as.SESSION_KEY not in viewing.session
    assert viewing.get(member_page(edogawa)).status_code == 302  # to the login page


def test_ending_it_is_allowed_and_audited(viewing, edogawa):
    response = viewing.post(reverse("portal:view_as_end"))

    assert response.status_code == 302
    assert view_as.SESSION_KEY not in viewing.session
    assert AuditEntry.objects.filter(action="portal_view_as_ended").count() == 1
    assert viewing.get(member_page(edogawa)).status_code == 403


def test_a_member_without_a_coordinator_cannot_be_viewed(secretariat, adachi):
    response = secretariat.post(start_url(adachi), follow=True)

    assert "取りまとめ担当の方がいない" in response.content.decode()
    assert view_as.SESSION_KEY not in secretariat.session


def test_without_the_personal_data_permission_it_is_refused(secretariat, edogawa, alice):
    """The portal names the member's people; the admin shows them only with view_contact."""
    user = User.objects.get(username="support")
    user.user_permissions.remove(Permission.objects.get(codename="view_contact"))

    assert secretariat.post(start_url(edogawa)).status_code == 403
    assert view_as.SESSION_KEY not in secretariat.session


def test_a_view_that_times_out_or_ends_by_logout_is_audited_as_ended(viewing, edogawa, monkeypatch):
    later = time.time() + view_as.LASTS.total_seconds() + 1
    monkeypatch.setattr(view_as.time, "time", lambda: later)
    viewing.get(member_page(edogawa))
    assert AuditEntry.objects.filter(action="portal_view_as_ended").count() == 1

    monkeypatch.undo()
    viewing.post(start_url(edogawa))
    viewing.post(reverse("account_logout"))
    assert AuditEntry.objects.filter(action="portal_view_as_ended").count() == 2


def test_a_get_while_viewing_makes_no_survey_invitation(
    secretariat,
    make_training,  # noqa: F811 (the fixture imported above)
    edogawa,
    alice,
):
    from events import services as events
    from inquiries.models import Invitation
    from tests.inquiries.test_surveys import make_survey, opened

    training = make_training(capacity=10)
    events.register_for_training(training, contact=alice)
    survey = opened(make_survey(training, anonymous=False))
    events.mark_attendance(  # marked after the survey opened: no invitation yet
        Registration.objects.filter(training=training, contact=alice),
        attendance=Registration.Attendance.ATTENDED,
        now=training.ends_at,
    )
    secretariat.post(start_url(edogawa))

    secretariat.get(reverse("inquiries:survey", args=[survey.pk]))

    assert not Invitation.objects.filter(inquiry=survey, contact=alice).exists()


def test_the_calendar_feed_url_is_not_shown_while_viewing(viewing, edogawa, alice):
    from events import services as events

    feed = events.issue_calendar_feed(edogawa, actor=alice)
    page = viewing.get(reverse("events:calendar_feed", args=[edogawa.local_government_id]))

    assert page.status_code == 200
    assert feed.token not in page.content.decode()
    assert "閲覧のみの表示中は、URLを表示しません" in page.content.decode()


def test_no_switch_to_another_login_while_viewing(viewing, edogawa, alice):
    from association import services

    user = User.objects.get(username="support")
    user.portal_view_as = alice.pk  # type: ignore[attr-defined]
    assert services.portal_memberships(user, address=user.email) == []
