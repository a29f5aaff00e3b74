"""A bulletin that cannot send stops by itself and says why; a test send says what the provider
said. In-process against the local SMTP sink (the worker test in test_stopping_failures.py runs
the same with real workers)."""

from __future__ import annotations

import pytest

from mailing import services
from mailing.models import Bulletin, Delivery
from postbox.models import OutgoingMail

from .helpers import make_contacts
from .sink import Sink


@pytest.fixture
def sink(settings):
    with Sink() as running:
        settings.MAILING_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = running.port
        yield running


def _send(mailing_list) -> Bulletin:
    bulletin = services.save_bulletin(
        None, mailing_list=mailing_list, subject="停止の試験", body="{{ 氏名 }} 様"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass
    bulletin.refresh_from_db()
    return bulletin


@pytest.mark.django_db
def test_it_stops_a_bulletin_whose_first_deliveries_all_fail_for_one_reason(
    settings, sink, all_members_list, admin_client
):
    settings.MAILING_CHUNK_SIZE = 10
    make_contacts(60)
    sink.handler.refuse_mail = "553 5.7.1 Sender address rejected: not owned by user"

    bulletin = _send(all_members_list)

    assert bulletin.status == Bulletin.Status.FAILED
    assert "送信元アドレスを拒否" in bulletin.failure_reason
    assert "553 5.7.1" in bulletin.failure_reason
    counts = services.bulletin_progress(bulletin).counts
    assert counts == {"failed": 20, "queued": 40}
    [report] = OutgoingMail.objects.filter(kind=OutgoingMail.Kind.SECRETARIAT_REPORT)
    assert report.to == "jimukyoku@renkei.example.jp"
    assert "停止の試験" in report.subject and "553 5.7.1" in report.text
    assert f"/admin/mailing/bulletin/{bulletin.pk}/change/" in report.text
    # Every secretariat page says so.
    page = admin_client.get("/admin/").content.decode()
    assert "送信エラーで止まった配信があります" in page and "553 5.7.1" in page

    sink.handler.refuse_mail = ""
    response = admin_client.post(f"/admin/mailing/bulletin/{bulletin.pk}/do/resend/", follow=True)
    assert "送れなかった 20 件" in response.content.decode()
    while services.drain_bulletin(bulletin.pk):
        pass

    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SENT and bulletin.failure_reason == ""
    assert sink.handler.total() == 60 and sink.handler.duplicates() == 0
    assert "送信エラーで止まった配信" not in admin_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_it_does_not_stop_for_failures_of_different_causes(settings, sink, all_members_list):
    contacts = make_contacts(30)
    for n, contact in enumerate(contacts):
        reply = "550 5.1.1 No such user" if n % 2 else "554 5.7.1 Rejected by policy"
        sink.handler.always[contact.email] = reply

    bulletin = _send(all_members_list)

    assert bulletin.status == Bulletin.Status.SENT
    assert services.bulletin_progress(bulletin).counts == {"failed": 30}


@pytest.mark.django_db
def test_it_does_not_stop_once_a_delivery_went_through(settings, sink, all_members_list):
    _first, *others = make_contacts(30)
    for contact in others:
        sink.handler.always[contact.email] = "550 5.1.1 No such user"

    bulletin = _send(all_members_list)

    assert bulletin.status == Bulletin.Status.SENT
    assert services.bulletin_progress(bulletin).counts == {"sent": 1, "failed": 29}


@pytest.mark.django_db
def test_it_stops_for_one_cause_even_when_each_refusal_names_its_address(
    settings, sink, all_members_list
):
    for contact in make_contacts(25):
        sink.handler.always[contact.email] = f"550 5.7.1 <{contact.email}>: Relay access denied"

    bulletin = _send(all_members_list)

    assert bulletin.status == Bulletin.Status.FAILED
    assert "Relay access denied" in bulletin.failure_reason
    # The reason is shown to every secretariat account and mailed: it names nobody.
    assert "@" not in bulletin.failure_reason
    assert "@" not in OutgoingMail.objects.get(kind=OutgoingMail.Kind.SECRETARIAT_REPORT).text


@pytest.mark.django_db
def test_a_test_send_says_the_provider_accepted_it_only_when_it_did(
    settings, sink, all_members_list, admin_client
):
    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="テストの件名", body="本文"
    )
    sink.handler.refuse_mail = "553 5.7.1 Sender address rejected: not owned by user"
    url = f"/admin/mailing/bulletin/{bulletin.pk}/"

    services.send_test_bulletin(bulletin, to="tester@renkei.example.jp")
    assert "送信しています" in admin_client.get(url + "progress/").json()["test_label"]
    outcome = services.send_test_message(bulletin.pk, "tester@renkei.example.jp")

    assert outcome.kind == "failed"
    progress = admin_client.get(url + "progress/").json()
    assert progress["test_state"] == "failed"
    assert "送れませんでした" in progress["test_label"]
    assert "送信元アドレスを拒否しました（553 5.7.1" in progress["test_label"]
    assert sink.handler.total() == 0

    sink.handler.refuse_mail = ""
    services.send_test_bulletin(bulletin, to="tester@renkei.example.jp")
    services.send_test_message(bulletin.pk, "tester@renkei.example.jp")

    label = admin_client.get(url + "progress/").json()["test_label"]
    assert "配信業者が受け付けました" in label
    assert sink.handler.accepted["tester@renkei.example.jp"] == 1
    page = admin_client.get(url + "change/").content.decode()
    assert "配信業者が受け付けました" in page
    # A test send is not a delivery.
    assert not Delivery.objects.filter(bulletin=bulletin).exists()


@pytest.mark.django_db
def test_a_connection_dropped_before_data_is_reopened_and_the_message_sent_at_once(
    settings, sink, all_members_list
):
    contacts = make_contacts(30)
    sink.handler.drop_mail_every = 7

    bulletin = _send(all_members_list)

    assert sink.handler.dropped >= 4
    assert bulletin.status == Bulletin.Status.SENT
    assert {sink.handler.accepted[c.email] for c in contacts} == {1}
    rows = Delivery.objects.filter(bulletin=bulletin)
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert not rows.filter(next_attempt_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_connection_dropped_during_data_waits_for_the_back_off(settings, sink, all_members_list):
    first, second, *_others = make_contacts(5)
    sink.handler.drop_in_data = {second.email}

    bulletin = _send(all_members_list)

    # The relay may have taken it: no immediate resend, a retry after the back-off.
    assert bulletin.status == Bulletin.Status.SENDING
    row = Delivery.objects.get(bulletin=bulletin, email=second.email)
    assert row.status == Delivery.Status.QUEUED and row.next_attempt_at is not None
    assert sink.handler.accepted[first.email] == 1
    assert services.bulletin_progress(bulletin).counts == {"sent": 4, "queued": 1}
