"""The postbox through real worker processes, the real broker and beat, against a local relay
(SMTP) or a loopback fake of a provider's HTTP API, on committed data."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil
import pytest
from django.urls import reverse

from postbox import services
from postbox.models import OutgoingMail

from ..mailing.helpers import BeatProcess, wait_until
from ..workers import WorkerProcess, purge_queues
from .relay import FAST, NO_SUCH_USER, Relay, smtp_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def relay() -> Iterator[Relay]:
    with Relay() as running:
        yield running


@pytest.fixture
def processes() -> Iterator[list]:
    started: list = []
    purge_queues()
    yield started
    for process in reversed(started):
        process.stop()


def _start(processes: list, tmp_path, env: dict[str, Any], *, workers: int = 1) -> list:
    started = [WorkerProcess(queues=("transactional",), **env) for _ in range(workers)]
    processes.extend(started)
    for worker in started:
        worker.wait_ready()
    processes.append(BeatProcess(tmp_path, **env))
    return started


def _queue(to: str, **values) -> OutgoingMail:
    return services.queue_mail(
        to=to,
        subject="【市区町村会】研修会 参加確定のお知らせ",
        text="令和8年度 全体研修会への参加が確定しました。\n",
        kind=values.pop("kind", OutgoingMail.Kind.TRAINING_NOTICE),
        **values,
    )


def _settled() -> bool:
    return not OutgoingMail.objects.filter(status__in=OutgoingMail.PENDING).exists()


def _wait_settled(processes: list, timeout: float, what: str) -> None:
    """wait_until(_settled); when it times out, the failure shows every row and each worker's
    log (two of these tests timed out once each in CI under load, not reproduced since)."""
    try:
        wait_until(_settled, timeout, what)
    except AssertionError as late:
        rows = list(
            OutgoingMail.objects.values_list("to", "status", "attempts", "next_attempt_at", "error")
        )
        logs = "\n---\n".join(p.log() for p in processes if hasattr(p, "log"))
        raise AssertionError(f"{late}\nrows: {rows}\n{logs}") from None


def test_every_message_goes_exactly_once_after_the_relay_ran_out_of_storage(
    relay, processes, tmp_path
):
    relay.handler.refuse_for = 6
    addresses = [f"staff{i}@lg{131000 + i}.example.jp" for i in range(40)]
    _start(processes, tmp_path, smtp_env(relay.port))

    mails = [_queue(address, contact_id=i + 1) for i, address in enumerate(addresses)]

    _wait_settled(processes, 90, "every message to be sent")
    assert relay.handler.last_accepted_at >= relay.handler.refuse_until
    assert [relay.handler.accepted[a] for a in addresses] == [1] * 40
    rows = OutgoingMail.objects.filter(pk__in=[m.pk for m in mails])
    assert set(rows.values_list("status", flat=True)) == {OutgoingMail.Status.SENT}
    assert max(rows.values_list("attempts", flat=True)) > 1  # refused first, then sent
    assert sorted(relay.handler.message_ids) == sorted(m.message_id for m in mails)


def test_a_permanently_refused_address_fails_with_a_reason_the_secretariat_sees(
    relay, processes, tmp_path, admin_client
):
    bad = "nobody@city.edogawa.example.jp"
    relay.handler.always[bad] = NO_SUCH_USER
    relay.handler.refuse_for = 3
    others = [f"staff{i}@city.edogawa.example.jp" for i in range(5)]
    _start(processes, tmp_path, smtp_env(relay.port))

    refused = _queue(bad, kind=OutgoingMail.Kind.WELCOME)
    for address in others:
        _queue(address)

    _wait_settled(processes, 60, "every message to be settled")
    refused.refresh_from_db()
    assert refused.status == OutgoingMail.Status.FAILED
    assert "このアドレスを受け付けませんでした" in refused.error
    assert "550 5.1.1" in refused.error
    assert [relay.handler.accepted[a] for a in others] == [1] * 5
    assert relay.handler.accepted[bad] == 0
    assert list(services.failed_recently()) == [refused]
    html = admin_client.get(reverse("admin:postbox_failedmail_changelist")).content.decode()
    assert bad in html and "このアドレスを受け付けませんでした" in html


def test_two_workers_at_once_send_every_message_exactly_once(relay, processes, tmp_path):
    env = smtp_env(relay.port, POSTBOX_CHUNK_SIZE="5")
    started = [WorkerProcess(queues=("transactional",), concurrency=2, **env) for _ in range(2)]
    processes.extend(started)
    for worker in started:
        worker.wait_ready()
    addresses = [f"staff{i}@lg{131000 + i}.example.jp" for i in range(120)]

    mails = [_queue(address) for address in addresses]  # each commit wakes a sender

    _wait_settled(processes, 90, "every message to be sent")
    assert [relay.handler.accepted[a] for a in addresses] == [1] * 120
    assert relay.handler.total() == 120
    assert OutgoingMail.objects.filter(status="sent").count() == 120
    senders = {w.name.split("@")[0] for w in started if "postbox.send_mail" in w.log()}
    assert len(senders) == 2, "both workers took part"
    assert sorted(relay.handler.message_ids) == sorted(m.message_id for m in mails)


@pytest.mark.parametrize("target", ["child", "main"])
def test_a_message_held_by_a_killed_worker_is_sent_once_by_another(
    target, relay, processes, tmp_path
):
    victim_address = "slow@city.edogawa.example.jp"
    relay.handler.stall[victim_address] = 30  # the worker sits in RCPT when it is killed
    env = smtp_env(relay.port)
    [victim] = _start(processes, tmp_path, env)

    held = _queue(victim_address)
    wait_until(lambda: victim_address in relay.handler.rcpt_started, 30, "the send to start")
    held.refresh_from_db()
    assert held.status == OutgoingMail.Status.SENDING
    relay.handler.stall.pop(victim_address)
    if target == "child":
        os.kill(psutil.Process(victim.proc.pid).children()[0].pid, signal.SIGKILL)
    else:
        victim.kill(signal.SIGKILL)
        victim.proc.wait(10)
        survivor = WorkerProcess(queues=("transactional",), **env)
        processes.append(survivor)
        survivor.wait_ready()
    later = [_queue(f"staff{i}@city.edogawa.example.jp") for i in range(3)]

    _wait_settled(processes, 60, "the held message to be released and sent")
    held.refresh_from_db()
    assert held.status == OutgoingMail.Status.SENT
    assert relay.handler.accepted[victim_address] == 1
    assert held.attempts == 2
    assert all(relay.handler.accepted[m.to] == 1 for m in later)


class _Postmark(BaseHTTPRequestHandler):
    """POST /email as Postmark's API takes it: 429 with Retry-After the first time, then 200
    with Postmark's response shape."""

    calls: list[float] = []
    retry_after = "3"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(time.time())
        if len(type(self).calls) == 1:
            self._answer(
                429,
                {"ErrorCode": 429, "Message": "Rate limit exceeded."},
                {"Retry-After": self.retry_after},
            )
            return
        self._answer(
            200,
            {
                "To": body["To"],
                "SubmittedAt": "2026-04-01T10:00:00.0000000-04:00",
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            },
        )

    def _answer(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_it_waits_as_long_as_the_providers_retry_after_says(processes, tmp_path):
    _Postmark.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Postmark)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env: dict[str, Any] = {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "test-token",
        "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{server.server_port}/",
        **FAST,
    }
    try:
        _start(processes, tmp_path, env)
        mail = _queue("alice@city.edogawa.example.jp")

        _wait_settled(processes, 60, "the message to be sent")
    finally:
        server.shutdown()
    mail.refresh_from_db()
    assert mail.status == OutgoingMail.Status.SENT
    assert mail.attempts == 2
    first, second = _Postmark.calls
    # The back-off alone would be 1 s; the provider asked for 3.
    assert second - first >= 3
    assert len(mail.provider_message_id) == 36  # Postmark's MessageID, not ours
