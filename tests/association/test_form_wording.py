"""Every form a member's staff fills in answers bad input in sentences written for it: no
English, none of Django's defaults (「このフィールドは必須です。」, 「---------」), no allauth text."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from association import services as association
from tests.events.conftest import make_training

__all__ = ["make_training"]

pytestmark = pytest.mark.django_db

DJANGO_DEFAULTS = [
    "---------",
    "このフィールドは必須",
    "有効なメールアドレス",
    "確認してください(",  # max_length: 「この値が最大 … であることを確認してください(…)」
    "正しく選択してください",
    "ファイルが送信されていません",
    "Code",
]
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,'-]+[A-Za-z]+){2,}")  # three English words in a row
LONG_NAME = "あ" * 61


def text_of(html: str) -> str:
    """What a person reads: the page without scripts, tags, addresses and links."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return re.sub(r"\S+@\S+|https?://\S+", " ", html)


def assert_worded_for_people(response) -> None:  # type: ignore[no-untyped-def]
    html = response.content.decode()
    assert response.status_code == 200, response.status_code
    assert re.search(r'class="error(list)?[ "]', html), "no error shown"
    found = [d for d in DJANGO_DEFAULTS if d in html]
    assert found == [], found
    english = ENGLISH.findall(text_of(html))
    assert english == [], english


@pytest.mark.parametrize("data", [{}, {"email": "not-an-address"}, {"email": "a" * 250 + "@x.jp"}])
def test_the_login_code_request_answers_bad_input_in_japanese(client, alice, data):
    assert_worded_for_people(client.post(reverse("account_request_login_code"), data))


@pytest.mark.parametrize("code", ["", "WRONG1"])
def test_the_login_code_entry_answers_bad_input_in_japanese(client, alice, outbox, code):
    client.post(reverse("account_request_login_code"), {"email": alice.email})

    response = client.post(
        reverse("account_confirm_login_code"), {"action": "verify", "code": code}
    )

    assert_worded_for_people(response)


@pytest.mark.parametrize(
    "data",
    [
        {"name": ""},
        {"name": LONG_NAME, "email": "hanako@city.edogawa.example.jp", "role": "staff"},
        {"name": "山田 花子", "email": "", "role": "boss"},
    ],
)
def test_adding_a_colleague_answers_bad_input_in_japanese(client, alice, edogawa, data):
    client.force_login(alice.user)
    url = reverse("portal:contact_add", args=[edogawa.local_government_id])

    assert_worded_for_people(client.post(url, data))


@pytest.mark.parametrize("data", [{"name": ""}, {"existing": "999999"}, {"name": LONG_NAME}])
def test_handing_over_answers_bad_input_in_japanese(client, alice, bob, edogawa, data):
    client.force_login(alice.user)
    url = reverse("portal:hand_over", args=[edogawa.local_government_id, bob.pk])

    assert_worded_for_people(client.post(url, data))


@pytest.mark.parametrize(
    "data",
    [
        {"contact": ["999999"]},
        {"new_name": "山田 花子", "new_email": "hanako@"},
        {"new_name": LONG_NAME, "new_email": "hanako@city.edogawa.example.jp"},
    ],
)
def test_registering_colleagues_answers_bad_input_in_japanese(
    client, make_training, alice, edogawa, data
):
    training = make_training()
    client.force_login(alice.user)
    url = reverse("events:detail", args=[edogawa.local_government_id, training.pk])

    assert_worded_for_people(client.post(url, data, follow=True))


@pytest.mark.parametrize("data", [{"contact": ""}, {"contact": "999999"}])
def test_substituting_answers_bad_input_in_japanese(
    client, make_training, alice, bob, edogawa, data
):
    from events import services as events

    registration = events.register_for_training(make_training(), contact=bob)
    client.force_login(alice.user)
    url = reverse("events:substitute", args=[edogawa.local_government_id, registration.pk])

    assert_worded_for_people(client.post(url, data))
    page = Client()
    page.force_login(alice.user)
    assert "選んでください" in page.get(url).content.decode()


def test_the_archive_search_answers_bad_input_in_japanese(client, alice):
    client.force_login(alice.user)

    response = client.get(reverse("mailing:archive"), {"q": "あ" * 101, "nendo": "abc"})

    assert_worded_for_people(response)


def test_a_new_colleague_in_the_same_step_keeps_the_coordinators_own_wording(
    client, make_training, alice, edogawa
):
    association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")
    training = make_training()
    client.force_login(alice.user)
    url = reverse("events:detail", args=[edogawa.local_government_id, training.pk])

    html = client.post(url, {"new_kana": "やまだ"}, follow=True).content.decode()

    assert "新しい方の氏名を入力してください。" in html
