"""Japanese in every header, of any length the forms allow: list names, subjects, sender and
recipient display names with emoji, 髙, 﨑, full- and half-width characters, quotes, <>, " and
\\ are built through every transport (the SMTP bytes, a per-message backend's MIME, a batch
provider's fields), parsed back with email.policy.default, and read as they were typed; no
line is longer than 998 bytes and every byte is 7-bit. Line breaks are refused at input."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailing import services
from mailing.builder import Composer, Recipient, format_address
from mailing.forms import BulletinForm, MailingListForm
from mailing.models import Bulletin, MailingList
from mailing.sending import BATCH_APIS

HARD = list('髙﨑ｶﾀｶﾅＡＢＣａｂｃ１２３"<>\\@,;:()[].=?_ 　「」（）・ー～—😀🎉👨‍👩‍👧🇯🇵')
# Any character but control characters, surrogates and unassigned code points.
CHARS = st.one_of(
    st.sampled_from(HARD),
    st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp")),
)


def text(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    # As the forms keep them: no spaces around (Django strips), something left.
    return (
        st.text(CHARS, min_size=min_size, max_size=max_size)
        .map(str.strip)
        .filter(lambda s: len(s) >= min_size)
    )


def lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n")


def check_bytes(raw: bytes) -> email.message.EmailMessage:
    assert max(raw) < 128, "every byte 7-bit"
    assert b"\n" not in raw.replace(b"\r\n", b""), "CRLF line ends only"
    assert max(len(line) for line in lines(raw)) <= 998
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    assert not message.defects
    for _name, value in message.items():
        assert not value.defects, (_name, value.defects)
    return message


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    list_name=text(80),
    prefix=text(40, min_size=0),
    subject=text(200),
    sender=text(40),
    name=text(60),
    organisation=text(40),
)
def test_any_japanese_header_of_any_length_reads_back_as_typed(
    list_name, prefix, subject, sender, name, organisation
):
    mailing_list = MailingList(
        pk=1, name=list_name, slug="list", subject_prefix=prefix, send_html=True
    )
    bulletin = Bulletin(pk=7, mailing_list=mailing_list, subject=subject, body="{{ 氏名 }} 様")
    recipient = Recipient(
        email="staff@city.example.jp",
        name=name,
        organisation=organisation,
        delivery_id=42,
        token="A" * 22,
    )
    from_email = format_address(sender, "jimukyoku@renkei.example.jp")
    with override_settings(DEFAULT_FROM_EMAIL=from_email, MAILING_LIST_ID_DOMAIN="lists.jp"):
        composer = Composer(bulletin)
        raw = composer.as_bytes(recipient)
        django_raw = composer.message(recipient).message().as_bytes()
        batch_headers = composer.batch_headers()
        merge_subject = composer.merge_templates(BATCH_APIS["Brevo"])[0]

    want_subject = prefix + subject
    for message in (check_bytes(raw), check_bytes(django_raw)):
        assert str(message["Subject"]) == want_subject
        assert str(message["List-Id"]) == f"{list_name} <list.lists.jp>"
        (sent_by,) = message["From"].addresses
        assert (sent_by.display_name, sent_by.addr_spec) == (sender, "jimukyoku@renkei.example.jp")
        (to,) = message["To"].addresses
        assert (to.display_name, to.addr_spec) == (f"{name} 様", "staff@city.example.jp")
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and f"{name} 様" in body.get_content()
        assert not str(message["Subject"]).startswith(" ")
    # The batch path: headers go to the provider already encoded, and decode the same.
    list_id = batch_headers["List-Id"]
    assert list_id.isascii() and len(list_id) < 998
    decoded = email.policy.default.header_factory("List-Id", list_id)
    assert str(decoded) == f"{list_name} <list.lists.jp>"
    assert merge_subject == want_subject


def test_a_long_japanese_list_name_folds_in_words_of_at_most_75_characters():
    mailing_list = MailingList(
        pk=1, name="令和8年度 自殺対策ブロック別研修会（中部・北陸）参加者連絡用" * 2
    )
    bulletin = Bulletin(pk=1, mailing_list=mailing_list, subject="件名" * 100)
    raw = Composer(bulletin).as_bytes(Recipient(email="a@b.example.jp", token="A" * 22))
    head = raw.split(b"\r\n\r\n")[0]
    for word in re.findall(rb"=\?utf-8\?b\?[^?]*\?=", head):
        assert len(word) <= 75
    for line in head.split(b"\r\n"):
        if b"=?utf-8?" in line:
            assert len(line) <= 78


@pytest.mark.parametrize("bad", ["お知らせ\r\nBcc: x@example.jp", "お知らせ\nです", "改行\r途中"])
def test_a_line_break_in_the_subject_is_refused_naming_the_field(bad):
    form = BulletinForm(data={"subject": bad, "body": "", "mailing_list": ""})
    form.is_valid()
    assert form.errors["subject"] == ["件名に改行は使えません（メールの見出しになるため）。"]


@pytest.mark.django_db
def test_the_service_refuses_it_too_and_saves_nothing(all_members_list):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.save_bulletin(
            None, mailing_list=all_members_list, subject="a\r\nBcc: x@example.jp", body=""
        )
    assert "件名に改行は使えません" in str(caught.value.message_dict["subject"])
    assert not Bulletin.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "label"), [("name", "リスト名"), ("subject_prefix", "件名の接頭辞")]
)
def test_a_line_break_in_a_lists_name_or_prefix_is_refused(field, label):
    data = {"name": "全会員", "slug": "all", "subject_prefix": "【会】", "send_html": "on"}
    data[field] += "\r\nBcc: x@example.jp"
    form = MailingListForm(data=data)
    assert not form.is_valid()
    assert form.errors[field] == [f"{label}に改行は使えません（メールの見出しになるため）。"]


def test_a_line_break_left_in_old_data_never_becomes_a_header():
    mailing_list = MailingList(pk=1, name="全会員\r\nBcc: x@example.jp", slug="all")
    bulletin = Bulletin(pk=1, mailing_list=mailing_list, subject="a\nBcc: y@example.jp")
    recipient = Recipient(email="a@b.example.jp", name="佐藤\r\nBcc: z@example.jp", token="A" * 22)
    message = check_bytes(Composer(bulletin).as_bytes(recipient))
    assert message["Bcc"] is None
    assert "Bcc: x@example.jp" in str(message["List-Id"])
