"""The batch path for Brevo, Mailgun, SendGrid and SparkPost: anymail's real backends against
a loopback fake of each provider's send API (the one thing faked), taking the request shapes
each API takes, answering with its response shapes, refusing a call over its recipient limit,
and filling in the merge fields the way the provider does, so that the test reads the message
each recipient would get."""

from __future__ import annotations

import html
import json
import re
import threading
import uuid
from email import message_from_bytes
from email.policy import HTTP
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

from mailing import services
from mailing.models import Delivery
from mailing.sending import BATCH_APIS, BatchTransport, message_id_for, open_transport

MAX_RECIPIENTS = 3


def _form_fields(content_type: str, body: bytes) -> list[tuple[str, Any]]:
    """A form (urlencoded, or multipart when there are files) as (name, value) pairs, in
    order (Mailgun repeats `to`)."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qsl(body.decode(), keep_blank_values=True)
    parsed = message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=HTTP
    )
    fields = []
    for part in parsed.iter_parts():  # type: ignore[attr-defined]
        name = str(part.get_param("name", header="content-disposition"))
        fields.append((name, part.get_content()))
    return fields


class Brevo:
    """POST /v3/smtp/email, JSON messageVersions with params; `{{ params.x }}`, not escaped
    (we send the HTML its own escaped values). Tracking is an account setting at Brevo."""

    path = re.compile(r"^/v3/smtp/email$")
    TRACKING_OFF = "account"

    @staticmethod
    def settings(url):
        return {"BREVO_API_KEY": "xkeysib-test", "BREVO_API_URL": f"{url}/v3/"}

    @staticmethod
    def messages(handler, body):
        data = json.loads(body)
        messages = {}
        for version in data["messageVersions"]:
            (recipient,) = version["to"]
            params = version.get("params", {})

            def fill(text, params=params):
                return re.sub(r"\{\{ params\.(\w+) \}\}", lambda m: params[m.group(1)], text)

            headers = {**data.get("headers", {}), **version.get("headers", {})}
            messages[recipient["email"]] = {
                "subject": fill(data["subject"]),
                "text": fill(data.get("textContent", "")),
                "html": fill(data.get("htmlContent", "")),
                "headers": {k.lower(): v for k, v in headers.items()},
                "tracking": "account",
            }
        return messages

    @staticmethod
    def answer(handler, messages):
        return 201, {"messageIds": [f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>" for _ in messages]}

    @staticmethod
    def refuse(handler, why):
        return 400, {"code": "invalid_parameter", "message": why}


class Mailgun:
    """POST {api}/{domain}/messages, multipart form; `%recipient.x%` from recipient-variables."""

    path = re.compile(r"^/v3/[^/]+/messages$")
    TRACKING_OFF = ("no", "no")

    @staticmethod
    def settings(url):
        return {"MAILGUN_API_KEY": "key-test", "MAILGUN_API_URL": f"{url}/v3"}

    @staticmethod
    def messages(handler, body):
        fields = _form_fields(handler.headers["Content-Type"], body)
        one = dict(fields)
        # `to` may carry a display name; recipient-variables are keyed by the address.
        to = [parseaddr(value)[1] for name, value in fields if name == "to"]
        variables = json.loads(one["recipient-variables"])

        def fill(text, address):
            return re.sub(r"%recipient\.([^%]+)%", lambda m: variables[address][m.group(1)], text)

        messages = {}
        for address in to:
            headers = {
                name[2:].lower(): fill(value, address)
                for name, value in fields
                if name.startswith("h:")
            }
            messages[address] = {
                "subject": fill(one["subject"], address),
                "text": fill(one["text"], address),
                "html": fill(one.get("html", ""), address),
                "headers": headers,
                "tracking": (one.get("o:tracking-opens"), one.get("o:tracking-clicks")),
            }
        return messages

    @staticmethod
    def answer(handler, messages):
        return 200, {"id": f"<{uuid.uuid4().hex}@mg.example.jp>", "message": "Queued. Thank you."}

    @staticmethod
    def refuse(handler, why):
        return 400, {"message": why}


class SendGrid:
    """POST /v3/mail/send, JSON personalizations with literal substitutions; 202, no body."""

    path = re.compile(r"^/v3/mail/send$")
    TRACKING_OFF = (False, False)

    @staticmethod
    def settings(url):
        return {"SENDGRID_API_KEY": "SG.test", "SENDGRID_API_URL": f"{url}/v3/"}

    @staticmethod
    def messages(handler, body):
        data = json.loads(body)
        content = {c["type"]: c["value"] for c in data["content"]}
        messages = {}
        for personalization in data["personalizations"]:
            (recipient,) = personalization["to"]
            subs = personalization.get("substitutions", {})

            def fill(text, subs=subs):
                for key, value in subs.items():
                    text = text.replace(key, value)
                return text

            headers = {**data.get("headers", {}), **personalization.get("headers", {})}
            messages[recipient["email"]] = {
                "subject": fill(data["subject"]),
                "text": fill(content.get("text/plain", "")),
                "html": fill(content.get("text/html", "")),
                "headers": {k.lower(): v for k, v in headers.items()},
                "tracking": (
                    data["tracking_settings"]["open_tracking"]["enable"],
                    data["tracking_settings"]["click_tracking"]["enable"],
                ),
            }
        return messages

    @staticmethod
    def answer(handler, messages):
        return 202, None

    @staticmethod
    def refuse(handler, why):
        return 400, {"errors": [{"message": why, "field": "personalizations", "help": None}]}


class SparkPost:
    """POST /api/v1/transmissions/, JSON recipients with substitution_data; {{x}} is escaped
    in HTML, {{{x}}} is not."""

    path = re.compile(r"^/api/v1/transmissions/?$")
    TRACKING_OFF = (False, False)

    @staticmethod
    def settings(url):
        return {"SPARKPOST_API_KEY": "test-key", "SPARKPOST_API_URL": f"{url}/api/v1"}

    @staticmethod
    def messages(handler, body):
        data = json.loads(body)
        content = data["content"]
        messages = {}
        for recipient in data["recipients"]:
            subs = {**data.get("substitution_data", {}), **recipient.get("substitution_data", {})}

            def fill(text, escape=False, subs=subs):
                text = re.sub(r"\{\{\{(\w+)\}\}\}", lambda m: subs[m.group(1)], text)
                return re.sub(
                    r"\{\{(\w+)\}\}",
                    lambda m: html.escape(subs[m.group(1)]) if escape else subs[m.group(1)],
                    text,
                )

            messages[recipient["address"]["email"]] = {
                "subject": fill(content["subject"]),
                "text": fill(content.get("text", "")),
                "html": fill(content.get("html", ""), escape=True),
                "headers": {k.lower(): fill(v) for k, v in content.get("headers", {}).items()},
                "tracking": (
                    data["options"]["open_tracking"],
                    data["options"]["click_tracking"],
                ),
            }
        return messages

    @staticmethod
    def answer(handler, messages):
        return 200, {
            "results": {
                "total_rejected_recipients": 0,
                "total_accepted_recipients": len(messages),
                "id": str(uuid.uuid4().int)[:17],
            }
        }

    @staticmethod
    def refuse(handler, why):
        return 422, {"errors": [{"message": why, "code": "1902"}]}


PROVIDERS: dict[str, tuple[str, Any]] = {
    "Brevo": ("anymail.backends.brevo.EmailBackend", Brevo),
    "Mailgun": ("anymail.backends.mailgun.EmailBackend", Mailgun),
    "SendGrid": ("anymail.backends.sendgrid.EmailBackend", SendGrid),
    "SparkPost": ("anymail.backends.sparkpost.EmailBackend", SparkPost),
}


class FakeAPI(BaseHTTPRequestHandler):
    provider: Any = Mailgun
    calls: list[dict] = []  # per call: {address: the message as the provider would send it}
    busy = 0  # answer this many calls with 429 Too Many Requests first

    def log_message(self, *args):
        pass

    def do_POST(self):
        provider = FakeAPI.provider
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not provider.path.match(self.path):
            return self._answer(404, {"message": f"no such endpoint {self.path}"})
        messages = provider.messages(self, body)
        FakeAPI.calls.append(messages)
        if FakeAPI.busy:
            FakeAPI.busy -= 1
            return self._answer(429, {"message": "rate limited"}, retry_after="30")
        if len(messages) > MAX_RECIPIENTS:
            return self._answer(*provider.refuse(self, "too many recipients"))
        if any(address.startswith("broken") for address in messages):
            return self._answer(*provider.refuse(self, "invalid recipient address"))
        return self._answer(*provider.answer(self, messages))

    def _answer(self, status, body, retry_after=None):
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        if status == 202:
            self.send_header("X-Message-Id", uuid.uuid4().hex[:22])
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request, settings):
    backend, provider = PROVIDERS[request.param]
    FakeAPI.provider = provider
    FakeAPI.calls = []
    FakeAPI.busy = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MAILING_EMAIL_BACKEND = backend
    settings.MAILING_BATCH_SIZE = MAX_RECIPIENTS
    settings.ANYMAIL = provider.settings(f"http://127.0.0.1:{server.server_port}")
    yield FakeAPI
    server.shutdown()


@pytest.mark.django_db
def test_each_provider_gets_batches_that_fill_in_every_recipients_own_message(
    provider, all_members_list, alice, bob, charlie
):
    from association import services as registry

    all_members_list.send_html = True
    all_members_list.save()
    dave = registry.add_contact(
        charlie.member, name="田中 <翔> & 子", email="dave@city.adachi.example.jp"
    )
    bulletin = services.save_bulletin(
        None,
        mailing_list=all_members_list,
        subject="お知らせ",
        body="{{ 氏名 }} 様（{{ 団体名 }}）\n\n本文です。",
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)

    assert [len(call) for call in provider.calls] == [3, 1]
    received = {address: m for call in provider.calls for address, m in call.items()}
    assert set(received) == {alice.email, bob.email, charlie.email, dave.email}

    mail = received[alice.email]
    assert "佐藤 美咲 様（東京都江戸川区）" in mail["text"]
    assert "【" in mail["subject"] and "お知らせ" in mail["subject"]
    assert "佐藤 美咲 様" in mail["html"]
    assert mail["headers"]["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    row = Delivery.objects.get(bulletin=bulletin, email=alice.email)
    assert mail["headers"]["message-id"] == row.message_id
    assert row.message_id == message_id_for(row.pk, bulletin.pk)
    # Each recipient's own unsubscribe link, in the header and in the body.
    links = {m["headers"]["list-unsubscribe"].split(">")[0][1:] for m in received.values()}
    assert len(links) == 4 and all("/u/" in link for link in links)
    assert mail["headers"]["list-unsubscribe"].split(">")[0][1:] in mail["text"]
    # Markup in a name is text: escaped once in HTML, as written in plain text.
    assert "田中 &lt;翔&gt; &amp; 子 様" in received[dave.email]["html"]
    assert "田中 <翔> & 子 様" in received[dave.email]["text"]
    assert all(m["tracking"] == provider.provider.TRACKING_OFF for m in received.values())

    rows = Delivery.objects.filter(bulletin=bulletin)
    assert {d.status for d in rows} == {Delivery.Status.SENT}
    assert all(d.provider_message_id for d in rows)


@pytest.mark.django_db
def test_a_refused_batch_fails_only_its_broken_address(
    provider, all_members_list, alice, bob, charlie
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
def test_it_waits_as_long_as_the_provider_asks_after_a_429(provider, all_members_list, alice):
    provider.busy = 1
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


@pytest.mark.parametrize("esp", sorted(PROVIDERS))
def test_batches_are_sized_to_the_providers_own_limit(settings, esp):
    settings.MAILING_EMAIL_BACKEND = PROVIDERS[esp][0]
    settings.MAILING_BATCH_SIZE = 0
    settings.ANYMAIL = {f"{esp.upper()}_API_KEY": "test"}
    transport = open_transport()
    assert isinstance(transport, BatchTransport)
    assert transport.batch_size == BATCH_APIS[esp].limit == 1000
    settings.MAILING_BATCH_SIZE = 5000  # asking for more than the provider takes
    assert open_transport().batch_size == 1000


def test_a_provider_without_a_batch_api_sends_one_message_per_recipient(settings):
    settings.MAILING_EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test"}
    transport = open_transport()
    assert not isinstance(transport, BatchTransport)
    assert transport.batch_size == 1
