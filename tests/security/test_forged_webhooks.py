"""Attack: post provider events that suppress and opt out real recipients (issue 8 §3). A
forged bounce for another recipient, a replayed one, a guessed Message-ID, a provider Renkei
does not use, a production without the webhook secret: each is refused or changes nothing."""

from __future__ import annotations

import re

import pytest
from django.core.checks import Error

from config.checks import check_provider_webhooks
from mailing.models import Delivery, MailingList, ProviderEvent, Subscription, Suppression
from tests.mailing.provider_events import (
    BACKENDS,
    brevo_bounce,
    post,
    postmark_bounce,
    receive_events_from,
    send_bulletin,
)

from .test_production import readme_production_env, run_manage


@pytest.fixture
def everyone(registry) -> MailingList:
    return MailingList.objects.create(name="全会員", slug="all", all_members=True)


@pytest.fixture
def sent(everyone, alice, charlie, outbox) -> dict[str, Delivery]:
    deliveries = send_bulletin(everyone)
    return {d.email: d for d in deliveries}


def _unchanged(*deliveries: Delivery) -> None:
    for delivery in deliveries:
        before = delivery.status
        delivery.refresh_from_db()
        assert (delivery.status, delivery.soft_bounces) == (before, 0)
    assert not Suppression.objects.exists()
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_a_forged_postmark_bounce_for_another_recipient_changes_nothing(
    client, settings, sent, alice, charlie, outbox
):
    """alice knows her own message's id (it is in the header of the mail she got) and posts,
    with the webhook credentials, a bounce of that id naming charlie's address."""
    receive_events_from(settings, "postmark")
    own_id = outbox.to(alice.email)[0].message["Message-ID"]
    assert sent[alice.email].provider_message_id == own_id

    response = post(client, postmark_bounce(charlie.email, message_id=own_id))

    assert response.status_code == 200  # accepted and logged, as anymail wants
    assert ProviderEvent.objects.get().delivery is None
    _unchanged(sent[alice.email], sent[charlie.email])


@pytest.mark.django_db
def test_a_forged_bounce_without_the_secret_is_refused(client, settings, sent, alice):
    receive_events_from(settings, "postmark")
    event = postmark_bounce(alice.email, message_id=sent[alice.email].provider_message_id)

    for secret in (None, "renkei:guess", "postmark:webhook-secret"):
        assert post(client, event, secret=secret).status_code in (400, 401, 403)

    assert not ProviderEvent.objects.exists()
    _unchanged(sent[alice.email])


@pytest.mark.django_db
def test_a_bounce_naming_a_guessed_message_id_finds_no_delivery(
    client, settings, sent, alice, charlie, outbox
):
    """Message-IDs were <bulletin-1.delivery-2@…>: the next recipient's was one more, and an
    unknown id fell back to the delivery number inside it."""
    ids = [outbox.to(address)[0].message["Message-ID"] for address in (alice.email, charlie.email)]
    local_parts = [i.strip("<>").partition("@")[0] for i in ids]
    assert all(re.fullmatch(r"[a-z2-7]{26}", part) for part in local_parts), ids  # 128 bits
    assert len(set(local_parts)) == 2
    receive_events_from(settings, "postmark")
    victim = sent[charlie.email]
    guesses = [
        f"<bulletin-{victim.bulletin_id}.delivery-{victim.pk}@renkei.example.jp>",
        f"bulletin-{victim.bulletin_id}.delivery-{victim.pk}@renkei.example.jp",
    ]

    for n, guess in enumerate(guesses):
        post(client, postmark_bounce(charlie.email, message_id=guess, event_id=100 + n))

    assert ProviderEvent.objects.filter(delivery__isnull=False).count() == 0
    _unchanged(victim)


@pytest.mark.django_db
def test_a_replayed_bounce_counts_once(client, settings, sent, alice):
    receive_events_from(settings, "postmark")
    delivery = sent[alice.email]
    hard = postmark_bounce(alice.email, message_id=delivery.provider_message_id, event_id=1)
    soft = postmark_bounce(
        alice.email, kind="SoftBounce", message_id=delivery.provider_message_id, event_id=2
    )

    for _replay in range(3):
        assert post(client, soft).status_code == 200
        assert post(client, hard).status_code == 200

    assert ProviderEvent.objects.count() == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.soft_bounces) == (Delivery.Status.BOUNCED, 1)
    assert Suppression.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["tracking", "inbound"])
def test_an_unconfigured_providers_url_is_404(client, settings, sent, alice, kind):
    receive_events_from(settings, "postmark")
    event = brevo_bounce(alice.email)

    for provider in [*sorted(set(BACKENDS) - {"postmark"}), "mandrill", "mailjet", "nobody"]:
        url = f"/mail/anymail/{provider}/{kind}/"
        assert client.post(url, data="{}", content_type="application/json").status_code == 404
    assert client.post("/mail/anymail/mandrill/", data={}).status_code == 404
    response = client.post(
        f"/mail/anymail/postmark/{kind}/", data="{}", content_type="application/json"
    )
    assert response.status_code == 400  # mounted: anymail asks for the credentials
    assert post(client, event).status_code == 404
    assert not ProviderEvent.objects.exists()


@pytest.mark.django_db
def test_with_no_provider_configured_no_webhook_is_mounted(client, settings, sent):
    assert not settings.MAILING_EMAIL_BACKEND
    for provider in BACKENDS:
        response = client.post(f"/mail/anymail/{provider}/tracking/", data={})
        assert response.status_code == 404


@pytest.mark.django_db
def test_in_production_a_provider_without_its_secret_is_not_mounted(client, settings, sent, alice):
    receive_events_from(settings, "postmark", secret=None)
    settings.PRODUCTION = True
    event = postmark_bounce(alice.email, message_id=sent[alice.email].provider_message_id)

    assert post(client, event, secret=None).status_code == 404
    assert not ProviderEvent.objects.exists()


@pytest.mark.parametrize(
    ("provider", "missing"),
    [
        ("amazon_ses", ["ANYMAIL_WEBHOOK_SECRET"]),
        ("postmark", ["ANYMAIL_WEBHOOK_SECRET"]),
        ("mailgun", ["ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY", "ANYMAIL_WEBHOOK_SECRET"]),
        ("resend", ["ANYMAIL_RESEND_INBOUND_SECRET", "ANYMAIL_RESEND_SIGNING_SECRET"]),
    ],
)
def test_the_deploy_check_names_every_missing_webhook_credential(settings, provider, missing):
    settings.PRODUCTION = True
    settings.MAILING_EMAIL_BACKEND = BACKENDS[provider]
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": ""}
    if provider == "resend":
        settings.ANYMAIL = {"WEBHOOK_SECRET": "renkei:secret"}

    problems = check_provider_webhooks()

    assert [p.id for p in problems] == ["renkei.E002"]
    assert isinstance(problems[0], Error)
    named = re.findall(r"ANYMAIL_[A-Z_]+", problems[0].msg)
    assert sorted(named) == missing


def test_the_deploy_check_passes_with_the_secret_and_the_signing_key(settings):
    settings.PRODUCTION = True
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["renkei:new", "renkei:old"]}
    for provider in ("amazon_ses", "postmark", "brevo", "sparkpost"):
        settings.MAILING_EMAIL_BACKEND = BACKENDS[provider]
        assert check_provider_webhooks() == []
    settings.MAILING_EMAIL_BACKEND = BACKENDS["mailgun"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": "renkei:new", "MAILGUN_WEBHOOK_SIGNING_KEY": "key-1"}
    assert check_provider_webhooks() == []


def test_production_without_the_webhook_secret_fails_the_deploy_check(tmp_path):
    env = readme_production_env()
    assert "ANYMAIL_WEBHOOK_SECRET_FILE" in env
    del env["ANYMAIL_WEBHOOK_SECRET_FILE"]

    result = run_manage(env, "check", "--deploy", tmp_path=tmp_path)

    assert result.returncode != 0
    assert "renkei.E002" in result.stderr and "ANYMAIL_WEBHOOK_SECRET" in result.stderr


@pytest.mark.django_db
def test_a_provider_whose_events_renkei_does_not_read_is_a_warning_and_mounts_nothing(
    client, settings
):
    settings.PRODUCTION = True
    settings.MAILING_EMAIL_BACKEND = "anymail.backends.mailjet.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "renkei:secret"}

    assert [p.id for p in check_provider_webhooks()] == ["renkei.W003"]
    assert client.post("/mail/anymail/mailjet/tracking/", data={}).status_code == 404
