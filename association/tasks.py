from celery import shared_task

from . import emails
from .models import Contact


@shared_task(name="association.welcome_successor")
def welcome_successor_task(successor_id: int, predecessor_id: int) -> None:
    successor = Contact.objects.select_related("member__local_government__prefecture").get(
        pk=successor_id
    )
    if not successor.is_active:
        return
    predecessor = Contact.objects.get(pk=predecessor_id)
    emails.send_welcome_successor(successor, predecessor)
