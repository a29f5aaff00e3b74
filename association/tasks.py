import datetime as dt

from celery import shared_task
from django.utils import timezone

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


@shared_task(name="association.send_login_code")
def send_login_code_task(email: str, code: str, expires_at: str) -> None:
    if dt.datetime.fromisoformat(expires_at) <= timezone.now():
        return  # a code that no longer works is not worth a mail
    message = emails.login_code_message(
        email, code=code, expires_at=dt.datetime.fromisoformat(expires_at)
    )
    if message is not None:
        message.send()
