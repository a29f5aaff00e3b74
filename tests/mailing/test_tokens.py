import time

import pytest
from django.core import signing
from django.urls import reverse

from mailing.tokens import make_unsubscribe_token, read_unsubscribe_token, unsubscribe_url


def test_it_reads_back_a_token_made_61_days_ago(monkeypatch):
    real = time.time
    monkeypatch.setattr("django.core.signing.time.time", lambda: real() - 61 * 86400)
    token = make_unsubscribe_token(7, "alice@city.edogawa.example.jp")
    monkeypatch.setattr("django.core.signing.time.time", real)

    request = read_unsubscribe_token(token)

    assert (request.list_id, request.email) == (7, "alice@city.edogawa.example.jp")


def test_it_refuses_a_tampered_token():
    token = make_unsubscribe_token(7, "alice@city.edogawa.example.jp")
    with pytest.raises(signing.BadSignature):
        read_unsubscribe_token(token[:-3] + "abc")


def test_it_builds_the_url_the_unsubscribe_view_answers(settings):
    token = make_unsubscribe_token(7, "alice@city.edogawa.example.jp")

    assert unsubscribe_url(token) == settings.SITE_URL + reverse(
        "mailing:unsubscribe", args=[token]
    )
