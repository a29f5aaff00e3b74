"""Handing bulletin messages to the mail transport. Messages are built by mailing.builder
(one Composer per bulletin); this module only sends what it builds.

A `Transport` sends a list of recipients over one connection and returns one `Outcome` per
recipient, never raising for a single recipient's trouble: SMTP sends the builder's bytes
(7-bit, so no 8BITMIME is needed on any hop); any other Django backend sends one builder
message per recipient; an anymail provider with a batch API sends batches with per-recipient
merge data and headers.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from postbox.errors import Outcome, breaks_connection, classify_error
from postbox.errors import recipient_status as _status_of
from postbox.transport import tracking_off as _tracking_off

from .builder import (
    GROUP_ADDRESS,
    MERGE_KEYS,
    Composer,
    HeaderError,
    Recipient,
    Rendered,
    address_line,
    ascii_address,
    message_id_domain,
    message_id_for,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchAPI:
    """How one anymail provider's batch API takes per-recipient merge data and headers
    (anymail's merge_data + merge_headers): the recipients it takes per call, and how a merge
    field is written in its on-the-fly template language. `%s` is the field's name; the HTML
    takes the escaped value (`x_h`), so its field must be one the provider leaves unescaped."""

    limit: int
    text_field: str
    html_field: str
    esp_extra: dict[str, Any] = field(default_factory=dict)


BATCH_APIS = {
    # messageVersions, 1,000 per call; Brevo's template language.
    "Brevo": BatchAPI(1000, "{{ params.%s }}", "{{ params.%s_h }}"),
    # recipient-variables; Mailgun takes at most 1,000 recipients per batch.
    "Mailgun": BatchAPI(1000, "%%recipient.%s%%", "%%recipient.%s_h%%"),
    # personalizations, at most 1,000 per request; legacy substitutions replace literal
    # strings, so the fields carry delimiters no bulletin would contain.
    "SendGrid": BatchAPI(
        1000, ":renkei_%s:", ":renkei_%s_h:", {"merge_field_format": ":renkei_{}:"}
    ),
    # substitution_data; SparkPost escapes {{x}} in HTML itself, {{{x}}} is left as given.
    # SparkPost names no hard limit per transmission: 1,000 keeps a refused call small.
    "SparkPost": BatchAPI(1000, "{{%s}}", "{{{%s_h}}}"),
}
# Providers not listed (Postmark and Amazon SES take merge data only into stored templates,
# Resend has no merge data) get one message per recipient through their anymail backend.

__all__ = [
    "GROUP_ADDRESS",
    "MERGE_KEYS",
    "Composer",
    "Outcome",
    "Recipient",
    "Rendered",
    "address_line",
    "message_id_domain",
    "message_id_for",
]


# --- sending ------------------------------------------------------------------------------


class Transport:
    """One message per recipient through a Django email backend (SMTP, anymail, outbox)."""

    batch_size = 1

    def __init__(self, backend: str | None = None) -> None:
        if backend in (None, SMTP_BACKEND) and (backend or settings.EMAIL_BACKEND) == SMTP_BACKEND:
            backend = WATCHED_SMTP_BACKEND
        self.connection = get_connection(backend, fail_silently=False)

    def open(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.open()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()

    def send(self, composer: Composer, recipients: Sequence[Recipient]) -> list[Outcome]:
        composer.prepare(recipients)
        return [self.send_one(composer, recipient) for recipient in recipients]

    def send_one(self, composer: Composer, recipient: Recipient) -> Outcome:
        """One message; when a connection that was open dropped before DATA began (a relay
        closing an idle connection), the message cannot have gone: one immediate resend on a
        fresh connection instead of a back-off."""
        had_session = self._session() is not None
        outcome = self._send_once(composer, recipient)
        if had_session and self._dropped_before_data:
            outcome = self._send_once(composer, recipient)
        return outcome

    _dropped_before_data = False

    def _session(self) -> Any:
        return getattr(self.connection, "connection", None)

    def _failed(self, exc: Exception) -> Outcome:
        """The rule's outcome for EXC; a connection that broke is closed (the next send opens
        a fresh one), noting whether DATA had begun on it."""
        outcome = classify_error(exc)
        if breaks_connection(exc):
            session = self._session()
            self._dropped_before_data = session is not None and not getattr(
                session, "data_started", True
            )
            self.close()
        return outcome

    def _send_once(self, composer: Composer, recipient: Recipient) -> Outcome:
        self._dropped_before_data = False
        if isinstance(self.connection, SMTPBackend):
            return self._send_smtp(composer, recipient)
        try:
            message = composer.message(recipient, connection=self.connection)
        except HeaderError as exc:
            return Outcome("failed", error=str(exc), reason=str(exc))
        except Exception as exc:  # one recipient's broken data must not stop the chunk
            logger.exception("could not build the message for %s", recipient.email)
            return Outcome("failed", error=f"build: {type(exc).__name__}: {exc}"[:1000])
        our_id = message.extra_headers.get("Message-ID", "")
        try:
            sent = self.connection.send_messages([message])
        except Exception as exc:
            return self._failed(exc)
        if not sent:
            return Outcome("retry", error="the backend sent nothing")
        status = _status_of(message, recipient.email)
        if status is None or (status.kind == "sent" and not status.provider_message_id):
            return Outcome("sent", provider_message_id=our_id, message_id=our_id)
        return Outcome(
            status.kind, status.provider_message_id, our_id, status.error, status.retry_after
        )

    def _send_smtp(self, composer: Composer, recipient: Recipient) -> Outcome:
        """The builder's bytes over the open SMTP session: 7-bit, so sent without BODY=8BITMIME
        to any relay (mailing.builder says why)."""
        try:
            raw = composer.as_bytes(recipient)
            to = ascii_address(recipient.email)
        except HeaderError as exc:
            return Outcome("failed", error=str(exc), reason=str(exc))
        except Exception as exc:  # one recipient's broken data must not stop the chunk
            logger.exception("could not build the message for %s", recipient.email)
            return Outcome("failed", error=f"build: {type(exc).__name__}: {exc}"[:1000])
        our_id = composer.message_id(recipient)
        smtp = self.connection
        assert isinstance(smtp, SMTPBackend)
        try:
            if smtp.connection is None:
                smtp.open()
            session = smtp.connection
            if session is None:
                raise smtplib.SMTPServerDisconnected("could not connect")
            session.sendmail(composer.from_address, [to], raw)
        except Exception as exc:
            return self._failed(exc)
        return Outcome("sent", provider_message_id=our_id, message_id=our_id)


SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
WATCHED_SMTP_BACKEND = "mailing.sending.DataWatchingSMTPBackend"


class _WatchedSMTP(smtplib.SMTP):
    """An SMTP session that knows whether DATA has begun for the message in hand: before it, a
    dropped connection has delivered nothing and the message may go again at once."""

    data_started = False

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.data_started = False
        return super().mail(sender, options)

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)


class _WatchedSMTPSSL(_WatchedSMTP, smtplib.SMTP_SSL):
    pass


class DataWatchingSMTPBackend(SMTPBackend):
    """Django's SMTP backend, whose sessions tell whether DATA began (bulletins only)."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _WatchedSMTPSSL if self.use_ssl else _WatchedSMTP


class BatchTransport(Transport):
    """Batches through an anymail provider's batch API, with merge data and merge headers."""

    def __init__(self, backend: str | None, api: BatchAPI, *, batch_size: int) -> None:
        super().__init__(backend)
        self.api = api
        self.batch_size = batch_size

    def send(self, composer: Composer, recipients: Sequence[Recipient]) -> list[Outcome]:
        from anymail.message import AnymailMessage

        composer.prepare(recipients)
        subject, text, html_body = composer.merge_templates(self.api)
        merge_data: dict[str, dict[str, str]] = {}
        merge_headers: dict[str, dict[str, str]] = {}
        to_entries: dict[str, str] = {}
        ours: dict[str, str] = {}
        outcomes: dict[str, Outcome] = {}
        for recipient in recipients:
            try:
                to_entry, data, headers = composer.batch_recipient(recipient)
            except HeaderError as exc:
                outcomes[recipient.email] = Outcome("failed", error=str(exc), reason=str(exc))
                continue
            except Exception as exc:
                outcomes[recipient.email] = Outcome("failed", error=f"build: {exc}"[:1000])
                continue
            to_entries[recipient.email] = to_entry
            merge_data[recipient.email] = data
            merge_headers[recipient.email] = headers
            ours[recipient.email] = headers.get("Message-ID", "")
        to = [r.email for r in recipients if r.email in merge_data]
        if to:
            message = AnymailMessage(
                subject=subject,
                body=text,
                from_email=composer.from_email,
                to=[to_entries[address] for address in to],
                reply_to=composer.reply_to,
                headers=composer.batch_headers(),
                connection=self.connection,
            )
            if html_body:
                message.attach_alternative(html_body, "text/html")
            message.merge_data = merge_data
            message.merge_headers = merge_headers
            if self.api.esp_extra:
                message.esp_extra = dict(self.api.esp_extra)
            _tracking_off(message, self.connection)
            try:
                message.send()
            except Exception as exc:
                outcome = classify_error(exc)
                if outcome.kind == "failed" and len(to) > 1:
                    # One bad address must not fail the batch: split and try again.
                    half = len(to) // 2
                    by_email = {r.email: r for r in recipients}
                    for part in (to[:half], to[half:]):
                        sub = self.send(composer, [by_email[e] for e in part])
                        outcomes.update(zip(part, sub, strict=True))
                    return [outcomes[r.email] for r in recipients]
                for address in to:
                    outcomes[address] = outcome
            else:
                for address in to:
                    status: Outcome = _status_of(message, address) or Outcome("sent")
                    outcomes[address] = Outcome(
                        status.kind,
                        status.provider_message_id or ours[address],
                        ours[address],
                        status.error,
                    )
        return [outcomes[r.email] for r in recipients]


def mailing_backend() -> str:
    return getattr(settings, "MAILING_EMAIL_BACKEND", "") or settings.EMAIL_BACKEND


def open_transport() -> Transport:
    backend = mailing_backend()
    transport = Transport(backend)
    esp = getattr(transport.connection, "esp_name", None)
    api = BATCH_APIS.get(esp or "")
    if api is not None and getattr(settings, "MAILING_BATCH_SEND", True):
        size = getattr(settings, "MAILING_BATCH_SIZE", 0) or api.limit
        transport = BatchTransport(backend, api, batch_size=min(size, api.limit))
    transport.open()
    return transport


def provider_key() -> str:
    """Whose rate limit a send counts against: one key per provider account."""
    configured = getattr(settings, "MAILING_PROVIDER_KEY", "")
    if configured:
        return configured
    backend = mailing_backend()
    if "smtp" in backend:
        return f"smtp:{settings.EMAIL_HOST}:{settings.EMAIL_PORT}:{settings.EMAIL_HOST_USER}"
    return backend.rsplit(".", 2)[-2] if "." in backend else backend
