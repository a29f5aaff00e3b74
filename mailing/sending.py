"""Building bulletin messages and handing them to the mail transport.

`Composer` renders a bulletin's templates once; each recipient then costs one substitution.
A `Transport` sends a list of recipients over one connection and returns one `Outcome` per
recipient, never raising for a single recipient's trouble: SMTP (or any Django backend) sends
one message per recipient; an anymail provider with a batch API sends batches with
per-recipient merge data and headers.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import html
import io
import logging
import smtplib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.header import Header
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from association.models import Contact
from postbox.errors import Outcome, breaks_connection, classify_error
from postbox.errors import recipient_status as _status_of
from postbox.transport import tracking_off as _tracking_off

from .models import Bulletin, Delivery, MailingList
from .rendering import compile_body, substitute
from .tokens import make_unsubscribe_token, preferences_url, unsubscribe_mailto, unsubscribe_url

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

# Placeholder -> merge field name in a provider's template language.
MERGE_KEYS = {
    "宛名": "atena",
    "団体名": "org",
    "氏名": "name",
    "所属": "dept",
    "メールアドレス": "email",
    "リスト名": "list",
    "配信停止URL": "unsub",
}


# --- recipients and their address line ----------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    organisation: str = ""
    department: str = ""
    delivery_id: int | None = None

    @classmethod
    def of_delivery(cls, delivery: Delivery) -> Recipient:
        return cls(
            email=delivery.email,
            name=delivery.recipient_name,
            organisation=delivery.organisation,
            department=delivery.department,
            delivery_id=delivery.pk,
        )

    @classmethod
    def of_contact(cls, contact: Contact) -> Recipient:
        return cls(
            email=contact.email,
            name=contact.name,
            organisation=contact.member.name,
            department=contact.department,
        )


GROUP_ADDRESS = "ご担当者各位"


def address_line(recipient: Recipient) -> str:
    """団体名・所属・氏名 様 for a person; 団体名 御中 without a name; 各位 for nobody in
    particular. Never two forms at once."""
    if recipient.name:
        lines = [recipient.organisation, recipient.department, f"{recipient.name} 様"]
        return "\n".join(line for line in lines if line)
    if recipient.organisation:
        return " ".join(p for p in (recipient.organisation, recipient.department) if p) + " 御中"
    return GROUP_ADDRESS


def message_id_for(delivery_id: int, bulletin_id: int) -> str:
    """Stable across retries, so a receiver can drop a resent copy, and unguessable: 128 bits
    keyed by SECRET_KEY, so that it tells nobody how many were sent or which row is whose, and
    no one can name another recipient's message to a webhook."""
    digest = salted_hmac(
        "mailing.message-id", f"{bulletin_id}.{delivery_id}", algorithm="sha256"
    ).digest()
    token = base64.b32encode(digest[:16]).decode().rstrip("=").lower()
    return f"<{token}@{message_id_domain()}>"


def message_id_domain() -> str:
    configured = getattr(settings, "MAILING_MESSAGE_ID_DOMAIN", "")
    if configured:
        return configured
    _name, address = email.utils.parseaddr(settings.DEFAULT_FROM_EMAIL)
    return address.rpartition("@")[2] or "renkei.invalid"


# --- composing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


class Composer:
    """One bulletin's templates, rendered once with the placeholders left in."""

    def __init__(self, bulletin: Bulletin, mailing_list: MailingList | None = None) -> None:
        self.bulletin = bulletin
        self.mailing_list = mailing_list or bulletin.mailing_list
        ml = self.mailing_list
        compiled = compile_body(bulletin.body)
        context: dict[str, Any] = {
            "site_name": settings.SITE_NAME,
            "list_name": ml.name,
            "reason": ml.description.strip(),
            "prefix": ml.subject_prefix,
            "subject": bulletin.subject,
            "atena": "{{ 宛名 }}",
            "email": "{{ メールアドレス }}",
            "unsubscribe_url": "{{ 配信停止URL }}",
            "preferences_url": preferences_url(),
        }
        self.subject = " ".join(render_to_string("emails/bulletin.subject.txt", context).split())
        self.text = render_to_string("emails/bulletin.txt", context | {"body": compiled.text})
        self.html = (
            render_to_string(
                "emails/bulletin.html", context | {"body_html": mark_safe(compiled.html)}
            )
            if ml.send_html
            else ""
        )
        self.from_email = settings.DEFAULT_FROM_EMAIL
        reply_to = bulletin.reply_to or ml.reply_to
        self.reply_to = [reply_to] if reply_to else []
        list_domain = getattr(settings, "MAILING_LIST_ID_DOMAIN", "") or message_id_domain()
        # Pre-encoded so that only the phrase becomes an encoded-word, never the <id> part.
        phrase = Header(ml.name, "utf-8").encode() if not ml.name.isascii() else f'"{ml.name}"'
        self.list_id = f"{phrase} <{ml.slug}.{list_domain}>"

    def values(self, recipient: Recipient) -> dict[str, str]:
        if not recipient.email:
            # The archive's copy: addressed to 各位, pointing at the preference page.
            return {
                "宛名": GROUP_ADDRESS,
                "団体名": "",
                "氏名": "",
                "所属": "",
                "メールアドレス": _("各宛先"),
                "リスト名": self.mailing_list.name,
                "配信停止URL": preferences_url(),
                "_token": "",
            }
        token = make_unsubscribe_token(self.mailing_list.pk, recipient.email)
        return {
            "宛名": address_line(recipient),
            "団体名": recipient.organisation,
            "氏名": recipient.name,
            "所属": recipient.department,
            "メールアドレス": recipient.email,
            "リスト名": self.mailing_list.name,
            "配信停止URL": unsubscribe_url(token),
            "_token": token,
        }

    def headers(self, values: dict[str, str], delivery_id: int | None) -> dict[str, str]:
        token = values["_token"]
        headers = {
            "List-Id": self.list_id,
            "List-Unsubscribe": f"<{unsubscribe_url(token)}>, <{unsubscribe_mailto(token)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "Precedence": "bulk",
        }
        if delivery_id is not None:
            headers["Message-ID"] = message_id_for(delivery_id, self.bulletin.pk)
        return headers

    def render(self, recipient: Recipient) -> Rendered:
        values = self.values(recipient)
        one_line = {k: " ".join(v.split()) for k, v in values.items()}
        html_values = {k: html.escape(v).replace("\n", "<br>") for k, v in values.items()}
        return Rendered(
            subject=substitute(self.subject, one_line),
            text=substitute(self.text, values),
            html=substitute(self.html, html_values) if self.html else "",
            headers=self.headers(values, recipient.delivery_id),
        )

    def message(self, recipient: Recipient, *, connection: Any = None) -> EmailMultiAlternatives:
        rendered = self.render(recipient)
        message = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=self.from_email,
            to=[recipient.email],
            reply_to=self.reply_to,
            headers=rendered.headers,
            connection=connection,
        )
        if rendered.html:
            message.attach_alternative(rendered.html, "text/html")
        _tracking_off(message, connection)
        return message

    def merge_templates(self, api: BatchAPI) -> tuple[str, str, str]:
        """Subject, text and HTML with placeholders turned into API's merge fields; the HTML
        fields get their own escaped values (`x_h`)."""
        text_fields = {k: api.text_field % v for k, v in MERGE_KEYS.items()}
        html_fields = {k: api.html_field % v for k, v in MERGE_KEYS.items()}
        return (
            substitute(self.subject, text_fields),
            substitute(self.text, text_fields),
            substitute(self.html, html_fields) if self.html else "",
        )

    def merge_data(self, values: dict[str, str]) -> dict[str, str]:
        data = {MERGE_KEYS[k]: values[k] for k in MERGE_KEYS}
        for key in MERGE_KEYS:
            data[MERGE_KEYS[key] + "_h"] = html.escape(values[key]).replace("\n", "<br>")
        return data


class CompiledMessage:
    """A whole message rendered once, as bytes, with ASCII sentinels where each recipient's
    values go; a recipient then costs a few byte replacements instead of building a MIME tree.
    Only for plain SMTP, and only when every part goes out as 8bit (so a sentinel stands in the
    bytes exactly as written) and the subject has no placeholders: `compile()` returns None
    otherwise and each message is built by Django instead."""

    TO = "renkei-recipient@sentinel.invalid"

    def __init__(self, composer: Composer, raw: bytes, marks: dict[str, str]) -> None:
        self.composer = composer
        self.raw = raw
        self.marks = {key: mark.encode() for key, mark in marks.items()}
        self.from_address = sanitize_address(composer.from_email, "utf-8")

    @classmethod
    def compile(cls, composer: Composer) -> CompiledMessage | None:
        if "{{" in composer.subject:
            return None
        salt = uuid.uuid4().hex[:12]
        # Text and HTML get their own marks: the HTML takes escaped values.
        marks = {f"text:{key}": f"RENKEI{i}T{salt}" for i, key in enumerate(MERGE_KEYS)}
        marks |= {f"html:{key}": f"RENKEI{i}H{salt}" for i, key in enumerate(MERGE_KEYS)}
        marks["token"] = f"RENKEITOKEN{salt}"
        marks["message_id"] = f"<RENKEIMSGID{salt}@sentinel.invalid>"
        text_values = {key: marks[f"text:{key}"] for key in MERGE_KEYS}
        html_values = {key: marks[f"html:{key}"] for key in MERGE_KEYS}
        headers = composer.headers({"_token": marks["token"]}, None)
        headers["Message-ID"] = marks["message_id"]
        message = EmailMultiAlternatives(
            subject=composer.subject,
            body=substitute(composer.text, text_values),
            from_email=composer.from_email,
            to=[cls.TO],
            reply_to=composer.reply_to,
            headers=headers,
        )
        if composer.html:
            message.attach_alternative(substitute(composer.html, html_values), "text/html")
        mime = message.message()
        for part in mime.walk():
            if not part.is_multipart() and part.get("Content-Transfer-Encoding") != "8bit":
                return None
        buffer = io.BytesIO()
        BytesGenerator(buffer, mangle_from_=False).flatten(mime, linesep="\r\n")
        return cls(composer, buffer.getvalue(), marks)

    def render(self, recipient: Recipient) -> bytes | None:
        """The message for RECIPIENT, or None if it needs the slow path."""
        if not recipient.email.isascii() or recipient.delivery_id is None:
            return None
        values = self.composer.values(recipient)
        raw = self.raw.replace(self.TO.encode(), recipient.email.encode())
        message_id = message_id_for(recipient.delivery_id, self.composer.bulletin.pk)
        raw = raw.replace(self.marks["message_id"], message_id.encode())
        raw = raw.replace(self.marks["token"], values["_token"].encode())
        for key in MERGE_KEYS:
            value = values[key]
            raw = raw.replace(self.marks[f"text:{key}"], value.replace("\n", "\r\n").encode())
            escaped = html.escape(value).replace("\n", "<br>")
            raw = raw.replace(self.marks[f"html:{key}"], escaped.encode())
        return raw


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
        return [self.send_one(composer, recipient) for recipient in recipients]

    def compiled(self, composer: Composer) -> CompiledMessage | None:
        """SMTP only: the message compiled once per composer (one per drained chunk)."""
        if not isinstance(self.connection, SMTPBackend):
            return None
        if self._compiled_for is not composer:
            self._compiled_for = composer
            self._compiled = CompiledMessage.compile(composer)
        return self._compiled

    _compiled_for: Composer | None = None
    _compiled: CompiledMessage | None = None

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
        compiled = self.compiled(composer)
        raw = compiled.render(recipient) if compiled is not None else None
        if compiled is not None and raw is not None:
            return self._send_raw(compiled, recipient, raw)
        try:
            message = composer.message(recipient, connection=self.connection)
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

    def _send_raw(self, compiled: CompiledMessage, recipient: Recipient, raw: bytes) -> Outcome:
        our_id = message_id_for(recipient.delivery_id or 0, compiled.composer.bulletin.pk)
        smtp = self.connection
        assert isinstance(smtp, SMTPBackend)
        try:
            if smtp.connection is None:
                smtp.open()
            session = smtp.connection
            if session is None:
                raise smtplib.SMTPServerDisconnected("could not connect")
            session.sendmail(compiled.from_address, [recipient.email], raw)
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

        subject, text, html_body = composer.merge_templates(self.api)
        merge_data: dict[str, dict[str, str]] = {}
        merge_headers: dict[str, dict[str, str]] = {}
        ours: dict[str, str] = {}
        outcomes: dict[str, Outcome] = {}
        for recipient in recipients:
            try:
                values = composer.values(recipient)
                headers = composer.headers(values, recipient.delivery_id)
                merge_data[recipient.email] = composer.merge_data(values)
            except Exception as exc:
                outcomes[recipient.email] = Outcome("failed", error=f"build: {exc}"[:1000])
                continue
            ours[recipient.email] = headers.pop("Message-ID", "")
            merge_headers[recipient.email] = {
                "List-Unsubscribe": headers["List-Unsubscribe"],
                **({"Message-ID": ours[recipient.email]} if ours[recipient.email] else {}),
            }
        to = [r.email for r in recipients if r.email in merge_data]
        if to:
            message = AnymailMessage(
                subject=subject,
                body=text,
                from_email=composer.from_email,
                to=to,
                reply_to=composer.reply_to,
                headers={
                    "List-Id": composer.list_id,
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
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
