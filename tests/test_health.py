import json

import pytest
from django.test import override_settings


def test_healthz_reports_the_database_and_the_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_healthz_answers_503_when_the_broker_is_down(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True


@pytest.mark.django_db
def test_the_outbox_page_is_hidden_unless_debug(client):
    assert client.get("/dev/outbox/").status_code == 404


@override_settings(DEBUG=True)
def test_the_outbox_page_lists_and_shows_sent_mail_to_a_superuser(client, db, outbox):
    from django.core.mail import EmailMultiAlternatives

    from association.models import User

    message = EmailMultiAlternatives(
        "件名テスト", "本文です。\nhttps://example.jp/x\n", to=["a@example.jp"]
    )
    message.attach_alternative("<p>本文です。</p>", "text/html")
    message.send()
    client.force_login(User.objects.create_superuser("root", "root@example.jp", "x-long-pass"))
    listing = client.get("/dev/outbox/").content.decode()
    assert "件名テスト" in listing
    item = outbox.messages()[0]
    detail = client.get(f"/dev/outbox/{item.name}/").content.decode()
    assert "本文です。" in detail and "Content-Type" in detail


def test_healthz_tells_the_public_only_ok_or_not(client, db):
    response = client.get("/healthz", REMOTE_ADDR="192.0.2.10")
    assert json.loads(response.content) == {"status": "ok"}
    behind_proxy = client.get("/healthz", HTTP_X_FORWARDED_FOR="192.0.2.10")
    assert json.loads(behind_proxy.content) == {"status": "ok"}
