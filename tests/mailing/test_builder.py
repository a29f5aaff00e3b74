"""One builder for every message a bulletin makes: the same recipient's message goes through
every transport (SMTP to a real aiosmtpd sink, each batch provider's API, a per-message Django
backend, the test send, the preview, the archive) and comes out the same, header by header and
part by part."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

import pytest
from django.core import mail as django_mail

from association import services as registry
from mailing import services
from mailing.builder import Composer, Recipient
from mailing.models import Delivery, MailingList

from .sink import Sink
from .test_batch import PROVIDERS, FakeAPI

LIST_NAME = "令和8年度 自殺対策ブロック別研修会（中部・北陸）参加者連絡用"
SUBJECT = '🎉「研修会」"ご案内" <重要> \\ 髙﨑 ｶﾀｶﾅ ＡＢＣ {{ 団体名 }}'
BODY = (
    "{{ 氏名 }} 様（{{ 団体名 }}）\n\n"
    "申込: https://renkei.example.jp/trainings/42/?org={{ 団体名 }}\n\n"
    "詳細は https://renkei.example.jp/files/2026.pdf をご覧ください。"
)
# Headers every transport carries (From, To and Reply-To where the transport shows them).
LIST_HEADERS = (
    "Subject",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "Precedence",
)


@dataclass
class Seen:
    headers: dict[str, str]
    text: str
    html: str


def from_mime(raw: bytes) -> Seen:
    """RAW as a strict parser reads it (email.policy.default), decoded."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert not message.defects, message.defects
    headers = {name: str(value) for name, value in message.items()}
    parts = {}
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        parts[kind] = part.get_content().replace("\r\n", "\n") if part is not None else ""
    return Seen(headers, parts["plain"], parts["html"])


def decoded(name: str, value: str) -> str:
    return str(email.policy.default.header_factory(name, value))


def assert_same(seen: Seen, expected: Seen, names: tuple[str, ...]) -> None:
    for name in names:
        assert seen.headers.get(name) == expected.headers.get(name), name
    assert seen.text == expected.text
    assert seen.html == expected.html


def expected(composer: Composer, recipient: Recipient) -> Seen:
    built = composer.build(recipient)
    return Seen(dict(built.headers), built.text, built.html)


@pytest.fixture
def hostile_list(registry) -> MailingList:
    return MailingList.objects.create(
        name=LIST_NAME,
        slug="chubu-training",
        all_members=True,
        description="研修会の参加者の皆様にお送りしています。",
    )


@pytest.fixture
def takasaki(alice):
    return registry.add_contact(
        alice.member,
        name='髙﨑 "ﾃｽﾄ" <x> \\ 😀 ＡＢＣ',
        email="takasaki@city.edogawa.example.jp",
        department="保健福祉部",
    )


def _started(mailing_list: MailingList):
    bulletin = services.save_bulletin(None, mailing_list=mailing_list, subject=SUBJECT, body=BODY)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    return bulletin


@pytest.mark.django_db
def test_smtp_a_django_backend_the_preview_and_the_archive_carry_the_same_message(
    settings, hostile_list, alice, takasaki
):
    everything = ("From", "To", *LIST_HEADERS, "Message-ID")
    with Sink() as sink:
        sink.handler.keep_raw = True
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        bulletin = _started(hostile_list)
        services.drain_bulletin(bulletin.pk)
        by_address = {rcpt[0]: raw for rcpt, _options, raw in sink.handler.raw}

    composer = Composer(bulletin)
    for contact in (alice, takasaki):
        delivery = Delivery.objects.get(bulletin=bulletin, email=contact.email)
        assert delivery.status == Delivery.Status.SENT
        want = expected(composer, Recipient.of_delivery(delivery))
        over_smtp = from_mime(by_address[contact.email])
        assert_same(over_smtp, want, everything)
        assert "/u/" in over_smtp.headers["List-Unsubscribe"]

        # A per-message Django backend (anymail's Postmark, SES…, the outbox): the fields it
        # reads and the MIME it sends are the builder's.
        message = composer.message(Recipient.of_delivery(delivery))
        assert_same(from_mime(message.message().as_bytes()), want, everything)
        assert message.subject == want.headers["Subject"]
        assert message.body == want.text
        assert message.alternatives[0][0] == want.html
        assert message.extra_headers["List-Id"].isascii()
        assert {k: decoded(k, message.extra_headers[k]) for k in ("List-Id", "Message-ID")} == {
            k: want.headers[k] for k in ("List-Id", "Message-ID")
        }

        # The preview shows what the contact is sent, but for the row's Message-ID.
        preview = services.preview_bulletin(bulletin, contact=contact)
        assert_same(Seen(preview.headers, preview.text, preview.html), over_smtp, everything[:-1])

    # The archive is the copy addressed to 各位, frozen when sending started: the same subject
    # and body, a footer for everyone, and nobody's unsubscribe link.
    archive = services.archived_copy(bulletin)
    group = Composer(bulletin, archive=True).render(Recipient(email=""))
    assert (archive.subject, archive.text, archive.html) == (group.subject, group.text, group.html)
    assert archive.subject == decoded("Subject", group.subject)
    assert archive.subject == composer.render(Recipient(email="")).subject
    for copy in (archive.text, archive.html):
        assert "の宛先の皆様にお送りしたものです。" in copy
        assert "各宛先" not in copy and "ログイン不要" not in copy and "/u/" not in copy


@pytest.mark.django_db
def test_a_test_send_is_the_same_message_marked_as_a_test(settings, hostile_list, alice):
    with Sink() as sink:
        sink.handler.keep_raw = True
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        bulletin = services.save_bulletin(
            None, mailing_list=hostile_list, subject=SUBJECT, body=BODY
        )
        outcome = services.send_test_message(bulletin.pk, alice.email)
        ((_rcpt, _options, raw),) = sink.handler.raw

    assert outcome.kind == "sent"
    seen = from_mime(raw)
    want = expected(Composer(bulletin, test=True), Recipient.of_contact(alice))
    assert_same(seen, want, ("From", "To", *LIST_HEADERS))
    real = expected(Composer(bulletin), Recipient.of_contact(alice))
    assert seen.headers["Subject"] == "【テスト送信】" + real.headers["Subject"]
    assert (seen.text, seen.html) == (real.text, real.html)


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request, settings):
    import threading
    from http.server import ThreadingHTTPServer

    backend, provider = PROVIDERS[request.param]
    FakeAPI.provider = provider
    FakeAPI.calls = []
    FakeAPI.busy = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MAILING_EMAIL_BACKEND = backend
    settings.MAILING_BATCH_SIZE = 3
    settings.ANYMAIL = provider.settings(f"http://127.0.0.1:{server.server_port}")
    yield FakeAPI
    server.shutdown()


@pytest.mark.django_db
def test_each_batch_provider_is_sent_the_same_message(provider, hostile_list, alice, takasaki):
    hostile_list.send_html = True
    hostile_list.save()
    bulletin = _started(hostile_list)
    services.drain_bulletin(bulletin.pk)

    received = {address: m for call in provider.calls for address, m in call.items()}
    composer = Composer(bulletin)
    for contact in (alice, takasaki):
        delivery = Delivery.objects.get(bulletin=bulletin, email=contact.email)
        assert delivery.status == Delivery.Status.SENT
        want = expected(composer, Recipient.of_delivery(delivery))
        got = received[contact.email]
        headers = {
            name: decoded(name, got["headers"][name.lower()])
            for name in (*LIST_HEADERS[1:], "Message-ID")
        }
        seen = Seen({"Subject": got["subject"], **headers}, got["text"], got["html"])
        assert_same(seen, want, (*LIST_HEADERS, "Message-ID"))


@pytest.mark.django_db
def test_locmem_tests_see_the_builders_fields(settings, hostile_list, alice):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bulletin = _started(hostile_list)
    services.drain_bulletin(bulletin.pk)

    (sent,) = django_mail.outbox
    delivery = Delivery.objects.get(bulletin=bulletin, email=alice.email)
    want = expected(Composer(bulletin), Recipient.of_delivery(delivery))
    assert_same(from_mime(sent.message().as_bytes()), want, ("From", "To", *LIST_HEADERS))
