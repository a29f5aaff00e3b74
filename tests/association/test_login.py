import re

import pytest
from django.test import Client
from django.urls import reverse

from association import services
from association.models import User

CODE_REQUEST = "/accounts/login/code/"
CODE_CONFIRM = "/accounts/login/code/confirm/"


def request_code(client, email):
    return client.post(CODE_REQUEST, {"email": email})


def code_from(outbox, email):
    mails = outbox.to(email)
    assert mails, f"no code mail to {email}"
    match = re.search(r"確認コード：(\S+)", mails[-1].text)
    assert match, mails[-1].text
    return match.group(1)


def test_it_logs_in_an_active_contact_with_a_code_from_the_mail(client, alice, outbox):
    response = request_code(client, "ALICE@city.edogawa.example.jp")
    assert response.status_code == 302
    assert response["Location"].startswith(CODE_CONFIRM)

    code = code_from(outbox, alice.email)
    response = client.post(CODE_CONFIRM, {"code": code})
    assert response.status_code == 302

    home = client.get(reverse("portal:home"), follow=True)
    assert home.status_code == 200
    assert "東京都江戸川区" in home.content.decode()


def test_it_sends_no_code_to_an_address_that_is_not_a_contact(client, alice, outbox):
    response = request_code(client, "stranger@example.jp")
    # The page looks the same (no enumeration), but nothing is sent and nobody logs in.
    assert response.status_code == 302
    assert len(outbox) == 0


def test_it_sends_no_code_to_a_deactivated_contact(client, alice, bob, outbox):
    services.deactivate_contact(bob)
    request_code(client, bob.email)
    assert outbox.to(bob.email) == []


def test_it_refuses_the_portal_to_a_contact_whose_member_left(client, alice, edogawa, outbox):
    services.withdraw_member(edogawa)
    request_code(client, alice.email)
    assert outbox.to(alice.email) == []


def test_it_rejects_a_wrong_code_and_stops_after_three_attempts(client, alice, outbox):
    request_code(client, alice.email)
    real = code_from(outbox, alice.email)
    wrong = "0" if real[0] != "0" else "1"
    wrong += real[1:]
    for _ in range(3):
        client.post(CODE_CONFIRM, {"code": wrong})
        assert "_auth_user_id" not in client.session
    # After the allowed attempts the pending login is gone: even the real code fails now.
    client.post(CODE_CONFIRM, {"code": real})
    assert "_auth_user_id" not in client.session


def test_it_rate_limits_repeated_code_requests_for_one_address(alice, outbox):
    # Each request from a fresh browser, as someone hammering the form would.
    responses = [request_code(Client(), alice.email) for _ in range(4)]
    assert [r.status_code for r in responses] == [302, 302, 302, 200]
    assert "時間が経ってからやり直してください" in responses[-1].content.decode()
    assert len(outbox.to(alice.email)) == 3


def test_it_offers_no_signup(client, registry):
    response = client.get("/accounts/signup/")
    assert "signup_closed" in response.templates[0].name
    client.post("/accounts/signup/", {"email": "new@example.jp"})
    assert not User.objects.filter(email="new@example.jp").exists()


@pytest.mark.parametrize("path", ["/portal/", "/portal/m/131237/"])
def test_it_sends_anonymous_visitors_to_the_login_page(client, edogawa, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(CODE_REQUEST)
