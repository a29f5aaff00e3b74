"""Fixtures for the postbox tests: a local SMTP sink the sender talks to in this process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from postbox import services
from postbox.models import OutgoingMail

from ..mailing.sink import Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def smtp(settings, sink) -> Sink:
    """Mail goes over SMTP to the local sink (the provider's server stands there)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_TIMEOUT = 5
    return sink


def queue(to: str = "alice@city.edogawa.example.jp", **values: Any) -> OutgoingMail:
    fields: dict[str, Any] = {
        "subject": "【市区町村会】研修会のお知らせ",
        "text": "佐藤 美咲 様\n\n令和8年度 全体研修会のお知らせです。\n",
        "kind": OutgoingMail.Kind.TRAINING_NOTICE,
    }
    fields.update(values)
    return services.queue_mail(to=to, **fields)


def make_due(*mails: OutgoingMail) -> None:
    """Skip the back-off: the rows are due now (what the clock would do)."""
    OutgoingMail.objects.filter(pk__in=[m.pk for m in mails]).update(next_attempt_at=None)
