"""Thin tasks around postbox.services, on the "transactional" queue (settings route
"postbox.*" there), so a bulletin never delays a login code."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

# The database going away for a while is the one failure the task itself waits out; a mail
# server's trouble is recorded per message by the shared rule (postbox.errors).
DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(
    name="postbox.send_mail",
    autoretry_for=DB_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=30,
)
def send_mail_task() -> None:
    """Woken on commit by queue_mail (one per burst) and by beat, which catches what is due
    again after a back-off and anything a lost task left behind."""
    from . import services

    if services.send_due_mail():
        send_mail_task.delay()


@shared_task(name="postbox.prune_mail")
def prune_mail_task() -> None:
    from . import services

    services.prune_mail()
