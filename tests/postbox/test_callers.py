"""The registry's and the mailing app's mail to one person goes through the postbox, queued
in the act's own transaction; erasing a contact erases it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from association import services as registry
from mailing import services as mailing
from postbox.models import OutgoingMail

pytestmark = pytest.mark.django_db

CODE_REQUEST = "/accounts/login/code/"


def test_a_hand_over_queues_the_welcome_for_the_successor(alice, outbox):
    successor = registry.hand_over_contact(
        alice, name="田中 翔", kana="たなか しょう", email="sho.tanaka@city.edogawa.example.jp"
    )

    welcome = OutgoingMail.objects.get()
    assert (welcome.kind, welcome.contact_id, welcome.to) == (
        "welcome",
        successor.pk,
        successor.email,
    )
    assert welcome.subject == "【市区町村会】担当者登録のお知らせ（東京都江戸川区）"
    [mail] = outbox.messages()
    # Nothing typed in the portal (tests/security/test_welcome_mail_phishing.py).
    assert "東京都江戸川区の取りまとめ担当として会員名簿に登録されました" in mail.text


def test_a_hand_over_that_fails_queues_no_welcome(alice, charlie):
    with pytest.raises(ValidationError):
        registry.hand_over_contact(alice, successor=charlie)  # another municipality

    assert OutgoingMail.objects.count() == 0


def test_a_login_code_is_queued_for_the_contact_and_expires_with_the_code(alice, settings):
    response = Client().post(CODE_REQUEST, {"email": alice.email})

    assert response.status_code == 302
    code = OutgoingMail.objects.get()
    assert (code.kind, code.contact_id, code.to) == ("login_code", alice.pk, alice.email)
    assert "確認コード：" in code.text
    lifetime = settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT
    assert code.expires_at is not None
    assert abs((code.expires_at - timezone.now()).total_seconds() - lifetime) < 5


def test_no_code_is_queued_for_an_address_that_is_not_a_contact(alice):
    Client().post(CODE_REQUEST, {"email": "stranger@example.jp"})

    assert OutgoingMail.objects.count() == 0


def test_erasing_a_contact_erases_their_mail_and_no_one_elses(alice, bob, outbox):
    Client().post(CODE_REQUEST, {"email": bob.email})
    Client().post(CODE_REQUEST, {"email": alice.email})
    successor = registry.hand_over_contact(bob, name="田中 翔", email="sho@city.edogawa.example.jp")
    outbox.messages()  # sent: the rows stay (a code's body cleared)

    registry.erase_contact(successor)
    registry.erase_contact(bob)

    left = OutgoingMail.objects.all()
    assert [(m.kind, m.to) for m in left] == [("login_code", alice.email)]
    for value in (bob.email, "sho@city.edogawa.example.jp", "田中", "鈴木"):
        assert not OutgoingMail.objects.filter(
            Q(to__icontains=value) | Q(subject__icontains=value) | Q(text__icontains=value)
        ).exists()


def test_the_secretariat_report_of_a_suppression_is_queued_with_it(alice, outbox):
    mailing.suppress_address(alice.email, reason="hard_bounce")

    report = OutgoingMail.objects.get()
    assert (report.kind, report.to) == ("secretariat_report", "jimukyoku@renkei.example.jp")
    assert report.contact_id is None
    [mail] = outbox.messages()
    assert alice.email in mail.text and "東京都江戸川区" in mail.text


def test_the_same_request_twice_queues_two_codes_and_sends_both_once(alice, outbox):
    for _ in range(2):
        Client().post(CODE_REQUEST, {"email": alice.email})

    assert len(outbox.to(alice.email)) == 2
    assert len(outbox.to(alice.email)) == 2  # reading again sends nothing more
    assert OutgoingMail.objects.filter(status="sent").count() == 2


def test_an_expired_code_waiting_for_a_dead_relay_is_never_sent(alice, outbox):
    Client().post(CODE_REQUEST, {"email": alice.email})
    # The relay was down for longer than the code lives (the clock moves on).
    OutgoingMail.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert outbox.to(alice.email) == []
    assert OutgoingMail.objects.get().status == "cancelled"
