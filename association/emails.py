"""Mail built by the registry. Each mail is a template triple under templates/emails/."""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

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
    """The welcome goes to an address the coordinator who typed it does not own, so it carries
    nothing typed in the portal (no names, department or title: a hostile coordinator could
    make them a phishing text signed by the association). Only the registry's own words: the
    municipality's official name, the role, the portal's address and the secretariat's."""
    context: dict[str, object] = {
        "member_name": successor.member.name,
        "role": successor.get_role_display(),
        "portal_url": settings.SITE_URL + reverse("portal:home"),
        "secretariat_email": parseaddr(settings.DEFAULT_FROM_EMAIL)[1],
    }
    build("contact_welcome", context, to=successor.email).send()
