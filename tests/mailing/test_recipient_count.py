"""A list's current recipient count is kept, not counted over the registry on every page view,
and stays exact: it is recipients(list).count() (the rule sending uses), counted again after
every write that may change who the list reaches."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from association import services as registry
from association.models import Block
from mailing import audience, services
from mailing.models import MailingList
from tests.conftest import lg


def kept(mailing_list: MailingList) -> int:
    """The kept count, checked against the rule counted afresh."""
    fresh = MailingList.objects.get(pk=mailing_list.pk)
    count = audience.recipient_count(fresh)
    assert count == audience.recipients(fresh).count()
    return count


def test_it_counts_once_then_reads_the_count_without_a_query(kanto_list, alice, bob, charlie):
    assert audience.recipient_count(kanto_list) == 3

    with CaptureQueriesContext(connection) as captured:
        assert audience.recipient_count(kanto_list) == 3

    assert len(captured) == 0


def test_it_stays_exact_as_contacts_come_go_and_opt_out(kanto_list, edogawa, alice, bob):
    assert kept(kanto_list) == 2

    carol = registry.add_contact(edogawa, name="田中 花子", email="carol@city.edogawa.example.jp")
    assert kept(kanto_list) == 3

    services.opt_out(kanto_list, bob, source="portal")
    assert kept(kanto_list) == 2
    services.resubscribe(kanto_list, bob, source="portal")
    assert kept(kanto_list) == 3

    services.suppress_address(carol.email, reason="manual")
    assert kept(kanto_list) == 2
    services.unsuppress_address(carol.email)
    assert kept(kanto_list) == 3

    registry.deactivate_contact(carol)
    assert kept(kanto_list) == 2
    registry.erase_contact(bob)
    assert kept(kanto_list) == 1
    registry.withdraw_member(edogawa, left_on=dt.date(2026, 3, 31))
    assert kept(kanto_list) == 0


def test_it_stays_exact_when_the_rule_or_the_agreements_change(kanto_list, alice, charlie):
    osaka = registry.admit_member(lg("大阪府大阪市"))
    registry.add_contact(osaka, name="中村 拓也", email="dave@city.osaka.example.jp")
    assert kept(kanto_list) == 2

    kanto_list.blocks.add(Block.objects.get(name="近畿"))
    assert kept(kanto_list) == 3
    kanto_list.contact_roles = ["coordinator"]
    kanto_list.save(update_fields=["contact_roles", "updated_at"])
    assert kept(kanto_list) == 2  # alice and charlie coordinate; dave does not
    kanto_list.blocks.clear()
    kanto_list.contact_roles = []
    kanto_list.partners = True
    kanto_list.save(update_fields=["contact_roles", "partners", "updated_at"])
    assert kept(kanto_list) == 0

    registry.record_agreement(osaka.local_government, signed_on=dt.date(2020, 4, 1))
    assert kept(kanto_list) == 1


def test_the_list_page_shows_the_kept_count_and_counts_nothing_on_a_second_view(
    admin_client, kanto_list, alice, bob, charlie
):
    url = reverse("admin:mailing_mailinglist_change", args=[kanto_list.pk])
    assert "3 名（いま送信した場合" in admin_client.get(url).content.decode()

    with CaptureQueriesContext(connection) as captured:
        html = admin_client.get(url).content.decode()

    assert "3 名（いま送信した場合" in html
    assert not [q for q in captured if 'FROM "association_contact"' in q["sql"]]
    services.opt_out(kanto_list, alice, source="portal")
    assert "2 名（いま送信した場合" in admin_client.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_count_taken_before_another_write_commits_is_not_read_after_it(kanto_list):
    from django.db import transaction

    edogawa = registry.admit_member(lg("東京都江戸川区"))
    assert kept(kanto_list) == 0
    with transaction.atomic():
        registry.add_contact(edogawa, name="佐藤 美咲", email="alice@city.edogawa.example.jp")
        # Another process, not seeing the uncommitted contact, counts under the version then.
        stale = audience.recipients(kanto_list).count()
        audience.cache.set(
            f"mailing:recipients:{kanto_list.pk}:{kanto_list.updated_at.timestamp()}:"
            f"{audience.cache.get(audience.VERSION_KEY)}",
            stale - 1,
        )

    assert kept(kanto_list) == 1
