"""Soft or hard, as each provider says it (issue 9 §6): a hard bounce suppresses and opts out
the address; a soft one (SES Transient/Undetermined, Postmark SoftBounce, Brevo soft_bounce,
Mailgun temporary, SendGrid blocked, SparkPost soft classes, Resend Transient) is counted on the
delivery, shown as 一時的エラー, and suppresses no one. Each from the provider's documented
payload, through anymail's real webhook view."""

from __future__ import annotations

import pytest

from mailing import services
from mailing.models import Delivery, ProviderEvent, Subscription, Suppression

from .provider_events import (
    brevo_bounce,
    mailgun_failure,
    post,
    postmark_bounce,
    receive_events_from,
    record_provider_id,
    resend_bounce,
    send_bulletin,
    sendgrid_bounce,
    ses_bounce,
    sparkpost_bounce,
)

HARD = {
    "amazon_ses": lambda to: ses_bounce([to]),
    "postmark": lambda to: postmark_bounce(to),
    "brevo": lambda to: brevo_bounce(to),
    "mailgun": lambda to: mailgun_failure(to),
    "sendgrid": lambda to: sendgrid_bounce(to),
    "sparkpost": lambda to: sparkpost_bounce(to, bounce_class="10"),
    "resend": lambda to: resend_bounce(to),
}
SOFT = {
    "amazon_ses Transient": lambda to: ses_bounce(
        [to], bounce_type="Transient", sub_type="MailboxFull"
    ),
    "amazon_ses Undetermined": lambda to: ses_bounce(
        [to], bounce_type="Undetermined", sub_type="Undetermined"
    ),
    "postmark SoftBounce": lambda to: postmark_bounce(to, kind="SoftBounce"),
    "brevo soft_bounce": lambda to: brevo_bounce(to, kind="soft_bounce"),
    "mailgun temporary": lambda to: mailgun_failure(to, severity="temporary"),
    "sendgrid blocked": lambda to: sendgrid_bounce(to, kind="blocked"),
    "sparkpost 22 (mailbox full)": lambda to: sparkpost_bounce(to, bounce_class="22"),
    "sparkpost 50 (mail block)": lambda to: sparkpost_bounce(to, bounce_class="50"),
    "resend Transient": lambda to: resend_bounce(to, kind="Transient"),
}


@pytest.fixture
def delivery(all_members_list, alice, charlie) -> Delivery:
    deliveries = send_bulletin(all_members_list)
    return next(d for d in deliveries if d.email == alice.email)


@pytest.mark.django_db
@pytest.mark.parametrize("provider", sorted(HARD))
def test_a_hard_bounce_suppresses_and_opts_out(client, settings, delivery, alice, provider):
    receive_events_from(settings, provider)
    event = HARD[provider](alice.email)
    record_provider_id(delivery, event)

    response = post(client, event)

    assert response.status_code == 200, response.content
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.BOUNCED
    assert delivery.soft_bounces == 0
    assert ProviderEvent.objects.get().event_type == "bounced"
    assert Suppression.objects.get().reason == Suppression.Reason.HARD_BOUNCE
    assert Subscription.objects.get(contact=alice).status == Subscription.Status.OPTED_OUT


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(SOFT))
def test_a_soft_bounce_is_counted_and_suppresses_no_one(client, settings, delivery, alice, case):
    receive_events_from(settings, case.split()[0])
    event = SOFT[case](alice.email)
    record_provider_id(delivery, event)

    response = post(client, event)

    assert response.status_code == 200, response.content
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.soft_bounces == 1
    assert ProviderEvent.objects.get().event_type in services.TEMPORARY_EVENTS
    assert not Suppression.objects.exists()
    assert not Subscription.objects.filter(contact=alice).exists()


@pytest.mark.django_db
def test_one_ses_notification_about_two_recipients_records_both(
    client, settings, all_members_list, alice, charlie
):
    """SES gives every recipient of one notification the same event id."""
    deliveries = send_bulletin(all_members_list)
    receive_events_from(settings, "amazon_ses")
    event = ses_bounce([alice.email, charlie.email])
    for delivery in deliveries:  # one message to both (as a batch send records it)
        record_provider_id(delivery, event)

    for _replay in range(2):
        assert post(client, event).status_code == 200

    events = ProviderEvent.objects.order_by("recipient")
    assert [e.recipient for e in events] == sorted([alice.email, charlie.email])
    assert len({e.event_id for e in events}) == 1
    assert {d.status for d in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])} == {
        Delivery.Status.BOUNCED
    }
    assert Suppression.objects.count() == 2


@pytest.mark.django_db
def test_a_soft_bounce_then_a_hard_one_with_the_same_id_are_two_events(
    client, settings, delivery, alice
):
    receive_events_from(settings, "postmark")
    soft = postmark_bounce(alice.email, kind="SoftBounce", event_id=7)
    hard = postmark_bounce(alice.email, kind="HardBounce", event_id=7)
    record_provider_id(delivery, soft)

    post(client, soft)
    post(client, hard)

    assert ProviderEvent.objects.count() == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.soft_bounces) == (Delivery.Status.BOUNCED, 1)


@pytest.mark.django_db
def test_a_deferral_is_shown_in_the_delivery_list_and_the_bulletin_report(
    client, admin_client, settings, delivery, alice
):
    receive_events_from(settings, "sparkpost")
    event = sparkpost_bounce(alice.email, bounce_class="22")
    record_provider_id(delivery, event)
    post(client, event)

    listing = admin_client.get(
        "/admin/mailing/delivery/",
        {"bulletin__id__exact": delivery.bulletin_id, "temporary": "yes"},
    )
    assert listing.status_code == 200
    rows = listing.context["cl"].result_list
    assert [d.pk for d in rows] == [delivery.pk]
    assert "あり（1回）" in listing.content.decode()
    clean = admin_client.get("/admin/mailing/delivery/", {"temporary": "no"})
    assert delivery.pk not in [d.pk for d in clean.context["cl"].result_list]

    report = admin_client.get(f"/admin/mailing/bulletin/{delivery.bulletin_id}/change/")
    page = report.content.decode()
    assert report.context["report"]["temporary_count"] == 1
    assert "一時的エラー 1 件" in page
    assert "temporary=yes" in page
