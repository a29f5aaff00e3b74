"""Mail to one person: queued in the caller's transaction, sent after commit by a Celery worker
(task `postbox.send_mail`, queue "transactional"), retried by the shared rule of
postbox.errors, and shown to the secretariat when it finally fails.

For other apps (call these; never write postbox rows directly):

  queue_mail(*, to, subject, text, html="", kind, attachments=(), headers=None, reply_to=(),
             contact_id=None, reference="", expires_at=None) -> OutgoingMail
      inside your transaction; ValidationError (Japanese) for anything that would not make one
      clean message to one person. Nothing is sent if your transaction rolls back.
  forget_contact(contact_id) -> int       erasure: that person's messages are deleted
  failed_recently(*, days=7) -> QuerySet   what could not be sent, newest first (dashboard)

The sender (`send_due_mail`) claims due rows with a token, marks each one just before it goes
(so a row released or cancelled meanwhile is skipped), sends over one connection and records
each outcome at once: a worker killed mid-send re-sends at most the one message in flight.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import logging
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.mail.message import make_msgid
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import Outcome, classify_error
from .models import OutgoingMail
from .tasks import send_mail_task
from .transport import send_one

logger = logging.getLogger(__name__)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_attempts() -> int:
    return int(_setting("POSTBOX_MAX_ATTEMPTS", 8))


def claim_timeout() -> float:
    return float(_setting("POSTBOX_CLAIM_TIMEOUT", 120))


# --- queueing ------------------------------------------------------------------------------

MAX_ATTACHMENT_BYTES = 256 * 1024
MAX_SUBJECT = 500
# Headers the postbox sets itself: one recipient, our sender, our Message-ID, our MIME tree.
RESERVED_HEADERS = frozenset(
    {
        "to",
        "cc",
        "bcc",
        "from",
        "sender",
        "reply-to",
        "subject",
        "message-id",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ":"
MIMETYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
LINE_BREAKS = re.compile(r"[\r\n\x00\u2028\u2029\x85\x0b\x0c]")


def _one_line(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(_("%(what)sが文字列ではありません。") % {"what": what})
    if LINE_BREAKS.search(value):
        raise ValidationError(_("%(what)sに改行を含めることはできません。") % {"what": what})
    return value


def _address(value: str, what: str) -> str:
    """Exactly one address, never a list: "address" or "Name <address>" as
    email.utils.formataddr() writes it (a display name with specials is quoted)."""
    value = _one_line(value, what).strip()
    parsed = email.utils.getaddresses([value])
    if len(parsed) != 1 or not parsed[0][1] or len(value) > 320:
        raise ValidationError(
            _("%(what)sには宛先を一つだけ指定してください: %(value)s")
            % {"what": what, "value": value[:100]}
        )
    name, address = parsed[0]
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError(
            _("%(what)sのメールアドレスが正しくありません: %(value)s")
            % {"what": what, "value": value[:100]}
        ) from None
    # "a@b.example, c@d.example" parses as one address on some inputs; a comma or semicolon
    # outside the display name is never part of one address.
    if ("," in value or ";" in value) and not name:
        raise ValidationError(_("%(what)sには宛先を一つだけ指定してください。") % {"what": what})
    return value


def _headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    clean: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise ValidationError(_("ヘッダー名が正しくありません: %(name)r") % {"name": name})
        if name.lower() in RESERVED_HEADERS:
            raise ValidationError(
                _("ヘッダー %(name)s は指定できません（宛先・差出人などは送信側で決めます）。")
                % {"name": name}
            )
        clean[name] = _one_line(value, _("ヘッダー %(name)s") % {"name": name})
    return clean


def _attachments(attachments: Iterable[Sequence[Any]]) -> list[dict[str, str]]:
    stored: list[dict[str, str]] = []
    total = 0
    for item in attachments:
        try:
            filename, content, mimetype = item
        except (TypeError, ValueError):
            raise ValidationError(
                _("添付ファイルは（ファイル名、内容、種類）の組で指定してください。")
            ) from None
        filename = _one_line(filename, _("添付ファイル名")).strip()
        if not filename or "/" in filename or "\\" in filename or len(filename) > 200:
            raise ValidationError(
                _("添付ファイル名が正しくありません: %(name)s") % {"name": filename[:100]}
            )
        if not isinstance(mimetype, str) or not MIMETYPE.match(mimetype):
            raise ValidationError(
                _("添付ファイルの種類が正しくありません: %(type)r") % {"type": mimetype}
            )
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        total += len(data)
        if total > MAX_ATTACHMENT_BYTES:
            raise ValidationError(
                _("添付ファイルが大きすぎます（合計 %(limit)d KB まで）。")
                % {"limit": MAX_ATTACHMENT_BYTES // 1024}
            )
        stored.append(
            {
                "filename": filename,
                "mimetype": mimetype,
                "content": base64.b64encode(data).decode("ascii"),
            }
        )
    return stored


def message_id_domain() -> str:
    configured = _setting("MAILING_MESSAGE_ID_DOMAIN", "")
    if configured:
        return str(configured)
    _name, address = email.utils.parseaddr(settings.DEFAULT_FROM_EMAIL)
    return address.rpartition("@")[2] or "renkei.invalid"


def queue_mail(
    *,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    kind: str,
    attachments: Iterable[Sequence[Any]] = (),
    headers: Mapping[str, str] | None = None,
    reply_to: Iterable[str] = (),
    contact_id: int | None = None,
    reference: str = "",
    expires_at: dt.datetime | None = None,
) -> OutgoingMail:
    """Queue one message to one person, inside the caller's transaction; the sender is woken
    once the transaction commits. ATTACHMENTS are (filename, content, mimetype) as for
    EmailMessage.attach(). EXPIRES_AT: not sent after this (a login code past its lifetime)."""
    if kind not in OutgoingMail.Kind.values:
        raise ValidationError(_("メールの種類が正しくありません: %(kind)s") % {"kind": kind})
    to = _address(to, _("宛先"))
    subject = _one_line(subject, _("件名")).strip()
    if not subject or len(subject) > MAX_SUBJECT:
        raise ValidationError(
            _("件名は1文字以上%(max)d文字以内にしてください。") % {"max": MAX_SUBJECT}
        )
    if not isinstance(text, str) or not text.strip():
        # Many recipients read plain text only (LGWAN): the text part must stand alone.
        raise ValidationError(_("テキストの本文がありません。"))
    if not isinstance(html, str):
        raise ValidationError(_("HTMLの本文が文字列ではありません。"))
    if "\x00" in text or "\x00" in html:
        # No mail part may carry it, and PostgreSQL cannot store it: refused, not half-queued.
        raise ValidationError(_("本文に使えない文字（NUL）が含まれています。"))
    reference = _one_line(reference, _("参照"))[:200]
    if contact_id is not None and (not isinstance(contact_id, int) or contact_id <= 0):
        raise ValidationError(_("担当者IDが正しくありません。"))
    if expires_at is not None and timezone.is_naive(expires_at):
        raise ValidationError(_("送信期限にはタイムゾーンが必要です。"))
    mail = OutgoingMail.objects.create(
        kind=kind,
        to=to,
        subject=subject,
        text=text,
        html=html,
        attachments=_attachments(attachments),
        headers=_headers(headers),
        reply_to=[_address(address, _("返信先")) for address in reply_to],
        contact_id=contact_id,
        reference=reference,
        expires_at=expires_at,
        message_id=make_msgid("postbox", domain=message_id_domain()),
    )
    transaction.on_commit(wake_sender, robust=True)
    return mail


SENDER_FLAG = "postbox:sender-queued"


def wake_sender() -> None:
    """Queue the sending task unless one is queued already and has not started yet: one task
    per burst, not one per message. The task clears the flag before it looks for due rows, so
    a row committed before this call is always seen by a task that starts after it."""
    if cache.add(SENDER_FLAG, 1, timeout=60):
        try:
            send_mail_task.delay()
        except Exception:
            cache.delete(SENDER_FLAG)  # beat will send it; the next commit tries again
            raise


# --- sending -------------------------------------------------------------------------------


def _scrubbed(mail_kind: str) -> dict[str, Any]:
    """Fields to clear when a message reaches a final state: a credential's body goes."""
    if mail_kind in OutgoingMail.CREDENTIAL_KINDS:
        return {"text": "", "html": "", "attachments": [], "body_cleared": True}
    return {}


def _credential_when() -> Case:
    return Case(
        When(kind__in=OutgoingMail.CREDENTIAL_KINDS, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )


def release_stale_claims(*, now: dt.datetime | None = None) -> int:
    """Rows whose worker went silent (killed, lost) go back to the queue, or fail once they
    used up their attempts. A live worker marks each row just before sending it, so only a
    row that has been in one worker's hands for the whole claim timeout is taken back."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=claim_timeout())
    released = 0
    with transaction.atomic():
        lost = OutgoingMail.objects.filter(status=OutgoingMail.Status.SENDING, claimed_at__lt=stale)
        for kind in set(lost.filter(attempts__gte=max_attempts()).values_list("kind", flat=True)):
            lost.filter(attempts__gte=max_attempts(), kind=kind).update(
                status=OutgoingMail.Status.FAILED,
                claim_token="",
                failed_at=now,
                error=_("送信処理が応答しなくなりました（再試行の上限）。"),
                **_scrubbed(kind),
            )
        released = lost.update(status=OutgoingMail.Status.QUEUED, claim_token="", claimed_at=None)
    if released:
        logger.warning("postbox: released %d stale claims", released)
    return released


def expire_mail(*, now: dt.datetime | None = None) -> int:
    """Queued messages past their expiry are not sent (a login code nobody can use any more)."""
    now = now or timezone.now()
    expired = 0
    late = OutgoingMail.objects.filter(status=OutgoingMail.Status.QUEUED, expires_at__lte=now)
    for kind in set(late.values_list("kind", flat=True)):
        expired += late.filter(kind=kind).update(
            status=OutgoingMail.Status.CANCELLED,
            claim_token="",
            error=_("送信期限を過ぎたため送信しませんでした。"),
            **_scrubbed(kind),
        )
    return expired


def claim_mail(*, limit: int, now: dt.datetime | None = None) -> tuple[str, list[OutgoingMail]]:
    """Take up to LIMIT due rows for this worker in one short transaction, login codes first.
    Rows another worker holds are skipped (PostgreSQL: SKIP LOCKED; SQLite: the immediate
    transaction's lock)."""
    token = uuid.uuid4().hex
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            OutgoingMail.objects.due(now)
            .select_for_update(skip_locked=True)
            .order_by(_credential_when(), "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return token, []
        OutgoingMail.objects.filter(pk__in=ids, status=OutgoingMail.Status.QUEUED).update(
            status=OutgoingMail.Status.SENDING, claim_token=token, claimed_at=now
        )
    rows = list(
        OutgoingMail.objects.filter(claim_token=token, status=OutgoingMail.Status.SENDING).order_by(
            _credential_when(), "id"
        )
    )
    return token, rows


def _mine(mail: OutgoingMail, token: str) -> QuerySet[OutgoingMail]:
    return OutgoingMail.objects.filter(
        pk=mail.pk, claim_token=token, status=OutgoingMail.Status.SENDING
    )


def _start_attempt(mail: OutgoingMail, token: str) -> bool:
    """Mark MAIL as being sent now (one more attempt). False if it is no longer ours: released
    by the sweeper, cancelled or erased since the claim."""
    started = _mine(mail, token).update(claimed_at=timezone.now(), attempts=F("attempts") + 1)
    if started:
        mail.attempts += 1
    return bool(started)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Exponential back-off from POSTBOX_RETRY_SECONDS; a provider's Retry-After wins when it
    asks for longer. Capped by POSTBOX_RETRY_MAX_SECONDS."""
    base = float(_setting("POSTBOX_RETRY_SECONDS", 30))
    delay = max(retry_after or 0.0, base * 2 ** max(attempts - 1, 0))
    return min(delay, float(_setting("POSTBOX_RETRY_MAX_SECONDS", 3600)))


def record_outcome(mail: OutgoingMail, token: str, outcome: Outcome) -> dt.datetime | None:
    """Write what happened to one message. Returns when it is due again (a retry), else None."""
    now = timezone.now()
    mine = _mine(mail, token)
    if outcome.kind == "sent":
        mine.update(
            status=OutgoingMail.Status.SENT,
            sent_at=now,
            provider_message_id=outcome.provider_message_id[:200],
            claim_token="",
            error="",
            error_detail="",
            **_scrubbed(mail.kind),
        )
        return None
    reason = outcome.reason or outcome.error
    if outcome.kind == "retry" and mail.attempts < max_attempts():
        due = now + dt.timedelta(seconds=retry_delay(mail.attempts, outcome.retry_after))
        mine.update(
            status=OutgoingMail.Status.QUEUED,
            next_attempt_at=due,
            claim_token="",
            error=reason,
            error_detail=outcome.error,
        )
        return due
    if outcome.kind == "retry":
        reason = _("%(n)d回試みましたが送れませんでした。最後の応答: %(reason)s") % {
            "n": mail.attempts,
            "reason": reason,
        }
    mine.update(
        status=OutgoingMail.Status.FAILED,
        failed_at=now,
        claim_token="",
        error=reason,
        error_detail=outcome.error,
        **_scrubbed(mail.kind),
    )
    logger.warning("postbox: mail %s failed: %s", mail.pk, outcome.error)
    return None


def _hand_back(rows: Sequence[OutgoingMail], token: str, *, due: dt.datetime | None) -> None:
    """Rows claimed but not tried go back to the queue (due again at DUE)."""
    if rows:
        OutgoingMail.objects.filter(
            pk__in=[r.pk for r in rows], claim_token=token, status=OutgoingMail.Status.SENDING
        ).update(status=OutgoingMail.Status.QUEUED, claim_token="", next_attempt_at=due)


def send_due_mail(*, budget: float | None = None) -> bool:
    """Send what is due, over one connection, until nothing is due or the time budget is
    spent; returns True when it stopped with work left (the task queues another round).
    Safe to run in any number of workers at once. When the connection or the provider as a
    whole fails, the run stops and the rest of its chunk waits as long as the failed message
    (one probe per round while a relay is down, not one per message)."""
    cache.delete(SENDER_FLAG)
    release_stale_claims()
    expire_mail()
    budget = float(budget if budget is not None else _setting("POSTBOX_DRAIN_SECONDS", 30))
    chunk = max(int(_setting("POSTBOX_CHUNK_SIZE", 20)), 1)
    deadline = time.monotonic() + budget
    connection: Any = None
    try:
        while time.monotonic() < deadline:
            token, rows = claim_mail(limit=chunk)
            if not rows:
                return False
            for index, mail in enumerate(rows):
                if time.monotonic() >= deadline:
                    _hand_back(rows[index:], token, due=None)
                    return True
                if not _start_attempt(mail, token):
                    continue
                if connection is None:
                    connection = get_connection(fail_silently=False)
                    try:
                        connection.open()
                    except Exception as exc:
                        connection = None
                        due = record_outcome(mail, token, classify_error(exc))
                        _hand_back(rows[index + 1 :], token, due=due)
                        return False
                result = send_one(connection, mail)
                due = record_outcome(mail, token, result.outcome)
                if result.connection_lost:
                    _close(connection)
                    connection = None
                    if result.outcome.kind == "retry":
                        _hand_back(rows[index + 1 :], token, due=due)
                        return False
        return True
    finally:
        if connection is not None:
            _close(connection)


def _close(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # closing a broken connection may fail again; it is gone either way
        logger.debug("postbox: closing the mail connection failed", exc_info=True)


# --- erasure, housekeeping, reading ----------------------------------------------------------


def forget_contact(contact_id: int) -> int:
    """A contact's personal data is being erased: every message for them goes, whatever its
    state (a queued one is never sent; a worker holding one finds it gone before sending).
    Returns the number of messages deleted."""
    deleted, _by_model = OutgoingMail.objects.filter(contact_id=contact_id).delete()
    return deleted


def forget_reference(reference: str) -> int:
    """Messages queued under REFERENCE go, whatever their state (an erasure reaching a report
    that named the person, e.g. "mailing.suppression:12"). Returns the number deleted."""
    deleted, _by_model = OutgoingMail.objects.filter(reference=reference).delete()
    return deleted


def prune_mail(*, now: dt.datetime | None = None) -> int:
    """Finished messages older than POSTBOX_KEEP_DAYS are deleted (data minimisation)."""
    now = now or timezone.now()
    keep = dt.timedelta(days=int(_setting("POSTBOX_KEEP_DAYS", 180)))
    deleted, _by_model = (
        OutgoingMail.objects.exclude(status__in=OutgoingMail.PENDING)
        .filter(created_at__lt=now - keep)
        .delete()
    )
    return deleted


def failed_recently(*, days: int = 7, now: dt.datetime | None = None) -> QuerySet[OutgoingMail]:
    """Messages that could not be sent in the last DAYS days, newest first."""
    now = now or timezone.now()
    return OutgoingMail.objects.failed_since(now - dt.timedelta(days=days)).order_by(
        "-failed_at", "-id"
    )
