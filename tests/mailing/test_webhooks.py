"""Provider events through anymail's real Brevo tracking webhook view, with Brevo's payloads."""

import base64
import json
import logging

import pytest

from mailing import services
from mailing.models import Delivery, ProviderEvent, Subscription, Suppression

URL = "/mail/anymail/brevo/tracking/"


@pytest.fixture
def secrets(settings, sent_delivery):
    """Bulletins go out through Brevo from here on (the send itself went to the outbox)."""
    settings.MAILING_EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": ["renkei:new-secret", "renkei:old-secret"],
        "BREVO_API_KEY": "xkeysib-test",  # the inbound view wants one (to fetch attachments)
    }


def _auth(secret):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def _payload(delivery, event, *, reason="", ts=1764140400):
    return {
        "event": event,
        "email": delivery.email,
        "id": 1234567,
        "date": "2026-11-26 16:00:00",
        "ts": ts,
        "message-id": delivery.provider_message_id,
        "ts_event": ts,
        "subject": "【市区町村会】研修会のご案内",
        "tag": "",
        "sending_ip": "185.41.28.109",
        "ts_epoch": ts * 1000,
        "reason": reason,
    }


def _post(client, payload, secret="renkei:new-secret"):
    headers = _auth(secret) if secret else {}
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **headers)


@pytest.fixture
def sent_delivery(all_members_list, alice, charlie):
    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="お知らせ", body="本文"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)
    return Delivery.objects.get(bulletin=bulletin, email=alice.email)


@pytest.mark.django_db
@pytest.mark.parametrize("secret", [None, "renkei:wrong", "someone:new-secret"])
def test_it_rejects_missing_or_wrong_credentials_and_changes_nothing(
    client, secrets, sent_delivery, secret
):
    response = _post(client, _payload(sent_delivery, "hard_bounce"), secret=secret)

    assert response.status_code in (400, 401, 403)
    assert not ProviderEvent.objects.exists()
    assert not Suppression.objects.exists()
    sent_delivery.refresh_from_db()
    assert sent_delivery.status == Delivery.Status.SENT


@pytest.mark.django_db
def test_it_accepts_the_previous_secret_while_rotating(client, secrets, sent_delivery):
    response = _post(client, _payload(sent_delivery, "delivered"), secret="renkei:old-secret")

    assert response.status_code == 200
    sent_delivery.refresh_from_db()
    assert sent_delivery.status == Delivery.Status.DELIVERED


@pytest.mark.django_db
def test_it_suppresses_and_opts_out_on_a_hard_bounce_once_however_often_replayed(
    client, secrets, sent_delivery, alice
):
    payload = _payload(sent_delivery, "hard_bounce", reason="550 5.1.1 User unknown")
    for _ in range(3):
        assert _post(client, payload).status_code == 200

    assert ProviderEvent.objects.count() == 1
    sent_delivery.refresh_from_db()
    assert sent_delivery.status == Delivery.Status.BOUNCED
    assert "User unknown" in sent_delivery.error
    assert Suppression.objects.get().reason == Suppression.Reason.HARD_BOUNCE
    subscription = Subscription.objects.get(contact=alice)
    assert subscription.status == Subscription.Status.OPTED_OUT
    assert list(services.members_without_reachable_contact()) == [alice.member]


@pytest.mark.django_db
def test_it_moves_status_forward_only(client, secrets, sent_delivery):
    _post(client, _payload(sent_delivery, "spam", ts=1764140500))
    _post(client, _payload(sent_delivery, "delivered", ts=1764140400))

    sent_delivery.refresh_from_db()
    assert sent_delivery.status == Delivery.Status.COMPLAINED
    assert Suppression.objects.get().reason == Suppression.Reason.COMPLAINT
    assert ProviderEvent.objects.count() == 2


@pytest.mark.django_db
def test_it_counts_a_soft_bounce_without_suppressing(client, secrets, sent_delivery):
    _post(client, _payload(sent_delivery, "soft_bounce", reason="452 mailbox full"))

    sent_delivery.refresh_from_db()
    assert sent_delivery.soft_bounces == 1
    assert sent_delivery.status == Delivery.Status.SENT
    assert not Suppression.objects.exists()


@pytest.mark.django_db
def test_an_event_that_came_before_its_send_was_recorded_is_applied_by_the_sweeper(
    client, secrets, sent_delivery, alice
):
    brevo_id = "<202611261600.98765@smtp-relay.mailin.fr>"
    Delivery.objects.filter(pk=sent_delivery.pk).update(provider_message_id="")
    payload = _payload(sent_delivery, "hard_bounce", reason="550 5.1.1 User unknown")
    assert _post(client, payload | {"message-id": brevo_id}).status_code == 200
    assert ProviderEvent.objects.get().delivery is None

    Delivery.objects.filter(pk=sent_delivery.pk).update(provider_message_id=brevo_id)
    first, second = services.sweep_deliveries(), services.sweep_deliveries()

    assert (first.linked_events, second.linked_events) == (1, 0)
    assert ProviderEvent.objects.get().delivery == sent_delivery
    sent_delivery.refresh_from_db()
    assert sent_delivery.status == Delivery.Status.BOUNCED
    assert Suppression.objects.get().reason == Suppression.Reason.HARD_BOUNCE
    assert Subscription.objects.get(contact=alice).status == Subscription.Status.OPTED_OUT


@pytest.mark.django_db
def test_it_accepts_and_logs_an_event_for_an_unknown_message(
    client, secrets, sent_delivery, caplog
):
    payload = _payload(sent_delivery, "hard_bounce") | {"message-id": "<unknown@elsewhere.example>"}
    with caplog.at_level(logging.WARNING, logger="mailing.services"):
        response = _post(client, payload)

    assert response.status_code == 200
    assert ProviderEvent.objects.get().delivery is None
    assert "unknown message" in caplog.text
    assert not Suppression.objects.exists()


@pytest.mark.django_db
def test_it_unsubscribes_by_the_mailto_in_list_unsubscribe(
    client, secrets, outbox, sent_delivery, alice
):
    header = outbox.to(alice.email)[0].message["List-Unsubscribe"]
    mailto = header.split(",")[1].strip(" <>")
    subject = mailto.split("subject=")[1].replace("%20", " ")
    payload = {
        "items": [
            {
                "Uuid": ["8bba5d8f-5d5c-4f5a-9a63-2c2a1f0e6b1c"],
                "MessageId": "<CAF=abc@mail.city.edogawa.example.jp>",
                "InReplyTo": None,
                "From": {"Name": "佐藤 美咲", "Address": alice.email},
                "To": [{"Name": None, "Address": "jimukyoku@renkei.example.jp"}],
                "Subject": subject,
                "SentAtDate": "Thu, 26 Nov 2026 16:20:00 +0900",
                "RawTextBody": "",
                "RawHtmlBody": "",
                "ExtractedMarkdownMessage": "",
                "Headers": {
                    "From": f"佐藤 美咲 <{alice.email}>",
                    "To": "jimukyoku@renkei.example.jp",
                    "Subject": subject,
                    "Message-ID": "<CAF=abc@mail.city.edogawa.example.jp>",
                },
                "SpamScore": 0.1,
                "Attachments": [],
            }
        ]
    }
    response = client.post(
        "/mail/anymail/brevo/inbound/",
        data=json.dumps(payload),
        content_type="application/json",
        **_auth("renkei:new-secret"),
    )

    assert response.status_code == 200
    subscription = Subscription.objects.get(contact=alice)
    assert subscription.status == Subscription.Status.OPTED_OUT
    assert subscription.source == Subscription.Source.MAILTO


@pytest.mark.django_db
def test_it_marks_a_sent_message_the_provider_later_blocked_as_failed(
    client, secrets, sent_delivery
):
    _post(client, _payload(sent_delivery, "blocked", reason="blocked by policy"))

    sent_delivery.refresh_from_db()
    assert sent_delivery.status == Delivery.Status.FAILED
    assert not Suppression.objects.exists()
