"""A bulletin to named people (a 照会's request to each member's coordinators): the pipeline's
message (List-Id, List-Unsubscribe, one Delivery per address) reaches those people only, never
the list's whole audience, and its archive copy is shown only to the addressed members."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mailing import services
from mailing.models import Addressee, Bulletin, Delivery, Subscription

pytestmark = pytest.mark.django_db


def _drain(bulletin: Bulletin) -> Bulletin:
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass
    bulletin.refresh_from_db()
    return bulletin


def test_it_reaches_the_named_people_only_with_the_list_headers(
    all_members_list, alice, bob, charlie, outbox
):
    bulletin = services.send_addressed_bulletin(
        all_members_list, subject="照会のお願い", body="回答をお願いします。", contacts=[alice]
    )
    assert bulletin is not None and bulletin.addressed
    bulletin = _drain(bulletin)
    assert bulletin.status == Bulletin.Status.SENT
    assert [m.to for m in outbox.messages()] == [alice.email]
    message = outbox.to(alice.email)[0].message
    assert "<all." in message["List-Id"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert list(Delivery.objects.filter(bulletin=bulletin).values_list("email", flat=True)) == [
        alice.email
    ]
    assert services.snapshot_audience(bulletin.pk) == 0  # twice: nothing new


def test_it_never_falls_back_to_the_lists_audience(all_members_list, alice, bob, charlie):
    bulletin = services.send_addressed_bulletin(
        all_members_list, subject="照会", body="本文", contacts=[]
    )
    assert bulletin is None
    assert not Bulletin.objects.exists()
    # Addressees whose rows are gone (a contact deleted) leave an empty audience, not the list.
    sent = services.send_addressed_bulletin(
        all_members_list, subject="照会", body="本文", contacts=[bob]
    )
    assert sent is not None
    Addressee.objects.filter(bulletin=sent).delete()
    assert services.snapshot_audience(sent.pk) == 0


def test_it_honours_the_lists_opt_out_and_the_suppression_list(
    all_members_list, alice, bob, charlie
):
    services.opt_out(all_members_list, alice, source=Subscription.Source.PORTAL)
    services.suppress_address(charlie.email, reason="manual")
    bulletin = services.send_addressed_bulletin(
        all_members_list, subject="照会", body="本文", contacts=[alice, bob, charlie]
    )
    assert bulletin is not None
    _drain(bulletin)
    rows = dict(Delivery.objects.filter(bulletin=bulletin).values_list("email", "status"))
    assert rows == {
        alice.email: Delivery.Status.SKIPPED,
        bob.email: Delivery.Status.SENT,
        charlie.email: Delivery.Status.SKIPPED,
    }


def test_its_archive_copy_is_for_the_addressed_members_only(all_members_list, alice, bob, charlie):
    addressed = services.send_addressed_bulletin(
        all_members_list, subject="江戸川区への照会", body="本文", contacts=[alice]
    )
    assert addressed is not None
    _drain(addressed)
    everyone = services.save_bulletin(
        None, mailing_list=all_members_list, subject="全会員へのお知らせ", body="本文"
    )
    services.start_bulletin(everyone)
    _drain(everyone)
    detail = reverse("mailing:archive_detail", args=[addressed.pk])

    colleague = Client()  # 鈴木, of the same municipality, was not named but may read it
    colleague.force_login(bob.user)
    page = colleague.get(reverse("mailing:archive")).content.decode()
    assert "江戸川区への照会" in page and "全会員へのお知らせ" in page
    assert colleague.get(detail).status_code == 200

    other = Client()  # 足立区's coordinator
    other.force_login(charlie.user)
    page = other.get(reverse("mailing:archive")).content.decode()
    assert "全会員へのお知らせ" in page and "江戸川区への照会" not in page
    assert other.get(detail).status_code == 404
    searched = other.get(reverse("mailing:archive") + "?q=照会")
    assert searched.status_code == 200 and detail not in searched.content.decode()
