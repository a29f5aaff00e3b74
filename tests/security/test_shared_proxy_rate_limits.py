"""Attack: behind the documented reverse proxy every request comes from the proxy's address, so
one person's 20 code requests blocked code login for every municipality, and a forged
X-Forwarded-For could dodge a limit (issue 8 §6). TRUSTED_PROXY_COUNT is the one rule for the
client's address (association.adapters.client_ip: allauth's rate limits and django-axes); the
code request for a known and an unknown address does the same in the request: it only queues."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from association.adapters import client_ip
from postbox.models import OutgoingMail

CODE_REQUEST = "/accounts/login/code/"
CODE_CONFIRM = "/accounts/login/code/confirm/"
PROXY = "10.0.0.2"
ATTACKER = "198.51.100.66"


def _behind_proxy(settings: Any, count: int = 1) -> None:
    settings.TRUSTED_PROXY_COUNT = settings.ALLAUTH_TRUSTED_PROXY_COUNT = count


def _request_code(email: str, forwarded_for: str, client: Client | None = None) -> Any:
    client = client or Client()
    return client.post(
        CODE_REQUEST, {"email": email}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for
    )


def _refused(response: Any) -> bool:
    """A rate-limited code request gets the form again with the message that it cannot be
    sent now (association.forms), or allauth's 429 page."""
    if response.status_code == 429:
        return True
    return response.status_code == 200 and "いまは送れません" in response.content.decode()


def _flood(n: int = 25) -> list[bool]:
    """Which of N code requests from one client were refused. The attacker writes their own
    X-Forwarded-For each time; the proxy appends the address it saw."""
    return [
        _refused(_request_code(f"nobody-{i}@example.jp", f"192.0.2.{i}, {ATTACKER}"))
        for i in range(n)
    ]


def _code_in(mail: Any) -> str:
    match = re.search(r"確認コード：(\S+)", mail.text)
    assert match, mail.text
    return match.group(1)


@pytest.mark.django_db
def test_behind_one_proxy_one_clients_requests_do_not_block_code_login_for_another(
    settings, alice, outbox
):
    _behind_proxy(settings)
    refused = _flood()
    assert refused == [False] * 20 + [True] * 5  # that client is limited, forged header or not

    client = Client()
    response = _request_code(alice.email, "203.0.113.20", client)
    assert response.status_code == 302 and response["Location"].startswith(CODE_CONFIRM)
    code = _code_in(outbox.to(alice.email)[-1])
    confirmed = client.post(
        CODE_CONFIRM, {"code": code}, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.20"
    )
    assert confirmed.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.user.pk)


@pytest.mark.django_db
def test_without_the_proxy_count_everyone_behind_the_proxy_shares_one_limit(
    settings, alice, outbox
):
    """Why the setting matters (README: TRUSTED_PROXY_COUNT): with 0, the proxy is the client."""
    _behind_proxy(settings, 0)
    _flood(20)

    assert _refused(_request_code(alice.email, "203.0.113.20"))
    assert not OutgoingMail.objects.exists()


def test_the_client_address_is_the_one_the_trusted_proxy_saw(settings, rf):
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ATTACKER}")
    _behind_proxy(settings, 1)
    assert client_ip(request) == ATTACKER
    _behind_proxy(settings, 0)
    assert client_ip(request) == PROXY
    _behind_proxy(settings, 2)  # two proxies: the second saw what the first appended
    assert client_ip(request) == "192.0.2.1"


class RefusingBackend(BaseEmailBackend):
    """Mail sent during the request itself would come here."""

    opened = 0

    def send_messages(self, email_messages: Any) -> int:
        type(self).opened += 1
        raise AssertionError("a code request sent mail in the request")


def _writes(queries: CaptureQueriesContext) -> list[str]:
    """The tables a request wrote, in order, as (verb, table)."""
    found = []
    for query in queries.captured_queries:
        sql = query["sql"].lstrip().upper()
        match = re.match(r'(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)"?', sql)
        if match:
            found.append(f"{match.group(1).split()[0]} {match.group(2).lower()}")
    return found


@pytest.mark.django_db
def test_a_code_request_for_a_known_and_an_unknown_address_does_the_same_in_the_request(
    settings, alice
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    RefusingBackend.opened = 0
    answers, writes = [], []
    for address in (alice.email, "stranger@example.jp"):
        with CaptureQueriesContext(connection) as queries:
            response = Client().post(CODE_REQUEST, {"email": address}, REMOTE_ADDR="203.0.113.5")
        answers.append((response.status_code, response["Location"]))
        writes.append(_writes(queries))

    assert answers[0] == answers[1] == (302, CODE_CONFIRM)
    assert RefusingBackend.opened == 0  # neither path sends: the worker does
    known, unknown = writes
    # The one difference: the known address's code mail is queued for the worker.
    assert [w for w in known if w != "INSERT postbox_outgoingmail"] == unknown
    assert known.count("INSERT postbox_outgoingmail") == 1
    assert OutgoingMail.objects.get().to == alice.email
