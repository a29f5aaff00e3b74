"""Thin Celery tasks around mailing.services. Sending runs on the "bulletins" queue (settings
route "mailing.*" there), so a long bulletin never delays a registration confirmation; the
sweeper, the scheduled start and the test copy run on the "transactional" queue, so they
never wait behind a send."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import emails, services

# The database going away for a while is the one failure a task itself waits out; everything
# else is recorded per delivery row, and the sweeper restarts what was lost.
DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(
    name="mailing.snapshot_bulletin",
    autoretry_for=DB_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=30,
)
def snapshot_bulletin_task(bulletin_id: int) -> None:
    services.snapshot_audience(bulletin_id)


@shared_task(
    name="mailing.send_bulletin",
    autoretry_for=DB_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=30,
)
def send_bulletin_task(bulletin_id: int) -> None:
    if services.drain_bulletin(bulletin_id):
        send_bulletin_task.delay(bulletin_id)


@shared_task(name="mailing.sweep_deliveries")
def sweep_deliveries_task() -> None:
    services.sweep_deliveries()


@shared_task(name="mailing.start_due_bulletins")
def start_due_bulletins_task() -> None:
    services.start_due_bulletins()


@shared_task(name="mailing.send_test_bulletin")
def send_test_bulletin_task(bulletin_id: int, to: str) -> None:
    services.send_test_message(bulletin_id, to)


@shared_task(name="mailing.notify_unreachable_members")
def notify_unreachable_members_task(member_ids: list[int], email: str) -> None:
    """Kept for tasks queued before the report moved into suppress_address's transaction
    (it is queued in the postbox there); nothing queues it now."""
    emails.send_unreachable_members(member_ids, email)


@shared_task(name="mailing.prune_outbox")
def prune_outbox_task() -> None:
    """Keeps the demo outbox (EMAIL_BACKEND = the file outbox) bounded; nothing elsewhere."""
    from .outbox import prune_outbox

    prune_outbox()
