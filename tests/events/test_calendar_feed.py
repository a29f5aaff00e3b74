"""A member's calendar feed (issue 10 §5): a coordinator issues a secret URL that calendar apps
read without logging in; issuing again or revoking ends the old URL; no one else may issue."""

from __future__ import annotations

from django.urls import reverse
from icalendar import Calendar

from events import services
from events.models import CalendarFeed


def feed_page(member) -> str:
    return reverse("events:calendar_feed", args=[member.local_government_id])


def test_a_coordinator_issues_a_feed_of_the_members_registrations(
    client, make_training, alice, bob, charlie, edogawa
):
    training = make_training(title="令和8年度 全体研修会")
    ours = services.register_for_training(training, contact=bob)
    services.register_for_training(training, contact=charlie)  # 足立区: not in our feed
    client.force_login(alice.user)

    client.post(feed_page(edogawa), {"act": "issue"})
    feed = CalendarFeed.objects.get(member=edogawa, revoked_at__isnull=True)
    client.logout()
    response = client.get(reverse("events:feed", args=[feed.token]))

    assert response.status_code == 200 and response["Content-Type"] == "text/calendar"
    calendar = Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    assert event["UID"] == f"training-{training.pk}-registration-{ours.pk}@renkei"
    assert bob.name in str(event["DESCRIPTION"]) and charlie.name not in response.content.decode()
    assert "meet.example.jp" not in response.content.decode()


def test_reissuing_or_revoking_ends_the_old_url(client, make_training, alice, edogawa):
    client.force_login(alice.user)
    client.post(feed_page(edogawa), {"act": "issue"})
    old = CalendarFeed.objects.get(revoked_at__isnull=True).token

    client.post(feed_page(edogawa), {"act": "issue"})
    new = CalendarFeed.objects.get(revoked_at__isnull=True).token
    assert client.get(reverse("events:feed", args=[old])).status_code == 404
    assert client.get(reverse("events:feed", args=[new])).status_code == 200

    client.post(feed_page(edogawa), {"act": "revoke"})
    assert client.get(reverse("events:feed", args=[new])).status_code == 404
    assert "配信URLを発行する" in client.get(feed_page(edogawa)).content.decode()


def test_staff_and_other_municipalities_cannot_issue_a_feed(client, bob, charlie, edogawa):
    for person in (bob, charlie):
        client.force_login(person.user)
        assert client.post(feed_page(edogawa), {"act": "issue"}).status_code in (403, 404)
    assert not CalendarFeed.objects.exists()


def test_a_guessed_token_finds_nothing(client, db):
    assert client.get(reverse("events:feed", args=["x" * 43])).status_code == 404
