"""The login-code request answers the same whether the relay is up, slow, refusing for a
while, down or rejecting the address: the code is queued in the postbox and a real worker
sends it when the relay lets it (today's HTTP 500 came from sending inside the request)."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator

import pytest
from django.test import Client

from postbox.models import OutgoingMail

from ..mailing.helpers import BeatProcess, wait_until
from ..workers import WorkerProcess, purge_queues
from .relay import NO_SUCH_USER, Relay, smtp_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CODE_REQUEST = "/accounts/login/code/"
CODE_CONFIRM = "/accounts/login/code/confirm/"


@pytest.fixture
def stack(settings, tmp_path) -> Iterator[tuple[Relay, WorkerProcess]]:
    """A relay, a worker and beat sending to it; this process (the web side) is pointed at the
    same relay, so a send inside the request would feel whatever the relay does."""
    purge_queues()
    relay = Relay().__enter__()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", relay.port, 20
    env = smtp_env(relay.port)
    worker = WorkerProcess(queues=("transactional",), **env)
    beat = BeatProcess(tmp_path, **env)
    try:
        worker.wait_ready()
        yield relay, worker
    finally:
        beat.stop()
        worker.stop()
        relay.__exit__()


def _code_in(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(r"確認コード：(\S+)", body.get_content())
    assert match, body.get_content()
    return match.group(1)


@pytest.mark.parametrize("relay_state", ["up", "slow", "refusing", "down"])
def test_the_code_page_answers_at_once_and_the_code_arrives_when_the_relay_lets_it(
    relay_state, stack, alice
):
    relay, _worker = stack
    if relay_state == "slow":
        relay.handler.stall_all = 8  # the relay takes 8 s to answer each RCPT
    elif relay_state == "refusing":
        relay.handler.refuse_for = 6
    elif relay_state == "down":
        relay.go_down()
    client = Client()

    response = client.post(CODE_REQUEST, {"email": alice.email}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(CODE_CONFIRM)
    assert "コード" in response.content.decode()
    if relay_state in ("slow", "down"):
        assert relay.handler.accepted[alice.email] == 0  # the page did not wait for it
    if relay_state == "down":
        time.sleep(3)
        relay.come_back()
    wait_until(lambda: relay.handler.accepted[alice.email] == 1, 60, "the code to arrive")
    code = _code_in(relay.handler.contents[alice.email][0])

    confirmed = client.post(CODE_CONFIRM, {"code": code})

    assert confirmed.status_code == 302
    assert "_auth_user_id" in client.session
    row = OutgoingMail.objects.get(kind=OutgoingMail.Kind.LOGIN_CODE)
    assert (row.status, row.text, row.contact_id) == ("sent", "", alice.pk)
    assert relay.handler.accepted[alice.email] == 1


def test_a_rejected_address_still_gets_the_same_page_and_the_secretariat_sees_why(stack, alice):
    relay, _worker = stack
    relay.handler.always[alice.email] = NO_SUCH_USER

    response = Client().post(CODE_REQUEST, {"email": alice.email}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(CODE_CONFIRM)
    wait_until(
        lambda: OutgoingMail.objects.filter(status=OutgoingMail.Status.FAILED).exists(),
        30,
        "the refusal to be recorded",
    )
    row = OutgoingMail.objects.get()
    assert "このアドレスを受け付けませんでした" in row.error
    assert row.text == ""  # the code is not kept
