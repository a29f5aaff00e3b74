"""Mail owed by trainings is handed to the postbox once (which sends, retries and shows what
failed): the act writes a Notice in its own transaction, a worker renders it into one
OutgoingMail for one person."""

from __future__ import annotations

import socket

from events import services
from events.models import Notice
from postbox.models import OutgoingMail
from postbox.services import send_due_mail


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_hands_a_notice_to_the_postbox_once_however_often_it_is_delivered(
    make_training, bob, outbox
):
    training = make_training()
    services.register_for_training(training, contact=bob)
    notice = Notice.objects.get()

    assert services.deliver_notice(notice.pk) is True
    assert services.deliver_notice(notice.pk) is False
    assert services.deliver_pending_notices() == 0

    [mail] = OutgoingMail.objects.all()
    assert (mail.kind, mail.contact_id, mail.to) == (
        OutgoingMail.Kind.TRAINING_NOTICE,
        bob.pk,
        bob.email,
    )
    assert mail.reference == f"events.notice:{notice.pk}"
    assert [a["filename"] for a in mail.attachments] == ["training.ics"]
    assert mail.headers == {"Auto-Submitted": "auto-generated"}
    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT
    assert len(outbox.to(bob.email)) == 1


def test_the_postbox_keeps_the_mail_while_the_mail_server_is_down(
    settings, make_training, bob, outbox
):
    training = make_training()
    services.register_for_training(training, contact=bob)
    services.deliver_pending_notices()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()

    send_due_mail()

    mail = OutgoingMail.objects.get()
    assert mail.status == OutgoingMail.Status.QUEUED and mail.attempts == 1
    settings.EMAIL_BACKEND = "mailing.outbox.OutboxBackend"
    mail.next_attempt_at = None
    mail.save(update_fields=["next_attempt_at"])
    assert len(outbox.to(bob.email)) == 1


def test_reminders_and_messages_are_their_own_kinds_of_mail(make_training, alice, bob, outbox):
    training = make_training()
    services.register_for_training(training, contact=bob)
    services.mail_registrants(training, subject="資料のご案内", body="当日の資料です。")
    services.deliver_pending_notices()

    kinds = set(OutgoingMail.objects.values_list("kind", flat=True))

    assert kinds == {OutgoingMail.Kind.TRAINING_NOTICE, OutgoingMail.Kind.TRAINING_MESSAGE}


def test_a_notice_the_postbox_refuses_is_marked_failed_and_nothing_is_queued(
    make_training, bob, outbox
):
    training = make_training()
    services.register_for_training(training, contact=bob)
    # An address the registry would never accept, as an old row might hold.
    type(bob).objects.filter(pk=bob.pk).update(email="two@a.example, three@b.example")

    assert services.deliver_pending_notices() == 0

    notice = Notice.objects.get()
    assert notice.status == Notice.Status.FAILED and "宛先" in notice.error
    assert not OutgoingMail.objects.exists()
