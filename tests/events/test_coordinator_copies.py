"""The municipality's coordinators get a copy of each colleague's confirmation, waiting,
promotion and cancellation mail (issue 10 §3): on by default, switched per coordinator by the
coordinator herself, one recipient per message through the postbox, saying whose mail it is.
Another municipality's coordinator never gets one; plain staff cannot switch it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from association import services as association
from association.models import AuditEntry, Contact
from events import services
from events.models import Notice
from postbox.models import OutgoingMail

from .conftest import deliver_pending


def copies_to(outbox, address: str) -> list:  # type: ignore[type-arg]
    return [m for m in outbox.to(address) if m.subject.startswith("【写し】")]


def test_a_coordinator_gets_a_copy_of_a_colleagues_confirmation_saying_whose_it_is(
    make_training, alice, bob, charlie, outbox
):
    training = make_training(title="自殺対策 全体研修会")
    services.register_for_training(training, contact=bob, actor=alice)
    deliver_pending()

    [original] = outbox.to(bob.email)
    [copy] = copies_to(outbox, alice.email)
    assert copy.to == alice.email  # one recipient per message
    assert copy.subject == "【写し】" + original.subject
    assert f"このメールは、{bob.email} 宛てにお送りした研修会のメールの写しです。" in copy.text
    assert bob.email in copy.html
    assert "参加が確定しています" in copy.text
    assert copy.attachments == [] and original.attachments == ["training.ics"]
    assert "meet.example.jp" in original.text and "meet.example.jp" not in copy.text
    assert outbox.to(charlie.email) == []  # 足立区's coordinator
    mail = OutgoingMail.objects.get(to=alice.email)
    notice = Notice.objects.get()
    assert (mail.contact_id, mail.reference) == (
        alice.pk,
        f"events.notice:{notice.pk}:copy:{alice.pk}",
    )


def test_waiting_promotion_and_cancellation_are_copied_too(make_training, alice, bob, outbox):
    dave = association.add_contact(
        alice.member, name="田中 一郎", email="dave@city.edogawa.example.jp"
    )
    training = make_training(capacity=1)
    seat = services.register_for_training(training, contact=bob, actor=alice)
    services.register_for_training(training, contact=dave, actor=alice)
    deliver_pending()  # as the worker would, at once: the mail names the place while it holds
    services.cancel_registration(seat, actor=alice)
    services.promote_waiting_list(training)
    deliver_pending()

    subjects = [m.subject.split("：")[0] for m in copies_to(outbox, alice.email)]
    assert [s.removeprefix("【写し】【市区町村会】") for s in subjects] == [
        "参加確定",
        "キャンセル待ち（1番目）",
        "申込み取消",
        "参加確定（繰り上げ）",
    ], subjects
    originals = [m.subject for m in outbox.messages() if not m.subject.startswith("【写し】")]
    assert sorted("【写し】" + s for s in originals) == sorted(
        m.subject for m in copies_to(outbox, alice.email)
    )


def test_every_coordinator_of_the_municipality_gets_their_own_copy_and_none_other(
    make_training, alice, bob, charlie, outbox
):
    second = association.add_contact(
        alice.member, name="伊藤 直子", email="naoko@city.edogawa.example.jp", role="coordinator"
    )
    association.add_contact(
        charlie.member, name="足立 次郎", email="jiro@city.adachi.example.jp", role="coordinator"
    )
    training = make_training()
    services.register_for_training(training, contact=bob, actor=alice)
    deliver_pending()

    assert len(copies_to(outbox, alice.email)) == 1
    assert len(copies_to(outbox, second.email)) == 1
    assert outbox.to(charlie.email) == [] and outbox.to("jiro@city.adachi.example.jp") == []
    assert OutgoingMail.objects.count() == 3


def test_a_coordinator_registering_herself_gets_no_copy_of_her_own_mail(
    make_training, alice, outbox
):
    services.register_for_training(make_training(), contact=alice, actor=alice)
    deliver_pending()

    assert len(outbox.to(alice.email)) == 1 and copies_to(outbox, alice.email) == []


def test_a_coordinator_who_turned_copies_off_gets_none(make_training, alice, bob, outbox):
    association.set_training_copies(alice, on=False, by=alice.user)
    services.register_for_training(make_training(), contact=bob, actor=alice)
    deliver_pending()

    assert outbox.to(alice.email) == [] and len(outbox.to(bob.email)) == 1


def test_reminders_and_the_secretariats_messages_are_not_copied(make_training, alice, bob, outbox):
    training = make_training()
    services.register_for_training(training, contact=bob)
    deliver_pending()
    services.mail_registrants(training, subject="資料のご案内", body="当日の資料です。")
    deliver_pending()

    assert [m.subject.startswith("【写し】") for m in outbox.to(alice.email)] == [True]


def test_delivering_a_notice_twice_copies_it_once(make_training, alice, bob, outbox):
    services.register_for_training(make_training(), contact=bob)
    notice = Notice.objects.get()

    assert services.deliver_notice(notice.pk) is True
    assert services.deliver_notice(notice.pk) is False
    assert OutgoingMail.objects.filter(to=alice.email).count() == 1


def test_a_coordinators_broken_address_costs_only_her_copy(make_training, alice, bob, outbox):
    Contact.objects.filter(pk=alice.pk).update(email="two@a.example, three@b.example")
    services.register_for_training(make_training(), contact=bob)
    deliver_pending()

    assert len(outbox.to(bob.email)) == 1
    assert Notice.objects.get().status == Notice.Status.SENT


def test_a_coordinator_switches_her_copies_in_the_portal_and_it_is_audited(client, alice, edogawa):
    client.force_login(alice.user)
    url = reverse("portal:training_copies", args=[edogawa.local_government_id])
    home = reverse("portal:member", args=[edogawa.local_government_id])
    page = client.get(home).content.decode()
    assert 'name="copies" value="on" checked' in page
    assert "あなたにもお送りしています" in page

    response = client.post(url, {"copies": "off"}, follow=True)

    alice.refresh_from_db()
    assert alice.receives_training_copies is False
    assert "写しを受け取らないようにしました" in response.content.decode()
    assert 'name="copies" value="off" checked' in response.content.decode()
    # The words follow the setting: never 「お送りしています」 beside 「受け取らない」.
    assert "いまはお送りしていません" in response.content.decode()
    assert "あなたにもお送りしています" not in response.content.decode()
    assert AuditEntry.objects.filter(action="contact_updated").exists()
    client.post(url, {"copies": "on"})
    alice.refresh_from_db()
    assert alice.receives_training_copies is True


def test_plain_staff_cannot_switch_copies_nor_see_the_switch(client, bob, edogawa):
    client.force_login(bob.user)
    url = reverse("portal:training_copies", args=[edogawa.local_government_id])

    assert client.post(url, {"copies": "off"}).status_code == 403
    assert (
        "copies-h"
        not in client.get(
            reverse("portal:member", args=[edogawa.local_government_id])
        ).content.decode()
    )
    with pytest.raises(PermissionDenied):
        association.set_training_copies(bob, on=False)
    bob.refresh_from_db()
    assert bob.receives_training_copies is True


def test_another_municipalitys_coordinator_cannot_switch_anothers_copies(
    client, alice, charlie, edogawa
):
    client.force_login(charlie.user)
    url = reverse("portal:training_copies", args=[edogawa.local_government_id])

    response = client.post(url, {"copies": "off"})

    assert response.status_code in (403, 404)
    alice.refresh_from_db()
    assert alice.receives_training_copies is True
