"""A registration form that fits an office (issue 10 §3): a coordinator ticks several
colleagues in one submit and can add a new colleague in the same step; nothing is registered
unless someone was chosen; a refusal registers no one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from association import services as association
from association.models import Contact
from events.models import Registration


@pytest.fixture
def dave(edogawa):
    return association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")


def detail(member, training) -> str:
    return reverse("events:detail", args=[member.local_government_id, training.pk])


def test_a_coordinator_registers_several_colleagues_in_one_submit(
    client, make_training, alice, bob, dave, edogawa
):
    training = make_training()
    client.force_login(alice.user)

    response = client.post(detail(edogawa, training), {"contact": [bob.pk, dave.pk]}, follow=True)

    html = response.content.decode()
    assert f"{bob.name} さんの参加が確定しました" in html
    assert f"{dave.name} さんの参加が確定しました" in html
    assert set(Registration.objects.values_list("contact_id", flat=True)) == {bob.pk, dave.pk}


def test_pressing_the_button_with_nobody_chosen_registers_no_one(
    client, make_training, alice, edogawa
):
    training = make_training()
    client.force_login(alice.user)

    response = client.post(detail(edogawa, training), {}, follow=True)

    assert "申し込む方にチェックを入れるか" in response.content.decode()
    assert not Registration.objects.exists()


def test_a_coordinator_adds_a_new_colleague_and_registers_them_in_the_same_step(
    client, make_training, alice, bob, edogawa
):
    training = make_training()
    client.force_login(alice.user)

    client.post(
        detail(edogawa, training),
        {
            "contact": [bob.pk],
            "new_name": "山田 花子",
            "new_kana": "やまだ はなこ",
            "new_department": "福祉部 障害者福祉課",
            "new_title": "主事",
            "new_email": "hanako@city.edogawa.example.jp",
        },
    )

    hanako = Contact.objects.get(email="hanako@city.edogawa.example.jp")
    assert (hanako.member, hanako.department, hanako.title) == (
        edogawa,
        "福祉部 障害者福祉課",
        "主事",
    )
    assert set(Registration.objects.values_list("contact_id", flat=True)) == {bob.pk, hanako.pk}


def test_a_new_colleague_without_an_address_is_refused_and_nothing_is_written(
    client, make_training, alice, bob, edogawa
):
    training = make_training()
    client.force_login(alice.user)

    response = client.post(
        detail(edogawa, training), {"contact": [bob.pk], "new_name": "山田 花子"}, follow=True
    )

    assert "新しい方のメールアドレスを入力してください。" in response.content.decode()
    assert not Registration.objects.exists()
    assert not Contact.objects.filter(name="山田 花子").exists()


def test_a_refusal_for_one_registers_none_of_them(client, make_training, alice, bob, edogawa):
    training = make_training()
    client.force_login(alice.user)
    taken = association.add_contact(
        edogawa, name="佐々木 次郎", email="jiro@city.edogawa.example.jp"
    )
    # Someone from another office already registered this address's twin: the new colleague
    # collides with an existing address, so the whole submit is refused.
    response = client.post(
        detail(edogawa, training),
        {"contact": [bob.pk], "new_name": "同じ住所", "new_email": taken.email},
        follow=True,
    )

    assert "申込みはしていません。" in response.content.decode()
    assert not Registration.objects.exists()


def test_the_form_offers_checkboxes_with_labels_and_no_dashes(
    client, make_training, alice, bob, edogawa
):
    training = make_training()
    client.force_login(alice.user)

    html = client.get(detail(edogawa, training)).content.decode()

    assert 'type="checkbox"' in html and "---------" not in html
    assert '<label for="id_contact_' in html and bob.name in html


def test_registering_a_new_colleague_with_a_line_break_registers_no_one(
    client, make_training, alice, bob, edogawa
):
    training = make_training()
    client.force_login(alice.user)
    response = client.post(
        detail(edogawa, training),
        {
            "contact": [bob.pk],
            "new_name": "山田 花子",
            "new_department": "福祉部\r\nBcc: evil@example.com",
            "new_email": "hanako@city.edogawa.example.jp",
        },
        follow=True,
    )
    assert "所属に改行や制御文字は使えません" in response.content.decode()
    assert not Contact.objects.filter(email="hanako@city.edogawa.example.jp").exists()
    assert not Registration.objects.exists()
