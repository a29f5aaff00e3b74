"""Mail built by the registry. Each mail is a template triple under templates/emails/; the
registry's own mail (the hand-over welcome, allauth's login code) goes to one person through
the postbox, queued in the caller's transaction and sent by a worker after commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone

from postbox.models import OutgoingMail
from postbox.services import queue_mail

from .models import Contact


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render_plain(template_name: str, context: dict[str, object]) -> str:
    """A template whose output is plain text (a subject, a text part): nothing HTML-escaped,
    so that 「A&B」 stays A&B and not A&amp;B."""
    template = get_template(template_name)
    return str(template.template.render(Context(context, autoescape=False)))  # type: ignore[attr-defined]


def render(name: str, context: dict[str, object]) -> Rendered:
    """emails/NAME.subject.txt, .txt and .html, with the site's subject prefix."""
    ctx = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_plain(f"emails/{name}.subject.txt", ctx).split())
    return Rendered(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
        text=render_plain(f"emails/{name}.txt", ctx),
        html=render_to_string(f"emails/{name}.html", ctx),
    )


def queue(
    name: str,
    context: dict[str, object],
    *,
    to: str,
    kind: str,
    contact_id: int | None = None,
    reference: str = "",
    **extra: Any,
) -> OutgoingMail:
    """One message from a template triple to one person, through the postbox (EXTRA:
    attachments, headers, reply_to, expires_at as postbox.services.queue_mail takes them)."""
    rendered = render(name, context)
    return queue_mail(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        kind=kind,
        contact_id=contact_id,
        reference=reference,
        **extra,
    )


def build(name: str, context: dict[str, object], *, to: str) -> EmailMultiAlternatives:
    """One message to one recipient from emails/NAME.subject.txt, .txt and .html, for a caller
    that sends it itself (training notices until they move onto the postbox; prefer queue())."""
    rendered = render(name, context)
    message = EmailMultiAlternatives(subject=rendered.subject, body=rendered.text, to=[to])
    message.attach_alternative(rendered.html, "text/html")
    return message


def send_welcome_successor(successor: Contact, predecessor: Contact) -> None:
    """担当者変更: welcome the successor (queued; sent once the hand-over commits). The welcome
    goes to an address the coordinator who typed it does not own, so it carries nothing typed
    in the portal (no names, department or title: a hostile coordinator could make them a
    phishing text signed by the association). Only the registry's own words: the
    municipality's official name, the role, the portal's address and the secretariat's."""
    context: dict[str, object] = {
        "member_name": successor.member.name,
        "role": successor.get_role_display(),
        "portal_url": settings.SITE_URL + reverse("portal:home"),
        "secretariat_email": secretariat_address(),
    }
    queue(
        "contact_welcome",
        context,
        to=successor.email,
        kind=OutgoingMail.Kind.WELCOME,
        contact_id=successor.pk,
        reference=f"association.handover:{predecessor.pk}",
    )


def send_login_code(email: str, *, code: str, expires_at: dt.datetime) -> None:
    """The login code for EMAIL, addressed to the person by name (the contact whose login the
    code opens), through the postbox: the code request answers at once whatever the mail server
    is doing. A login code is a credential: it is not sent once it has expired, and its body is
    cleared once it is done. Nothing is queued when the address opens no login any more."""
    from . import services

    logins = services.logins_for_address(email)
    if not logins:
        return
    contact = Contact.objects.select_related("member__local_government__prefecture").get(
        user=logins[0]
    )
    queue(
        "login_code",
        {
            "contact": contact,
            "code": code,
            "expires_at": timezone.localtime(expires_at),
            "login_url": settings.SITE_URL + reverse("account_request_login_code"),
            "help_email": secretariat_address(),
        },
        to=email,
        kind=OutgoingMail.Kind.LOGIN_CODE,
        contact_id=contact.pk,
        reference="allauth.login_code",
        expires_at=expires_at,
    )


def secretariat_address() -> str:
    """Where municipality staff write when something does not work."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
