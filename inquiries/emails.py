"""The 照会's request and reminder, as bulletins (subject and Markdown body) sent through
mailing to each member's coordinators: the same body for every addressee, so that the
archive copy is the message itself; the link finds the reader's own municipality's answer.
A survey's mail, to one attendee at a time, stays in the postbox (inquiries.services)."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from association.nendo import wareki

from .models import Inquiry

SUBJECT_LENGTH = 200  # mailing.Bulletin.subject


def _neutral(text: str) -> str:
    # A body is Markdown with the bulletin placeholders; a 照会's own text has none, so a
    # stray 「{{」 in it must not read as one (save_bulletin refuses unknown placeholders).
    return text.replace("{{", "{ {").replace("}}", "} }")


def answer_link(inquiry: Inquiry) -> str:
    """One URL for every member: it opens the reader's own municipality's answer page."""
    return settings.SITE_URL + reverse("inquiries:answer_mine", args=[inquiry.pk])


def _context(inquiry: Inquiry) -> dict[str, object]:
    return {
        "inquiry": inquiry,
        "deadline": wareki(inquiry.deadline),
        "url": answer_link(inquiry),
        "body": _neutral(inquiry.body.strip()),
    }


def request_bulletin(inquiry: Inquiry) -> tuple[str, str]:
    subject = _("【照会】%(title)s（回答期限 %(day)s）") % {
        "title": inquiry.title,
        "day": wareki(inquiry.deadline),
    }
    body = render_to_string("inquiries/bulletins/request.md", _context(inquiry))
    return _neutral(subject)[:SUBJECT_LENGTH], body


def reminder_bulletin(inquiry: Inquiry) -> tuple[str, str]:
    subject = _("【照会・ご回答のお願い】%(title)s（回答期限 %(day)s）") % {
        "title": inquiry.title,
        "day": wareki(inquiry.deadline),
    }
    body = render_to_string("inquiries/bulletins/reminder.md", _context(inquiry))
    return _neutral(subject)[:SUBJECT_LENGTH], body
