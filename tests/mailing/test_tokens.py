import base64
import time

import pytest
from django.core import signing
from django.urls import reverse

from mailing.tokens import make_unsubscribe_token, read_unsubscribe_token, unsubscribe_url

ADDRESS = "alice@city.edogawa.example.jp"


def made_days_ago(monkeypatch, days):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - days * 86400)
    token = make_unsubscribe_token(7, ADDRESS)
    monkeypatch.setattr(time, "time", real)
    return token


def test_it_reads_back_a_token_made_61_days_ago(monkeypatch):
    request = read_unsubscribe_token(made_days_ago(monkeypatch, 61))

    assert (request.list_id, request.email) == (7, ADDRESS)


def test_it_refuses_a_token_older_than_its_lifetime(monkeypatch, settings):
    settings.MAILING_UNSUBSCRIBE_TOKEN_DAYS = 60
    with pytest.raises(signing.SignatureExpired):
        read_unsubscribe_token(made_days_ago(monkeypatch, 61))


def test_it_refuses_a_tampered_token():
    token = make_unsubscribe_token(7, ADDRESS)
    with pytest.raises(signing.BadSignature):
        read_unsubscribe_token(token[:-3] + ("abc" if token[-3:] != "abc" else "xyz"))


def test_the_address_cannot_be_read_from_the_token():
    token = make_unsubscribe_token(7, ADDRESS)
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))

    assert "alice" not in token and b"alice" not in decoded and b"edogawa" not in decoded


def test_a_token_made_before_the_secret_was_rotated_still_reads(settings):
    token = make_unsubscribe_token(7, ADDRESS)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-" + "x" * 40

    assert read_unsubscribe_token(token).email == ADDRESS
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        read_unsubscribe_token(token)


def test_it_builds_the_url_the_unsubscribe_view_answers(settings):
    token = make_unsubscribe_token(7, ADDRESS)

    assert unsubscribe_url(token) == settings.SITE_URL + reverse(
        "mailing:unsubscribe", args=[token]
    )
