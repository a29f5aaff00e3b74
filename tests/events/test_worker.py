"""Promotion and mail through a real Celery worker on the transactional queue."""

import datetime as dt

import pytest
from django.utils import timezone

from events import services
from events.models import Notice, Registration
from events.tasks import send_training_reminders_task
from postbox.models import OutgoingMail
from tests.workers import WorkerProcess, purge_queues

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_promotes_the_waiting_person_through_the_worker_and_mails_them(
    celery_worker, make_training, alice, charlie, outbox
):
    training = make_training(capacity=1)
    seat = services.register_for_training(training, contact=alice)
    waiting = services.register_for_training(training, contact=charlie)

    services.cancel_registration(seat, actor=alice)

    celery_worker.wait_for(
        lambda: Registration.objects.get(pk=waiting.pk).status == Registration.Status.CONFIRMED
    )
    celery_worker.wait_for(lambda: any("繰り上げ" in m.subject for m in outbox.to(charlie.email)))
    promotion = next(m for m in outbox.to(charlie.email) if "繰り上げ" in m.subject)
    assert "\nhttps://meet.example.jp/renkei-2026\n" in promotion.text
    assert promotion.attachments == ["training.ics"]
    assert "events.promote_waiting_list" in celery_worker.log()


def test_it_sends_one_reminder_when_beat_fires_twice(celery_worker, make_training, bob, outbox):
    start = (timezone.localtime() + dt.timedelta(days=2)).replace(hour=13, minute=30)
    training = make_training(
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        closes_at=start - dt.timedelta(days=1),
    )
    services.register_for_training(training, contact=bob)

    send_training_reminders_task.delay()
    send_training_reminders_task.delay()

    celery_worker.wait_for(
        lambda: (
            celery_worker.log().count("events.send_training_reminders") >= 4
            and not Notice.objects.exclude(status=Notice.Status.SENT).exists()
            # A sent notice is one handed to the postbox: its mail goes out a moment later.
            and not OutgoingMail.objects.exclude(status=OutgoingMail.Status.SENT).exists()
        )
    )
    reminders = [m for m in outbox.to(bob.email) if "開催のご案内" in m.subject]
    assert len(reminders) == 1
    assert Notice.objects.filter(kind=Notice.Kind.REMINDER).count() == 1


def test_it_sends_training_mail_from_the_transactional_queue_alone(make_training, bob, outbox):
    """A worker that serves only "transactional" (not "bulletins") sends the confirmation."""
    purge_queues()
    worker = WorkerProcess(queues=("transactional",))
    worker.wait_ready()
    try:
        training = make_training()
        services.register_for_training(training, contact=bob)
        worker.wait_for(lambda: any("参加確定" in m.subject for m in outbox.to(bob.email)))
    finally:
        worker.stop()


def test_it_moves_the_waiting_list_up_when_the_secretariat_adds_seats(
    celery_worker, make_training, alice, charlie
):
    training = make_training(capacity=1)
    services.register_for_training(training, contact=alice)
    waiting = services.register_for_training(training, contact=charlie)

    training.capacity = 2
    services.save_training(training)

    celery_worker.wait_for(lambda: Registration.objects.get(pk=waiting.pk).is_confirmed)
