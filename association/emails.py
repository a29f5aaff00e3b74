"""Mail built by the registry. Each mail is a template triple under templates/emails/."""

from __future__ import annotations

import datetime as dt
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import Contact


def build(name: str, context: dict[str, object], *, to: str) -> EmailMultiAlternatives:
    """One message to one recipient from emails/NAME.subject.txt, .txt and .html."""
    ctx = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}.subject.txt", ctx).split())
    text = render_to_string(f"emails/{name}.txt", ctx)
    html = render_to_string(f"emails/{name}.html", ctx)
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", body=text, to=[to]
    )
    message.attach_alternative(html, "text/html")
    return message


def send_welcome_successor(successor: Contact, predecessor: Contact) -> None:
    portal_url = settings.SITE_URL + reverse("portal:home")
    build(
        "contact_welcome",
        {"contact": successor, "predecessor": predecessor, "portal_url": portal_url},
        to=successor.email,
    ).send()


def send_login_code(email: str, *, code: str, expires_at: dt.datetime) -> None:
    """The login code for EMAIL, sent by a worker so that the code request answers at once and
    the same for every address. The one place the code mail is sent from (postbox's queue
    takes this over)."""
    from .tasks import send_login_code_task

    send_login_code_task.delay_on_commit(email, code, expires_at.isoformat())


def login_code_message(
    email: str, *, code: str, expires_at: dt.datetime
) -> EmailMultiAlternatives | None:
    """The code mail, addressed to the person by name (the contact whose login the code
    opens), or None when the address opens no login any more."""
    from . import services

    logins = services.logins_for_address(email)
    if not logins:
        return None
    contact = Contact.objects.select_related("member__local_government__prefecture").get(
        user=logins[0]
    )
    return build(
        "login_code",
        {
            "contact": contact,
            "code": code,
            "expires_at": timezone.localtime(expires_at),
            "login_url": settings.SITE_URL + reverse("account_request_login_code"),
            "help_email": secretariat_address(),
        },
        to=email,
    )


def secretariat_address() -> str:
    """Where municipality staff write when something does not work."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
