"""queue_mail: one clean message to one person, or a clear refusal that leaves nothing."""

from __future__ import annotations

import email
import email.policy
import email.utils

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from postbox import services
from postbox.models import OutgoingMail

from .conftest import queue

pytestmark = pytest.mark.django_db

# Real Japanese text: kanji, kana (both widths), full-width forms, and some ASCII.
JAPANESE = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # kanji
        st.characters(min_codepoint=0x3041, max_codepoint=0x30FF),  # hiragana, katakana
        st.characters(min_codepoint=0xFF01, max_codepoint=0xFF9F),  # full/half-width forms
        st.sampled_from(" 　・ー（）「」、。々〆ヶ"),
        st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    ),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() and s == s.strip())
BREAKS = st.sampled_from(["\r", "\n", "\r\n", "\x00", "\u2028", "\x85"])


def test_it_queues_one_message_and_sends_nothing_before_commit(outbox):
    mail = queue()

    assert mail.status == OutgoingMail.Status.QUEUED
    assert mail.message_id.startswith("<") and mail.message_id.endswith("@renkei.example.jp>")
    assert OutgoingMail.objects.count() == 1
    assert not outbox.directory.exists() or not list(outbox.directory.glob("*.eml"))


def test_it_keeps_nothing_when_the_callers_transaction_rolls_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        queue()
        raise RuntimeError("the registration failed")

    assert OutgoingMail.objects.count() == 0


@pytest.mark.parametrize(
    "to",
    [
        "alice@city.edogawa.example.jp, bob@city.edogawa.example.jp",
        "alice@city.edogawa.example.jp; bob@city.edogawa.example.jp",
        "alice@city.edogawa.example.jp\r\nBcc: everyone@example.jp",
        "alice@city.edogawa.example.jp\nbob@city.edogawa.example.jp",
        "佐藤 <alice@city.edogawa.example.jp>, 鈴木 <bob@city.edogawa.example.jp>",
        "not an address",
        "",
    ],
)
def test_it_refuses_anything_but_one_recipient(to):
    with pytest.raises(ValidationError):
        queue(to)
    assert OutgoingMail.objects.count() == 0


@pytest.mark.parametrize(
    "values",
    [
        {"subject": "件名\r\nBcc: everyone@example.jp"},
        {"subject": ""},
        {"subject": "長" * 501},
        {"text": "   "},
        {"headers": {"X-Renkei": "a\r\nBcc: everyone@example.jp"}},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"X-Renkei:": "x"}},
        {"headers": {"Bcc": "everyone@example.jp"}},
        {"headers": {"cc": "everyone@example.jp"}},
        {"headers": {"Message-ID": "<forged@example.jp>"}},
        {"reply_to": ["a@example.jp, b@example.jp"]},
        {"reply_to": ["a@example.jp\nBcc: b@example.jp"]},
        {"kind": "spam"},
        {"attachments": [("../../etc/passwd", b"x", "text/plain")]},
        {"attachments": [("training.ics", b"x", "text/calendar\r\nX: y")]},
        {"attachments": [("big.ics", b"x" * (256 * 1024 + 1), "text/calendar")]},
        {"attachments": [("training.ics", b"x")]},
        {"reference": "events.notice:1\r\nX"},
        {"contact_id": -1},
    ],
)
def test_it_refuses_what_would_not_make_one_clean_message(values):
    with pytest.raises(ValidationError) as caught:
        queue(**values)
    assert all(any("\u3040" <= ch <= "\u9fff" for ch in m) for m in caught.value.messages)
    assert OutgoingMail.objects.count() == 0


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=JAPANESE, before=JAPANESE, brk=BREAKS, after=JAPANESE)
def test_it_refuses_a_line_break_anywhere_in_a_header(name, before, brk, after):
    injected = f"{before}{brk}{after}"
    for values in (
        {"to": f"{injected} <alice@city.edogawa.example.jp>"},
        {"subject": injected},
        {"headers": {"X-Renkei-Name": injected}},
        {"reply_to": [f"{injected} <jimukyoku@renkei.example.jp>"]},
        {"attachments": [(f"{injected}.ics", b"BEGIN:VCALENDAR", "text/calendar")]},
    ):
        with pytest.raises(ValidationError):
            queue(**values)
    assert OutgoingMail.objects.count() == 0


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=JAPANESE,
    subject=JAPANESE,
    body=st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=400),
)
def test_it_sends_any_japanese_name_and_subject_intact(tmp_path, settings, name, subject, body):
    """What goes in comes out of the mail bytes as it was: display name, subject, body."""
    from django.core import mail as django_mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []
    body = body.replace("\r", "") + "\n本文"
    to = email.utils.formataddr((name, "alice@city.edogawa.example.jp"))
    mail = queue(to, subject=subject, text=body)

    services.send_due_mail()

    mail.refresh_from_db()
    assert mail.status == OutgoingMail.Status.SENT
    [sent] = django_mail.outbox
    parsed = email.message_from_bytes(sent.message().as_bytes(), policy=email.policy.default)
    assert parsed["Subject"].strip() == subject
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].addr_spec == "alice@city.edogawa.example.jp"
    plain = parsed.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == (body.rstrip("\n"))
    OutgoingMail.objects.all().delete()


def test_a_nul_in_a_body_is_refused_and_nothing_is_queued():
    """Found on PostgreSQL by Hypothesis: a NUL reached the database and failed the insert."""
    for values in ({"text": "本文\x00"}, {"html": "<p>本文\x00</p>"}):
        with pytest.raises(ValidationError, match="NUL"):
            queue(**values)
    assert OutgoingMail.objects.count() == 0


def test_it_keeps_a_small_attachment_and_sends_it(outbox):
    ics = "BEGIN:VCALENDAR\r\nSUMMARY:令和8年度 全体研修会\r\nEND:VCALENDAR\r\n"
    queue(attachments=[("training.ics", ics, "text/calendar")], reference="events.notice:12")

    [sent] = outbox.messages()

    assert sent.attachments == ["training.ics"]
    part = next(sent.message.iter_attachments())
    assert "令和8年度 全体研修会" in part.get_content()
    assert sent.message["Auto-Submitted"] == "auto-generated"
