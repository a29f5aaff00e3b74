from celery import shared_task

from . import emails, import_previews
from .models import Contact


@shared_task(name="association.welcome_successor")
def welcome_successor_task(successor_id: int, predecessor_id: int) -> None:
    """Kept for tasks queued before the welcome moved into the hand-over's own transaction
    (association.services.hand_over_contact queues it in the postbox); nothing queues it now."""
    successor = Contact.objects.select_related("member__local_government__prefecture").get(
        pk=successor_id
    )
    if not successor.is_active:
        return
    predecessor = Contact.objects.get(pk=predecessor_id)
    emails.send_welcome_successor(successor, predecessor)


@shared_task(name="association.remove_stale_import_previews")
def remove_stale_import_previews_task() -> int:
    """Uploaded contact files nobody confirmed hold personal data: gone within the hour."""
    return import_previews.remove_stale()
