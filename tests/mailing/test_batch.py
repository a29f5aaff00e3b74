"""The batch path: anymail's real Brevo backend against a loopback fake of Brevo's API (the
provider's HTTP API is the one thing faked), with Brevo's request and response shapes."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mailing import services
from mailing.models import Delivery

MAX_VERSIONS = 3


class FakeBrevo(BaseHTTPRequestHandler):
    calls: list[dict] = []
    busy = 0  # answer this many calls with 429 Too Many Requests first

    def log_message(self, *args):
        pass

    def do_POST(self):
        data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeBrevo.calls.append(data)
        versions = data.get("messageVersions", [])
        if FakeBrevo.busy:
            FakeBrevo.busy -= 1
            return self._answer(
                429, {"code": "too_many_requests", "message": "rate limited"}, retry_after="30"
            )
        if len(versions) > MAX_VERSIONS:
            return self._answer(400, {"code": "invalid_parameter", "message": "too many versions"})
        if any(v["to"][0]["email"].startswith("broken") for v in versions):
            return self._answer(400, {"code": "invalid_parameter", "message": "email is not valid"})
        ids = [f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>" for _ in versions]
        return self._answer(201, {"messageIds": ids})

    def _answer(self, status, body, retry_after=None):
        raw = json.dumps(body).encode()
        self.send_response(status)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def brevo(settings):
    FakeBrevo.calls = []
    FakeBrevo.busy = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBrevo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MAILING_EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    settings.MAILING_BATCH_SIZE = MAX_VERSIONS
    settings.ANYMAIL = {
        "BREVO_API_KEY": "xkeysib-test",
        "BREVO_API_URL": f"http://127.0.0.1:{server.server_port}/v3/",
    }
    yield FakeBrevo
    server.shutdown()


@pytest.mark.django_db
def test_it_sends_batches_sized_to_the_provider_with_per_recipient_merge_data(
    brevo, all_members_list, alice, bob, charlie
):
    from association import services as registry

    dave = registry.add_contact(charlie.member, name="田中 翔", email="dave@city.adachi.example.jp")
    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="お知らせ", body="{{ 氏名 }} 様\n\n本文"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)

    assert [len(call["messageVersions"]) for call in brevo.calls] == [3, 1]
    first = brevo.calls[0]
    assert "{{ params.name }} 様" in first["textContent"]
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    version = next(v for v in first["messageVersions"] if v["to"][0]["email"] == alice.email)
    assert version["params"]["name"] == "佐藤 美咲"
    assert "/mail/unsubscribe/" in version["headers"]["List-Unsubscribe"]
    rows = Delivery.objects.filter(bulletin=bulletin)
    assert {d.status for d in rows} == {Delivery.Status.SENT}
    assert all(d.provider_message_id.endswith("@smtp-relay.mailin.fr>") for d in rows)
    assert {d.email for d in rows} == {alice.email, bob.email, charlie.email, dave.email}


@pytest.mark.django_db
def test_it_fails_only_the_broken_address_of_a_refused_batch(
    brevo, all_members_list, alice, bob, charlie
):
    from association import services as registry

    registry.add_contact(charlie.member, name="壊れた 宛先", email="broken@city.adachi.example.jp")
    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="お知らせ", body="本文"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)

    statuses = dict(Delivery.objects.filter(bulletin=bulletin).values_list("email", "status"))
    assert statuses.pop("broken@city.adachi.example.jp") == Delivery.Status.FAILED
    assert set(statuses.values()) == {Delivery.Status.SENT}


@pytest.mark.django_db
def test_it_waits_as_long_as_the_provider_asks_after_a_429(brevo, all_members_list, alice):
    brevo.busy = 1
    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="お知らせ", body="本文"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)

    row = Delivery.objects.get(bulletin=bulletin)
    assert row.status == Delivery.Status.QUEUED
    assert "429" in row.error
    assert row.next_attempt_at is not None
    assert (row.next_attempt_at - row.updated_at).total_seconds() >= 29
