"""A contact's one-line fields (氏名, ふりがな, 所属, 役職) reach mail headers and papers: a line
break or another control character in them is refused at every entry point, with a message
naming the field, and nothing is written (issue 9 §2)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from association import importing, services
from association.models import Contact, User

from .test_import import HEADER, csv_file, xlsx_file

LABELS = {"name": "氏名", "kana": "ふりがな", "department": "所属", "title": "役職"}
SIXTY = ("髙﨑" + "寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末" * 3)[:60]
CONTROLS = st.one_of(
    st.characters(min_codepoint=0x00, max_codepoint=0x1F),
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),
    st.sampled_from(["\u2028", "\u2029"]),
)
JAPANESE = st.text(
    st.one_of(
        st.characters(min_codepoint=0x3041, max_codepoint=0x3096),  # hiragana
        st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA),  # katakana
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # kanji
        st.sampled_from(["　", " ", "（", "）", "・", "ー", "髙", "﨑", "〜", "Ａ", "１"]),
    ),
    min_size=1,
    max_size=60,
).filter(lambda text: text.strip())
addresses = (f"person{n}@city.edogawa.example.jp" for n in itertools.count())


@pytest.fixture
def admin_client_(client, db):
    client.force_login(
        User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")
    )
    return client


@pytest.mark.parametrize("field", list(LABELS))
@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r", "\t", "\x00", "\x1b", "\x85", "\u2028"])
def test_the_service_refuses_a_control_character_naming_the_field(edogawa, field, brk):
    values: dict[str, Any] = {
        "name": "山田 花子",
        "email": "hanako@city.edogawa.example.jp",
        field: f"前{brk}後",
    }
    with pytest.raises(ValidationError) as caught:
        services.add_contact(edogawa, **values)
    assert list(caught.value.error_dict) == [field]
    assert f"{LABELS[field]}に改行や制御文字は使えません" in caught.value.messages[0]
    assert not Contact.objects.exists()


def test_an_update_with_a_line_break_changes_nothing(alice):
    before = Contact.objects.values().get(pk=alice.pk)
    with pytest.raises(ValidationError):
        services.update_contact(alice, title="係長", name="佐藤\r\nBcc: evil@example.com")
    assert Contact.objects.values().get(pk=alice.pk) == before


def test_the_admin_form_refuses_a_line_break_naming_the_field(admin_client_, edogawa):
    response = admin_client_.post(
        reverse("admin:association_contact_add"),
        {
            "member": edogawa.pk,
            "name": "山田\r\nBcc: evil@example.com",
            "department": "福祉部\n障害者福祉課",
            "email": "hanako@city.edogawa.example.jp",
            "role": "staff",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "氏名に改行や制御文字は使えません" in html
    assert "所属に改行や制御文字は使えません" in html
    assert not Contact.objects.exists()


def test_the_admin_form_refuses_a_line_break_when_editing(admin_client_, alice):
    response = admin_client_.post(
        reverse("admin:association_contact_change", args=[alice.pk]),
        {
            "name": alice.name,
            "kana": alice.kana,
            "title": "係長\r\n課長",
            "email": alice.email,
            "role": alice.role,
        },
    )
    assert response.status_code == 200
    assert "役職に改行や制御文字は使えません" in response.content.decode()
    alice.refresh_from_db()
    assert alice.title == ""


def test_the_portal_refuses_a_colleague_with_a_line_break(client, alice, edogawa):
    client.force_login(alice.user)
    response = client.post(
        reverse("portal:contact_add", args=[edogawa.local_government_id]),
        {
            "name": "山本 さくら",
            "kana": "やまもと\rさくら",
            "email": "sakura@city.edogawa.example.jp",
            "role": "staff",
        },
    )
    assert response.status_code == 200
    assert "ふりがなに改行や制御文字は使えません" in response.content.decode()
    assert not Contact.objects.filter(email="sakura@city.edogawa.example.jp").exists()


def test_the_portal_refuses_a_successor_with_a_line_break(client, alice, bob, edogawa):
    client.force_login(alice.user)
    response = client.post(
        reverse("portal:hand_over", args=[edogawa.local_government_id, bob.pk]),
        {"name": "後任\n太郎", "email": "taro@city.edogawa.example.jp"},
    )
    assert response.status_code == 200
    assert "氏名に改行や制御文字は使えません" in response.content.decode()
    assert not Contact.objects.filter(email="taro@city.edogawa.example.jp").exists()
    bob.refresh_from_db()
    assert bob.is_active and bob.successor is None


def test_the_import_refuses_a_row_naming_the_row_and_the_column(edogawa, alice):
    data = csv_file(
        HEADER,
        "131237,山田 花子,やまだ はなこ,福祉部,主事,hanako@city.edogawa.example.jp,,担当者",
        '131237,"田中\r\n一郎",たなか いちろう,健康部,,ichiro@city.edogawa.example.jp,,担当者',
    )
    plan = importing.import_contacts(data, filename="担当者.csv")
    assert not plan.applied
    assert [str(e) for e in plan.errors] == [
        "3行目「氏名」: 氏名に改行や制御文字は使えません（宛名や見出しに載るため）。"
    ]
    assert list(Contact.objects.all()) == [alice]


def test_the_import_refuses_a_control_character_in_an_excel_cell(edogawa):
    data = xlsx_file(
        ["団体コード", "氏名", "役職", "メールアドレス"],
        ["131237", "山田 花子", "主事\n係長", "hanako@city.edogawa.example.jp"],
    )
    plan = importing.import_contacts(data, filename="担当者.xlsx")
    assert [str(e) for e in plan.errors] == [
        "2行目「役職」: 役職に改行や制御文字は使えません（宛名や見出しに載るため）。"
    ]
    assert not Contact.objects.exists()


@hsettings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(services.ONE_LINE_CONTACT_FIELDS),
    before=st.text(max_size=20),
    control=CONTROLS,
    after=st.text(max_size=20),
)
def test_any_control_character_in_any_one_line_field_is_refused(
    edogawa, field, before, control, after
):
    values: dict[str, Any] = {
        "name": "山田 花子",
        "email": next(addresses),
        field: f"{before}{control}{after}",
    }
    with pytest.raises(ValidationError) as caught:
        services.add_contact(edogawa, **values)
    assert field in caught.value.error_dict
    assert LABELS[field] in caught.value.error_dict[field][0].message
    assert not Contact.objects.exists()


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=JAPANESE, kana=JAPANESE, department=JAPANESE, title=JAPANESE)
def test_ordinary_japanese_in_every_one_line_field_is_accepted(
    edogawa, name, kana, department, title
):
    contact = services.add_contact(
        edogawa,
        name=name,
        kana=kana,
        department=department,
        title=title,
        email=next(addresses),
    )
    contact.refresh_from_db()
    assert contact.name == services.normalise_text(name)
    assert contact.title == services.normalise_text(title)


def test_a_sixty_character_japanese_name_is_accepted_everywhere(client, alice, edogawa):
    assert len(SIXTY) == 60
    services.add_contact(edogawa, name=SIXTY, email="long@city.edogawa.example.jp")
    client.force_login(alice.user)
    client.post(
        reverse("portal:contact_add", args=[edogawa.local_government_id]),
        {"name": SIXTY, "email": "long2@city.edogawa.example.jp", "role": "staff"},
    )
    plan = importing.import_contacts(
        csv_file(HEADER, f"131237,{SIXTY},,,,long3@city.edogawa.example.jp,,担当者"),
        filename="担当者.csv",
    )
    assert plan.applied, [str(e) for e in plan.errors]
    assert Contact.objects.filter(name=SIXTY).count() == 3
