"""Bytes on the wire that every gateway takes, and the Done-when of issue 9: a bulletin to a
list with a long Japanese name and a subject with emoji and quotes, sent by a real Celery
worker to the local aiosmtpd sink, reaches every recipient once, each message 7-bit clean
(no BODY=8BITMIME needed or declared) and passing a strict parse."""

from __future__ import annotations

import email
import email.policy

import pytest

from association import services as registry
from mailing import services
from mailing.models import Delivery, MailingList

from ..workers import WorkerProcess, purge_queues
from .helpers import apply_fast_settings, bulletin_sent, make_contacts, smtp_env, wait_until
from .sink import Sink

LIST_NAME = "令和8年度 自殺対策ブロック別研修会（中部・北陸）参加者連絡用"
SUBJECT = '🎉【重要】"参加者の皆様へ" 「会場変更」のお知らせ 😀 ＃いのちSOS'
BODY = (
    "{{ 団体名 }} {{ 所属 }} {{ 氏名 }} 様\n\n"
    "会場が変わりました。詳細: https://renkei.example.jp/trainings/42/?org={{ 団体名 }}\n\n"
    "ご不明な点は事務局までお問い合わせください。"
)


def strict(raw: bytes) -> email.message.EmailMessage:
    """Every byte 7-bit, CRLF lines of at most 998 bytes, parsed without a defect; each part
    base64 UTF-8."""
    assert max(raw) < 128
    lines = raw.split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert max(len(line) for line in lines) <= 998
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    assert not message.defects
    assert all(not value.defects for _name, value in message.items())
    for part in message.walk():
        if not part.is_multipart():
            assert part["Content-Transfer-Encoding"] == "base64"
            assert part.get_content_charset() == "utf-8"
    return message


@pytest.fixture
def sink():
    with Sink() as running:
        running.handler.keep_raw = True
        yield running


@pytest.fixture
def chubu(registry) -> MailingList:
    return MailingList.objects.create(
        name=LIST_NAME, slug="chubu-2026", all_members=True, send_html=True
    )


@pytest.mark.django_db
def test_what_smtp_sends_is_7bit_and_declares_no_8bitmime(settings, sink, chubu, alice):
    registry.add_contact(
        alice.member, name='髙﨑 "ﾃｽﾄ" <x> \\ 😀', email="takasaki@city.edogawa.example.jp"
    )
    apply_fast_settings(settings, sink.port)
    bulletin = services.save_bulletin(None, mailing_list=chubu, subject=SUBJECT, body=BODY)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)

    assert len(sink.handler.raw) == 2
    for _rcpt, options, raw in sink.handler.raw:
        assert not any(o.upper().startswith("BODY=8BITMIME") for o in options)
        message = strict(raw)
        assert str(message["Subject"]) == "【市区町村会】" + SUBJECT


@pytest.mark.django_db(transaction=True)
def test_a_bulletin_to_a_long_japanese_list_reaches_everyone_through_a_real_worker(
    settings, sink, chubu
):
    apply_fast_settings(settings, sink.port)
    contacts = make_contacts(60)
    registry.add_contact(
        contacts[0].member,
        name="髙﨑 﨑子（ｻｷｺ）" + "長" * 40,
        email="long-name@city.example.jp",
        department="保健福祉部 健康推進課 こころの健康係",
    )
    addresses = {c.email for c in contacts} | {"long-name@city.example.jp"}
    purge_queues()
    worker = WorkerProcess(queues=("bulletins",), concurrency=1, **smtp_env(sink.port))
    worker.wait_ready()
    try:
        bulletin = services.save_bulletin(None, mailing_list=chubu, subject=SUBJECT, body=BODY)
        services.start_bulletin(bulletin)
        worker.wait_for(bulletin_sent(bulletin), timeout=120)
        wait_until(lambda: sink.handler.total() >= len(addresses), 10, "every message")
    finally:
        worker.stop()

    assert set(sink.handler.accepted) == addresses
    assert sink.handler.duplicates() == 0
    for (to,), options, raw in sink.handler.raw:
        assert not any(o.upper().startswith("BODY=8BITMIME") for o in options)
        message = strict(raw)
        assert str(message["Subject"]) == "【市区町村会】" + SUBJECT
        assert str(message["List-Id"]).startswith(LIST_NAME + " <chubu-2026.")
        (addressee,) = message["To"].addresses
        assert addressee.addr_spec == to
        plain = message.get_body(preferencelist=("plain",))
        assert plain is not None
        text = plain.get_content()
        assert addressee.display_name.removesuffix(" 様") in text
        link = str(message["List-Unsubscribe"]).split(">")[0].lstrip("<")
        assert f"\n{link}\n" in text.replace("\r\n", "\n")
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
