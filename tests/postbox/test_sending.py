"""The sender, in this process, against a local SMTP sink: retries by the shared rule, final
failures with a reason, credentials cleared, claims that cannot send twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from postbox import services
from postbox.models import OutgoingMail

from .conftest import make_due, queue

pytestmark = pytest.mark.django_db

STORAGE = "452 4.3.1 Insufficient system storage"
NO_SUCH_USER = "550 5.1.1 No such user here"


def _due(mail: OutgoingMail) -> dt.datetime:
    assert mail.next_attempt_at is not None
    return mail.next_attempt_at


def _refresh(*mails: OutgoingMail) -> None:
    for mail in mails:
        mail.refresh_from_db()


def test_it_sends_a_temporarily_refused_message_once_the_relay_recovers(smtp, settings):
    settings.POSTBOX_RETRY_SECONDS = 30
    address = "alice@city.edogawa.example.jp"
    smtp.handler.scripted[address] = [STORAGE, STORAGE]
    mail = queue(address)

    services.send_due_mail()
    _refresh(mail)
    assert (mail.status, mail.attempts) == (OutgoingMail.Status.QUEUED, 1)
    assert "一時的に受け付けませんでした" in mail.error and "452 4.3.1" in mail.error
    assert 29 <= (_due(mail) - timezone.now()).total_seconds() <= 30
    services.send_due_mail()  # not due yet: nothing happens
    assert smtp.handler.attempts[address] == 1

    make_due(mail)
    services.send_due_mail()
    _refresh(mail)
    assert mail.attempts == 2
    assert 59 <= (_due(mail) - timezone.now()).total_seconds() <= 60  # doubled

    make_due(mail)
    services.send_due_mail()
    _refresh(mail)
    assert mail.status == OutgoingMail.Status.SENT
    assert (mail.error, mail.error_detail) == ("", "")
    assert smtp.handler.accepted[address] == 1
    assert smtp.handler.message_ids == [mail.message_id]


def test_it_fails_a_permanently_refused_address_and_sends_the_others(smtp):
    bad = "nobody@city.edogawa.example.jp"
    smtp.handler.always[bad] = NO_SUCH_USER
    good = [queue(f"staff{i}@city.edogawa.example.jp") for i in range(3)]
    refused = queue(bad, kind=OutgoingMail.Kind.WELCOME, reference="association.handover:7")

    services.send_due_mail()

    _refresh(refused, *good)
    assert refused.status == OutgoingMail.Status.FAILED
    assert refused.attempts == 1
    assert refused.error.startswith("宛先のメールサーバーがこのアドレスを受け付けませんでした")
    assert "550 5.1.1 No such user here" in refused.error
    assert "SMTPRecipientsRefused" in refused.error_detail
    assert {m.status for m in good} == {OutgoingMail.Status.SENT}
    assert list(services.failed_recently()) == [refused]
    assert smtp.handler.total() == 3


def test_it_gives_up_after_the_last_attempt_and_says_how_often_it_tried(smtp, settings):
    settings.POSTBOX_MAX_ATTEMPTS = 3
    address = "alice@city.edogawa.example.jp"
    smtp.handler.always[address] = STORAGE
    mail = queue(address)

    for _ in range(3):
        make_due(mail)
        services.send_due_mail()

    _refresh(mail)
    assert mail.status == OutgoingMail.Status.FAILED
    assert mail.error.startswith("3回試みましたが送れませんでした。")
    assert "452 4.3.1" in mail.error
    assert smtp.handler.attempts[address] == 3
    make_due(mail)
    services.send_due_mail()
    assert smtp.handler.attempts[address] == 3


def test_it_probes_once_while_the_relay_is_down_and_holds_the_rest(settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    mails = [queue(f"staff{i}@city.edogawa.example.jp") for i in range(5)]

    services.send_due_mail()

    _refresh(*mails)
    assert [m.status for m in mails] == [OutgoingMail.Status.QUEUED] * 5
    assert [m.attempts for m in mails] == [1, 0, 0, 0, 0]
    assert "接続できませんでした" in mails[0].error
    assert len({m.next_attempt_at for m in mails}) == 1  # the rest wait as long as the probe
    assert _due(mails[0]) > timezone.now()


def test_it_sends_login_codes_before_a_burst_of_notices(smtp, settings):
    settings.POSTBOX_CHUNK_SIZE = 3
    notices = [queue(f"staff{i}@city.edogawa.example.jp") for i in range(7)]
    code = queue(
        "alice@city.edogawa.example.jp",
        kind=OutgoingMail.Kind.LOGIN_CODE,
        subject="【市区町村会】ログイン確認コード",
        text="確認コード：ABC123",
    )

    services.send_due_mail()

    assert smtp.handler.message_ids[0] == code.message_id
    assert smtp.handler.message_ids[1:] == [n.message_id for n in notices]


def test_a_login_code_is_not_readable_in_the_database_once_it_is_sent(smtp):
    code = queue(
        "alice@city.edogawa.example.jp",
        kind=OutgoingMail.Kind.LOGIN_CODE,
        text="確認コード：XY7Q2K",
        html="<p>確認コード：XY7Q2K</p>",
    )

    services.send_due_mail()

    code.refresh_from_db()
    assert code.status == OutgoingMail.Status.SENT
    assert (code.text, code.html, code.body_cleared) == ("", "", True)
    assert not OutgoingMail.objects.filter(text__contains="XY7Q2K").exists()
    assert not OutgoingMail.objects.filter(html__contains="XY7Q2K").exists()


def test_a_login_code_that_fails_or_expires_is_cleared_too(smtp):
    smtp.handler.always["bad@city.edogawa.example.jp"] = NO_SUCH_USER
    failed = queue("bad@city.edogawa.example.jp", kind="login_code", text="確認コード：FAIL01")
    expired = queue(
        "late@city.edogawa.example.jp",
        kind="login_code",
        text="確認コード：LATE01",
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )

    services.send_due_mail()

    _refresh(failed, expired)
    assert (failed.status, failed.text, failed.body_cleared) == ("failed", "", True)
    assert (expired.status, expired.text, expired.body_cleared) == ("cancelled", "", True)
    assert "送信期限を過ぎた" in expired.error
    assert smtp.handler.attempts["late@city.edogawa.example.jp"] == 0


def test_other_mail_keeps_its_body_for_the_secretariat(smtp):
    mail = queue()

    services.send_due_mail()

    mail.refresh_from_db()
    assert mail.status == "sent" and "全体研修会のお知らせ" in mail.text


def test_a_claim_taken_back_from_a_silent_worker_is_sent_once_and_not_by_the_late_worker(
    smtp, settings
):
    mail = queue()
    token, [claimed] = services.claim_mail(limit=10)  # a worker that then went silent
    settings.POSTBOX_CLAIM_TIMEOUT = 0

    services.send_due_mail()  # another worker: releases the stale claim and sends

    mail.refresh_from_db()
    assert mail.status == OutgoingMail.Status.SENT
    assert smtp.handler.total() == 1
    # The first worker wakes up: the row is no longer its own, so it does not send it.
    assert services._start_attempt(claimed, token) is False


def test_a_message_cancelled_by_erasure_after_the_claim_is_not_sent(smtp):
    mail = queue(contact_id=42)
    token, [claimed] = services.claim_mail(limit=10)

    assert services.forget_contact(42) == 1

    assert services._start_attempt(claimed, token) is False
    assert not OutgoingMail.objects.filter(pk=mail.pk).exists()


def test_forgetting_a_contact_removes_only_their_messages():
    mine = [queue(contact_id=7), queue(contact_id=7, kind="welcome")]
    other = queue("bob@city.edogawa.example.jp", contact_id=8)
    OutgoingMail.objects.filter(pk=mine[0].pk).update(status=OutgoingMail.Status.FAILED)

    assert services.forget_contact(7) == 2

    assert list(OutgoingMail.objects.all()) == [other]


def test_failed_recently_looks_back_the_given_days(smtp):
    smtp.handler.always["bad@city.edogawa.example.jp"] = NO_SUCH_USER
    old, new = queue("bad@city.edogawa.example.jp"), queue("bad@city.edogawa.example.jp")
    services.send_due_mail()
    OutgoingMail.objects.filter(pk=old.pk).update(failed_at=timezone.now() - dt.timedelta(days=8))

    assert list(services.failed_recently()) == [new]
    assert list(services.failed_recently(days=30)) == [new, old]


def test_it_prunes_finished_mail_after_the_keeping_period(smtp, settings):
    settings.POSTBOX_KEEP_DAYS = 30
    sent, waiting = queue(), queue("bob@city.edogawa.example.jp")
    services.send_due_mail()
    OutgoingMail.objects.filter(pk=waiting.pk).update(status=OutgoingMail.Status.QUEUED)
    long_ago = timezone.now() - dt.timedelta(days=31)
    OutgoingMail.objects.update(created_at=long_ago)

    assert services.prune_mail() == 1

    assert list(OutgoingMail.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert not OutgoingMail.objects.filter(pk=sent.pk).exists()
