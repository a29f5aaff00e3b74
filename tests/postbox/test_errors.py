"""The one rule for transient and permanent errors, shared by bulletins and the postbox."""

from __future__ import annotations

import datetime as dt
import smtplib
from email.utils import format_datetime

import pytest
import requests
from anymail.exceptions import AnymailRecipientsRefused, AnymailRequestsAPIError
from django.utils import timezone

from postbox.errors import breaks_connection, classify_error


def _api_error(status: int, retry_after: str | None = None) -> AnymailRequestsAPIError:
    response = requests.Response()
    response.status_code = status
    response._content = b'{"message": "slow down"}'
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return AnymailRequestsAPIError("provider said no", status_code=status, response=response)


@pytest.mark.parametrize(
    ("exc", "kind", "lost"),
    [
        (
            smtplib.SMTPRecipientsRefused(
                {"a@example.jp": (452, b"4.3.1 Insufficient system storage")}
            ),
            "retry",
            False,
        ),
        (
            smtplib.SMTPRecipientsRefused({"a@example.jp": (550, b"5.1.1 No such user here")}),
            "failed",
            False,
        ),
        (smtplib.SMTPDataError(451, b"4.3.0 Try again later"), "retry", False),
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected"), "failed", False),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender refused", "x@example.jp"), "failed", False),
        (smtplib.SMTPResponseException(421, b"4.3.2 Service shutting down"), "retry", True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "retry", True),
        (ConnectionRefusedError(111, "Connection refused"), "retry", True),
        (TimeoutError("timed out"), "retry", True),
        (_api_error(429), "retry", True),
        (_api_error(503), "retry", True),
        (_api_error(400), "failed", False),
        (_api_error(401), "failed", False),
        (AnymailRecipientsRefused("all refused"), "failed", False),
        (ValueError("a bug"), "failed", False),
    ],
)
def test_it_tells_transient_from_permanent_by_the_reply(exc, kind, lost):
    outcome = classify_error(exc)

    assert outcome.kind == kind
    assert breaks_connection(exc) is lost
    assert outcome.error  # the raw detail is kept
    assert any("\u3040" <= ch <= "\u9fff" for ch in outcome.reason)  # said in Japanese


def test_it_quotes_the_servers_reply_in_the_reason():
    refused = smtplib.SMTPRecipientsRefused({"a@example.jp": (550, b"5.1.1 No such user here")})

    outcome = classify_error(refused)

    assert "550 5.1.1 No such user here" in outcome.reason
    assert "受け付けませんでした" in outcome.reason


def test_it_honours_a_retry_after_in_seconds_or_as_a_date():
    assert classify_error(_api_error(429, "120")).retry_after == 120
    later = format_datetime(timezone.now() + dt.timedelta(seconds=90), usegmt=True)
    assert 80 < (classify_error(_api_error(503, later)).retry_after or 0) <= 90
    assert classify_error(_api_error(429, "soon")).retry_after is None
    assert classify_error(_api_error(429)).retry_after is None


def test_the_bulletin_pipeline_uses_the_same_rule():
    from mailing import sending

    assert sending.classify_error is classify_error
