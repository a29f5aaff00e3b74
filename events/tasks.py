"""Thin tasks around events.services. Routed to the "transactional" queue by settings."""

from celery import shared_task


@shared_task(name="events.send_training_notices")
def send_training_notices_task() -> None:
    """Hand every pending notice to the postbox. Woken on commit by the acts that owe mail,
    and by beat."""
    from . import services

    services.deliver_pending_notices()


@shared_task(name="events.promote_waiting_list")
def promote_waiting_list_task(training_id: int) -> None:
    from . import services
    from .models import Training

    training = Training.objects.filter(pk=training_id).first()
    if training is not None:
        services.promote_waiting_list(training)


@shared_task(name="events.send_training_reminders")
def send_training_reminders_task() -> None:
    from . import services

    services.queue_due_reminders()


@shared_task(name="events.close_trainings")
def close_trainings_task() -> None:
    from . import services

    services.close_due_trainings()
