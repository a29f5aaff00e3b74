"""The mailing admin: changelists in a fixed number of queries, lists edited with their
hand-added contacts, opt-outs and suppressions added and removed through services."""

import pytest
from django.urls import reverse

from association.models import Block
from mailing import audience, services
from mailing.models import Bulletin, Delivery, MailingList, Subscription, Suppression

from .helpers import make_contacts

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_mailing(registry, all_members_list, kanto_list):
    """Thirty contacts, a few sent bulletins with deliveries, opt-outs and suppressions."""
    contacts = make_contacts(30, per_member=3)
    for n, contact in enumerate(contacts[:6]):
        services.opt_out(kanto_list if n % 2 else all_members_list, contact, source="portal")
    for contact in contacts[6:9]:
        services.suppress_address(contact.email, reason="manual")
    for n in range(3):
        bulletin = services.save_bulletin(
            None, mailing_list=all_members_list, subject=f"お知らせ {n}", body="本文"
        )
        services.start_bulletin(bulletin)
        services.snapshot_audience(bulletin.pk)
        while services.drain_bulletin(bulletin.pk):
            pass
    for n in range(10):
        services.save_bulletin(None, mailing_list=kanto_list, subject=f"下書き {n}", body="")
    for n, delivery in enumerate(Delivery.objects.filter(status="sent")[:10]):
        services.record_provider_event(
            services.EventInput(
                provider="test",
                event_id=f"ev-{n}",
                event_type="delivered",
                message_id=delivery.provider_message_id,
                recipient=delivery.email,
            )
        )
    for n in range(5):
        mailing_list = MailingList.objects.create(name=f"ブロック{n}", slug=f"block-{n}")
        mailing_list.blocks.add(*Block.objects.all()[:2])
    return contacts


@pytest.mark.parametrize(
    "model", ["mailinglist", "subscription", "suppression", "bulletin", "delivery", "providerevent"]
)
def test_every_mailing_changelist_runs_a_fixed_number_of_queries(
    admin_client, busy_mailing, model, django_assert_max_num_queries
):
    url = reverse(f"admin:mailing_{model}_changelist")

    with django_assert_max_num_queries(12):
        response = admin_client.get(url)

    assert response.status_code == 200
    if model == "providerevent":
        assert "お知らせ 0" in response.content.decode()  # each event names its bulletin


def test_the_bulletin_changelist_shows_sent_counts(admin_client, busy_mailing):
    html = admin_client.get(reverse("admin:mailing_bulletin_changelist")).content.decode()

    bulletin = Bulletin.objects.sent().earliest("pk")
    sent = bulletin.deliveries.filter(status__in=["sent", "delivered"]).count()
    total = bulletin.deliveries.count()
    assert f"{sent} / {total}" in html
    assert sent < total  # the opted-out and suppressed were skipped


def test_the_list_page_shows_the_live_recipient_count(admin_client, kanto_list, alice, charlie):
    services.opt_out(kanto_list, charlie, source="portal")
    url = reverse("admin:mailing_mailinglist_change", args=[kanto_list.pk])

    html = admin_client.get(url).content.decode()

    assert audience.recipients(kanto_list).count() == 1
    assert "1 名（いま送信した場合" in html


def _list_form(mailing_list, **changes):
    data = {
        "name": mailing_list.name,
        "slug": mailing_list.slug,
        "description": mailing_list.description,
        "subject_prefix": mailing_list.subject_prefix,
        "reply_to": "",
        "send_html": "on",
        "is_active": "on",
        "blocks": [b.pk for b in mailing_list.blocks.all()],
        "prefectures": [],
        "member_kinds": [],
        "contact_roles": [],
        "hand_added": [],
    }
    data.update(changes)
    return data


def test_it_edits_the_rule_and_hand_adds_and_removes_contacts_through_services(
    admin_client, kanto_list, alice, bob, registry
):
    from association import services as registry_services
    from tests.conftest import lg

    osaka = registry_services.admit_member(lg("大阪府大阪市"))
    dave = registry_services.add_contact(
        osaka, name="中村 拓也", email="dave@city.osaka.example.jp"
    )
    url = reverse("admin:mailing_mailinglist_change", args=[kanto_list.pk])

    response = admin_client.post(
        url, _list_form(kanto_list, contact_roles=["coordinator"], hand_added=[dave.pk])
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    kanto_list.refresh_from_db()
    assert kanto_list.contact_roles == ["coordinator"]
    assert set(audience.recipients(kanto_list)) == {alice, dave}
    assert Subscription.objects.get(contact=dave).source == Subscription.Source.SECRETARIAT

    admin_client.post(url, _list_form(kanto_list, contact_roles=["coordinator"], hand_added=[]))
    assert set(audience.recipients(kanto_list)) == {alice}


def test_it_suppresses_and_unsuppresses_an_address_through_services(
    admin_client, alice, all_members_list
):
    response = admin_client.post(
        reverse("admin:mailing_suppression_add"),
        {"email": " ALICE@city.edogawa.example.jp ", "reason": "manual", "note": "電話で依頼"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.email == alice.email  # normalised by the service
    assert alice not in audience.recipients(all_members_list)

    admin_client.post(
        reverse("admin:mailing_suppression_delete", args=[suppression.pk]), {"post": "yes"}
    )
    assert not Suppression.objects.exists()
    assert alice in audience.recipients(all_members_list)


def test_it_records_an_opt_out_for_a_contact_and_lifts_it(admin_client, alice, all_members_list):
    admin_client.post(
        reverse("admin:mailing_subscription_add"),
        {"mailing_list": all_members_list.pk, "contact": alice.pk, "status": "opted_out"},
    )
    subscription = Subscription.objects.get()
    assert subscription.status == Subscription.Status.OPTED_OUT
    assert alice not in audience.recipients(all_members_list)

    admin_client.post(
        reverse("admin:mailing_subscription_delete", args=[subscription.pk]), {"post": "yes"}
    )
    assert alice in audience.recipients(all_members_list)


def test_deliveries_and_provider_events_are_read_only(admin_client, busy_mailing):
    delivery = Delivery.objects.earliest("pk")
    url = reverse("admin:mailing_delivery_change", args=[delivery.pk])

    response = admin_client.post(url, {"status": "failed"})

    assert response.status_code == 403
    assert (
        reverse("admin:mailing_delivery_changelist")
        in admin_client.get(reverse("admin:index")).content.decode()
    )
