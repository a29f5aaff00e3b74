"""Handing one stored message to the configured mail backend (Django's get_connection():
SMTP, an anymail provider or the outbox) and reading what came back as an `Outcome`."""

from __future__ import annotations

import base64
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.translation import gettext as _

from .errors import Outcome, breaks_connection, classify_error, recipient_status
from .models import OutgoingMail

logger = logging.getLogger(__name__)

# anymail providers that take tracking flags per message. The others (Brevo, Amazon SES…) set
# tracking in the account or configuration set, where it must be left off.
TRACKING_FLAGS = {
    "MailerSend", "Mailgun", "Mailjet", "Mandrill", "Postmark", "Resend", "SendGrid",
    "SparkPost", "Unisender Go",
}  # fmt: skip


def tracking_off(message: Any, connection: Any) -> None:
    """Provider open/click tracking stays off: LGWAN strips it, and it is not wanted."""
    if getattr(connection, "esp_name", None) in TRACKING_FLAGS:
        message.track_opens = False
        message.track_clicks = False


def build_message(mail: OutgoingMail, *, connection: Any = None) -> EmailMultiAlternatives:
    headers = {"Auto-Submitted": "auto-generated", **mail.headers}
    if mail.message_id:
        headers["Message-ID"] = mail.message_id
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.to],
        reply_to=list(mail.reply_to),
        headers=headers,
        connection=connection,
    )
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    for item in mail.attachments:
        data = base64.b64decode(item["content"])
        content = data.decode("utf-8") if item["mimetype"].startswith("text/") else data
        message.attach(item["filename"], content, item["mimetype"])
    tracking_off(message, connection)
    return message


class SendResult:
    """An outcome, and whether the connection it came over is still worth using."""

    def __init__(self, outcome: Outcome, *, connection_lost: bool = False) -> None:
        self.outcome = outcome
        self.connection_lost = connection_lost


def send_one(connection: Any, mail: OutgoingMail) -> SendResult:
    """Send MAIL over CONNECTION (opened by the caller). Never raises for the message's own
    trouble: everything becomes an Outcome by the shared rule (postbox.errors)."""
    try:
        message = build_message(mail, connection=connection)
    except Exception as exc:  # a broken row must not stop the others
        logger.exception("could not build outgoing mail %s", mail.pk)
        reason = _("メールを組み立てられませんでした（%(error)s）。") % {
            "error": type(exc).__name__
        }
        return SendResult(
            Outcome("failed", error=f"build: {type(exc).__name__}: {exc}"[:1000], reason=reason)
        )
    try:
        sent = connection.send_messages([message])
    except Exception as exc:
        return SendResult(classify_error(exc), connection_lost=breaks_connection(exc))
    if not sent:
        reason = _("メールサーバーに渡せませんでした。")
        return SendResult(Outcome("retry", error="the backend sent nothing", reason=reason))
    status = recipient_status(message, mail.to_address)
    if status is None or (status.kind == "sent" and not status.provider_message_id):
        return SendResult(Outcome("sent", mail.message_id, mail.message_id))
    return SendResult(
        Outcome(
            status.kind,
            status.provider_message_id,
            mail.message_id,
            status.error,
            status.retry_after,
            status.reason,
        )
    )
