"""Login by a mailed code, as municipality staff use it. The code mail is sent by a real
worker; the request answers at once and the same whether the address is known or not."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from association import services

CODE_REQUEST = "/accounts/login/code/"
CODE_CONFIRM = "/accounts/login/code/confirm/"

worker_db = pytest.mark.django_db(transaction=True)


def request_code(client, email):
    return client.post(CODE_REQUEST, {"email": email})


def code_from(mail):
    match = re.search(r"確認コード：(\S+)", mail.text)
    assert match, mail.text
    return match.group(1)


def wait_for_mail(worker, outbox, email, count=1):
    worker.wait_for(lambda: len(outbox.to(email)) >= count)
    return outbox.to(email)[-1]


@worker_db
def test_it_logs_in_an_active_contact_with_a_code_from_the_mail(
    celery_worker, client, alice, outbox
):
    response = request_code(client, "ALICE@city.edogawa.example.jp")
    assert response.status_code == 302
    assert response["Location"].startswith(CODE_CONFIRM)

    mail = wait_for_mail(celery_worker, outbox, alice.email)
    response = client.post(CODE_CONFIRM, {"code": code_from(mail)})
    assert response.status_code == 302

    home = client.get(reverse("portal:home"), follow=True)
    assert home.status_code == 200
    assert "東京都江戸川区" in home.content.decode()


@worker_db
def test_the_code_mail_names_the_person_and_says_until_when_the_code_works(
    celery_worker, client, alice, outbox
):
    before = timezone.localtime()
    request_code(client, alice.email)
    mail = wait_for_mail(celery_worker, outbox, alice.email)
    assert mail.text.startswith("東京都江戸川区\n佐藤 美咲 様\n")
    assert " 様" not in mail.text.splitlines()[0]
    match = re.search(r"(\d{1,2})時(\d{2})分まで有効です", mail.text)
    assert match, mail.text
    expires = before + dt.timedelta(minutes=10)
    shown = expires.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0)
    assert abs((shown - expires.replace(second=0, microsecond=0)).total_seconds()) <= 60
    assert "まで有効" in mail.subject
    assert mail.html and "佐藤 美咲 様" in mail.html


@worker_db
def test_it_mails_no_code_to_an_unknown_a_deactivated_or_a_withdrawn_address(
    celery_worker, alice, bob, charlie, adachi, outbox
):
    services.deactivate_contact(bob)
    services.withdraw_member(adachi)
    for email in ("stranger@example.jp", bob.email, charlie.email):
        response = request_code(Client(), email)
        # The page answers the same as for a known address (no enumeration).
        assert response.status_code == 302
        assert response["Location"].startswith(CODE_CONFIRM)
    # One worker takes tasks in order: once alice's code has come, the others had their turn.
    request_code(Client(), alice.email)
    wait_for_mail(celery_worker, outbox, alice.email)
    assert [m.to for m in outbox.messages()] == [alice.email]


@worker_db
def test_it_rejects_a_wrong_code_and_stops_after_three_attempts(
    celery_worker, client, alice, outbox
):
    request_code(client, alice.email)
    real = code_from(wait_for_mail(celery_worker, outbox, alice.email))
    wrong = ("B" if real[0] != "B" else "C") + real[1:]
    for _ in range(3):
        response = client.post(CODE_CONFIRM, {"code": wrong}, follow=True)
        assert "_auth_user_id" not in client.session
    assert "このコードは使えなくなりました" in response.content.decode()
    # After the allowed attempts the pending login is gone: even the real code fails now.
    client.post(CODE_CONFIRM, {"code": real})
    assert "_auth_user_id" not in client.session


@worker_db
def test_a_resent_code_replaces_the_first_and_keeps_its_expiry(
    celery_worker, client, alice, outbox
):
    request_code(client, alice.email)
    first = wait_for_mail(celery_worker, outbox, alice.email)
    response = client.post(CODE_CONFIRM, {"action": "resend"})
    assert response.status_code == 302
    second = wait_for_mail(celery_worker, outbox, alice.email, count=2)
    assert code_from(first) != code_from(second)
    expiry = re.compile(r"\d{1,2}時\d{2}分まで有効")
    assert expiry.findall(first.text) == expiry.findall(second.text) != []
    client.post(CODE_CONFIRM, {"code": code_from(first)})
    assert "_auth_user_id" not in client.session
    client.post(CODE_CONFIRM, {"code": code_from(second)})
    assert client.session["_auth_user_id"] == str(alice.user.pk)


@worker_db
def test_it_rate_limits_repeated_code_requests_for_one_address_in_plain_words(
    celery_worker, alice, outbox
):
    # Each request from a fresh browser, as someone hammering the form would.
    responses = [request_code(Client(), alice.email) for _ in range(4)]
    assert [r.status_code for r in responses] == [302, 302, 302, 200]
    page = responses[-1].content.decode()
    assert "短い間に続いたため" in page
    assert "ログイン失敗" not in page
    wait_for_mail(celery_worker, outbox, alice.email, count=3)
    request_code(Client(), "someone-else@example.jp")  # ordering marker, mails nothing
    assert len(outbox.to(alice.email)) == 3


@pytest.mark.parametrize("path", ["/portal/", "/portal/m/131237/"])
def test_it_sends_anonymous_visitors_to_the_login_page(client, edogawa, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(CODE_REQUEST)
