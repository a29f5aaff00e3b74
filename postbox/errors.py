"""The one rule for what a mail transport's error means, shared by every sending path (the
bulletin pipeline in mailing.sending and the postbox): transient (SMTP 4xx, a dropped or refused
connection, HTTP 429 and 5xx from a provider's API) → retry later, honouring Retry-After;
anything else (SMTP 5xx, a provider refusing the recipient or the request) → failed, with the
reason.

`Outcome.error` keeps the raw detail (reply code and text) for the log and the admin;
`Outcome.reason` says the same in words for the secretariat (Japanese, through gettext).
"""

from __future__ import annotations

import email.utils
import smtplib
import time
from dataclasses import dataclass
from typing import Any, Literal

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Outcome:
    kind: Literal["sent", "retry", "failed"]
    provider_message_id: str = ""
    message_id: str = ""
    error: str = ""
    retry_after: float | None = None
    reason: str = ""


def retry_after_seconds(response: Any) -> float | None:
    """A provider's Retry-After header (seconds or an HTTP date), or None."""
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def _reply(code: int, message: object) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:300]


def classify_error(exc: BaseException) -> Outcome:
    """Transient (connection, SMTP 4xx, HTTP 429/5xx) → retry; anything else → failed."""
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    detail = f"{type(exc).__name__}: {exc}"[:1000]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        codes = [code for code, _msg in replies]
        said = "; ".join(_reply(code, msg) for code, msg in replies)
        if codes and all(400 <= code < 500 for code in codes):
            reason = _("宛先のメールサーバーが一時的に受け付けませんでした（%(reply)s）。")
            return Outcome("retry", error=detail, reason=reason % {"reply": said})
        reason = _("宛先のメールサーバーがこのアドレスを受け付けませんでした（%(reply)s）。")
        return Outcome("failed", error=detail, reason=reason % {"reply": said})
    if isinstance(exc, smtplib.SMTPResponseException):
        said = _reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            reason = _("メールサーバーが一時的に受け付けませんでした（%(reply)s）。")
            return Outcome("retry", error=detail, reason=reason % {"reply": said})
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            reason = _(
                "メールサーバーへのログインに失敗しました（%(reply)s）。送信設定を確認してください。"
            )
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            reason = _("メールサーバーが送信元アドレスを拒否しました（%(reply)s）。")
        else:
            reason = _("メールサーバーがこのメールを受け付けませんでした（%(reply)s）。")
        return Outcome("failed", error=detail, reason=reason % {"reply": said})
    if isinstance(exc, AnymailRecipientsRefused):
        reason = _("配信サービスがこの宛先への送信を拒否しました。")
        return Outcome("failed", error=detail, reason=reason)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        if status is None or status == 429 or status >= 500:
            if status == 429:
                reason = _("配信サービスの送信量の上限に達しました（HTTP 429）。")
            elif status is None:
                reason = _("配信サービスに接続できませんでした。")
            else:
                reason = _("配信サービスが一時的に応答しませんでした（HTTP %(status)s）。") % {
                    "status": status
                }
            response = getattr(exc, "response", None)
            return Outcome(
                "retry", error=detail, retry_after=retry_after_seconds(response), reason=reason
            )
        reason = _("配信サービスがこのメールを受け付けませんでした（HTTP %(status)s）。")
        return Outcome("failed", error=detail, reason=reason % {"status": status})
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        reason = _("メールサーバーに接続できませんでした（%(error)s）。")
        return Outcome("retry", error=detail, reason=reason % {"error": type(exc).__name__})
    reason = _("メールを送れませんでした（%(error)s）。")
    return Outcome("failed", error=detail, reason=reason % {"error": type(exc).__name__})


def breaks_connection(exc: BaseException) -> bool:
    """The connection (or the provider as a whole) is gone, not just this recipient: the next
    message needs a fresh connection and is not worth trying at once. (SMTPException and
    requests' errors are OSErrors, so the specific cases come first.)"""
    from anymail.exceptions import AnymailAPIError

    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        return status is None or status == 429 or status >= 500
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, (smtplib.SMTPServerDisconnected, OSError))


def recipient_status(message: Any, address: str) -> Outcome | None:
    """What an anymail provider said about one recipient of a message it accepted (anymail
    raises AnymailRecipientsRefused only when it refused every recipient)."""
    status = getattr(message, "anymail_status", None)
    if status is None:
        return None
    recipient = status.recipients.get(address)
    if recipient is None:
        return None
    if recipient.status in ("rejected", "invalid"):
        reason = _("配信サービスがこの宛先を受け付けませんでした（%(status)s）。")
        return Outcome(
            "failed",
            error=f"provider: {recipient.status}",
            reason=reason % {"status": recipient.status},
        )
    if recipient.status == "failed":
        return Outcome(
            "retry", error="provider: failed", reason=_("配信サービスが送信に失敗しました。")
        )
    return Outcome("sent", provider_message_id=recipient.message_id or "")
