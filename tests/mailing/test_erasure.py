"""Erasing a contact's personal data reaches the mailing copies (review finding)."""

from association import services as association_services
from mailing import services
from mailing.models import Bulletin, Delivery


def _started(mailing_list) -> Bulletin:
    bulletin = services.save_bulletin(
        None, mailing_list=mailing_list, subject="お知らせ", body="{{ 氏名 }} 様\n\n本文です。"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    return bulletin


def test_an_erased_person_gets_no_mail_still_queued_for_them(all_members_list, alice, bob, outbox):
    bulletin = _started(all_members_list)
    association_services.erase_contact(bob)
    while services.drain_bulletin(bulletin.pk):
        pass
    assert outbox.to("bob@city.edogawa.example.jp") == []
    assert len(outbox.to(alice.email)) == 1
    row = Delivery.objects.get(bulletin=bulletin, contact=bob)
    assert row.status == Delivery.Status.CANCELLED


def test_erasing_removes_the_name_and_address_from_delivery_rows(all_members_list, alice, bob):
    bulletin = _started(all_members_list)
    association_services.erase_contact(bob)
    row = Delivery.objects.get(bulletin=bulletin, contact=bob)
    assert "bob@" not in row.email
    assert row.recipient_name == "" and row.department == ""
    assert not Delivery.objects.filter(email="bob@city.edogawa.example.jp").exists()


def test_the_staff_of_a_guest_municipality_cannot_join_a_list_or_read_the_archive(
    client, all_members_list
):
    import pytest
    from django.core.exceptions import ValidationError
    from django.urls import reverse

    from tests.conftest import lg

    guest = association_services.register_guest(lg("大阪府大阪市"))
    visitor = association_services.add_contact(
        guest, name="中村 拓也", email="v@city.osaka.example.jp"
    )
    all_members_list.allow_self_subscribe = True
    all_members_list.save(update_fields=["allow_self_subscribe"])

    assert services.list_choices(visitor) == []
    with pytest.raises(ValidationError, match="会員団体の担当者の方のみ"):
        services.resubscribe(all_members_list, visitor, source="portal")
    client.force_login(visitor.user)
    assert client.get(reverse("mailing:archive")).status_code == 403
