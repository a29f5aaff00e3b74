"""Questions the secretariat sets per training (issue 10 §3), through the questions app that
照会 uses: answered in the registration form, per person when a coordinator registers
colleagues; nothing is registered unless every required question is answered; the answers are
in the participant exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from association import services as association
from events import services
from events.models import Registration
from questions import services as questions
from questions.models import Question
from questions.services import answer_values


def answers_of(registration: Registration) -> dict:  # type: ignore[type-arg]
    assert registration.answer_set is not None
    return answer_values(registration.answer_set)


@pytest.fixture
def asking(make_training):
    training = make_training(title="自殺対策 全体研修会")
    assert training.question_set is not None  # made by save_training
    needs = questions.save_question(
        training.question_set, text="配慮事項（合理的配慮）", kind=Question.Kind.LONG_TEXT, order=1
    )
    party = questions.save_question(
        training.question_set,
        text="懇親会の出欠",
        kind=Question.Kind.SINGLE_CHOICE,
        choices=["出席", "欠席"],
        required=True,
        order=2,
    )
    return training, needs, party


@pytest.fixture
def dave(edogawa):
    return association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")


def detail(member, training) -> str:
    return reverse("events:detail", args=[member.local_government_id, training.pk])


def test_staff_answer_the_questions_when_registering_themselves(client, asking, bob, edogawa):
    training, needs, party = asking
    client.force_login(bob.user)
    page = client.get(detail(edogawa, training)).content.decode()
    assert "配慮事項（合理的配慮）" in page and "懇親会の出欠" in page

    client.post(
        detail(edogawa, training),
        {f"self-q{needs.pk}": "車いすを使います。\r\n段差のない席を", f"self-q{party.pk}": "出席"},
    )

    registration = Registration.objects.get(contact=bob)
    assert answers_of(registration) == {
        needs.pk: "車いすを使います。\n段差のない席を",
        party.pk: "出席",
    }


def test_a_required_question_left_blank_registers_no_one_and_says_which(
    client, asking, bob, edogawa
):
    training, needs, _party = asking
    client.force_login(bob.user)

    response = client.post(detail(edogawa, training), {f"self-q{needs.pk}": "なし"}, follow=True)

    assert not Registration.objects.exists()
    html = response.content.decode()
    assert "懇親会の出欠" in html and "申込みはしていません。" in html


def test_a_coordinator_answers_for_each_colleague_she_registers(
    client, asking, alice, bob, dave, edogawa
):
    training, needs, party = asking
    client.force_login(alice.user)

    client.post(
        detail(edogawa, training),
        {
            "contact": [bob.pk, dave.pk],
            f"c{bob.pk}-q{party.pk}": "出席",
            f"c{dave.pk}-q{party.pk}": "欠席",
            f"c{dave.pk}-q{needs.pk}": "手話通訳を希望",
            "new_name": "山田 花子",
            "new_email": "hanako@city.edogawa.example.jp",
            f"new-q{party.pk}": "出席",
        },
    )

    by_name = {
        r.contact.name: answers_of(r)
        for r in Registration.objects.select_related("contact", "answer_set")
    }
    assert by_name == {
        bob.name: {party.pk: "出席"},
        dave.name: {party.pk: "欠席", needs.pk: "手話通訳を希望"},
        "山田 花子": {party.pk: "出席"},
    }


def test_one_colleagues_missing_answer_registers_none_of_them(
    client, asking, alice, bob, dave, edogawa
):
    training, _needs, party = asking
    client.force_login(alice.user)

    response = client.post(
        detail(edogawa, training),
        {"contact": [bob.pk, dave.pk], f"c{bob.pk}-q{party.pk}": "出席"},
        follow=True,
    )

    assert not Registration.objects.exists()
    assert f"{dave.name} さん — 懇親会の出欠" in response.content.decode()


def test_answers_given_for_a_colleague_not_ticked_are_ignored(
    client, asking, alice, bob, dave, edogawa
):
    training, _needs, party = asking
    client.force_login(alice.user)

    client.post(
        detail(edogawa, training),
        {"contact": [bob.pk], f"c{bob.pk}-q{party.pk}": "出席", f"c{dave.pk}-q{party.pk}": "欠席"},
    )

    assert list(Registration.objects.values_list("contact_id", flat=True)) == [bob.pk]


def test_a_training_without_questions_registers_as_before(client, make_training, bob, edogawa):
    training = make_training()
    client.force_login(bob.user)

    client.post(detail(edogawa, training), {})

    registration = Registration.objects.get(contact=bob)
    assert registration.answer_set is None


def test_the_answers_are_in_the_csv_export_as_text(admin_client, asking, bob, dave):
    training, needs, party = asking
    first = services.register_for_training(training, contact=bob)
    services.answer_training_questions(first, {needs.pk: "=HYPERLINK(1)", party.pk: "出席"})
    services.register_for_training(training, contact=dave)

    response = admin_client.get(reverse("admin:events_training_csv", args=[training.pk]))

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][-2:] == ["配慮事項（合理的配慮）", "懇親会の出欠"]
    by_email = {row[10]: row[-2:] for row in rows[1:]}
    assert by_email == {bob.email: ["'=HYPERLINK(1)", "出席"], dave.email: ["", ""]}


def test_the_secretariat_adds_a_question_on_the_trainings_admin_page(admin_client, asking):
    training = asking[0]

    page = admin_client.get(reverse("admin:events_training_change", args=[training.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "申込みの設問" in html and "懇親会の出欠" in html


def test_the_answers_show_in_the_admins_list_of_registrations(admin_client, asking, bob, dave):
    training, needs, party = asking
    first = services.register_for_training(training, contact=bob)
    services.answer_training_questions(first, {needs.pk: "<b>段差なし</b>", party.pk: "欠席"})
    services.register_for_training(training, contact=dave)

    page = admin_client.get(reverse("admin:events_training_registrations", args=[training.pk]))

    html = page.content.decode()
    assert "配慮事項（合理的配慮）: &lt;b&gt;段差なし&lt;/b&gt;" in html
    assert "懇親会の出欠: 欠席" in html


def test_the_form_reads_the_questions_once_however_many_colleagues_it_lists(
    client, asking, alice, edogawa
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    training = asking[0]
    client.force_login(alice.user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get(detail(edogawa, training)).status_code == 200
        return len(seen)

    few = queries()
    for i in range(8):
        association.add_contact(
            edogawa, name=f"職員 {i}", email=f"staff{i}@city.edogawa.example.jp"
        )
    assert queries() == few


def test_erasing_a_person_deletes_their_answers_and_keeps_the_others(asking, bob, dave):
    from questions.models import Answer, AnswerChange

    training, needs, party = asking
    first = services.register_for_training(training, contact=bob)
    services.answer_training_questions(first, {needs.pk: "車いすを使います", party.pk: "出席"})
    second = services.register_for_training(training, contact=dave)
    services.answer_training_questions(second, {party.pk: "欠席"})

    association.erase_contact(bob)

    first.refresh_from_db()
    assert first.answer_set is None
    assert not Answer.objects.filter(value="車いすを使います").exists()
    assert not AnswerChange.objects.filter(new_value="車いすを使います").exists()
    assert answers_of(Registration.objects.get(pk=second.pk)) == {party.pk: "欠席"}
