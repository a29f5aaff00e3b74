"""Mail owed by trainings goes out once, survives a mail server that is down, and a worker that
died after claiming a notice."""

import datetime as dt
import socket

from django.utils import timezone

from events import services
from events.models import Notice


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_keeps_notices_pending_while_the_mail_server_is_down(
    settings, make_training, bob, outbox
):
    training = make_training()
    services.register_for_training(training, contact=bob)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()

    assert services.deliver_pending_notices() == 0

    assert Notice.objects.get().status == Notice.Status.PENDING
    settings.EMAIL_BACKEND = "mailing.outbox.OutboxBackend"
    assert services.deliver_pending_notices() == 1
    assert services.deliver_pending_notices() == 0
    assert len(outbox.to(bob.email)) == 1


def test_it_sends_a_notice_once_however_often_it_is_delivered(make_training, bob, outbox):
    training = make_training()
    services.register_for_training(training, contact=bob)
    notice = Notice.objects.get()

    assert services.deliver_notice(notice.pk) is True
    assert services.deliver_notice(notice.pk) is False
    assert len(outbox.to(bob.email)) == 1


def test_it_resends_a_notice_whose_worker_died_after_claiming_it(make_training, bob, outbox):
    training = make_training()
    services.register_for_training(training, contact=bob)
    # A worker claimed the notice and was killed before sending it.
    Notice.objects.update(
        status=Notice.Status.SENDING, claimed_at=timezone.now() - dt.timedelta(minutes=30)
    )

    assert services.deliver_pending_notices() == 1
    assert Notice.objects.get().status == Notice.Status.SENT
    assert len(outbox.to(bob.email)) == 1


def test_it_leaves_a_fresh_claim_to_the_worker_that_holds_it(make_training, bob, outbox):
    training = make_training()
    services.register_for_training(training, contact=bob)
    Notice.objects.update(status=Notice.Status.SENDING, claimed_at=timezone.now())

    assert services.deliver_pending_notices() == 0
    assert len(outbox.to(bob.email)) == 0
