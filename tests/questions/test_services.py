"""Answers are saved all or nothing, every change kept with who and when."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from association.models import User
from questions import services
from questions.models import Answer, AnswerChange, Question

from .conftest import by_text, full_answers

Kind = Question.Kind


@pytest.fixture
def alice_user(db) -> User:
    return User.objects.create(username="alice@city.edogawa.example.jp")


def test_it_saves_answers_and_keeps_who_changed_what_and_when(survey, alice_user):
    answer_set = services.start_answer_set(survey)
    changed = services.save_answers(
        answer_set,
        full_answers(survey),
        by=alice_user,
        actor_ref="contact:7",
        actor_name="佐藤 美咲",
        via="ウェブ",
    )
    assert len(changed) == 7
    q = by_text(survey)
    assert services.answer_values(answer_set)[q["自殺対策の予算額"].pk] == "12500"
    services.save_answers(
        answer_set, {q["自殺対策の予算額"].pk: "13000"}, by=alice_user, actor_name="佐藤 美咲"
    )
    latest = services.history(answer_set).first()
    assert latest is not None
    assert (latest.question, latest.old_value, latest.new_value) == (
        q["自殺対策の予算額"],
        "12500",
        "13000",
    )
    assert latest.changed_by == alice_user and latest.actor_name == "佐藤 美咲"
    answer_set.refresh_from_db()
    assert answer_set.revision == 2


def test_saving_the_same_answers_again_changes_nothing(survey):
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    assert services.save_answers(answer_set, full_answers(survey)) == []
    assert AnswerChange.objects.filter(answer_set=answer_set).count() == 7


def test_one_bad_value_refuses_the_lot(survey):
    answer_set = services.start_answer_set(survey)
    answers = full_answers(survey)
    q = by_text(survey)
    answers[q["自殺対策の予算額"].pk] = "多め"
    with pytest.raises(ValidationError) as refused:
        services.save_answers(answer_set, answers)
    assert str(q["自殺対策の予算額"].pk) in refused.value.error_dict
    assert not Answer.objects.filter(answer_set=answer_set).exists()


def test_a_submission_needs_every_required_answer_a_draft_does_not(survey):
    answer_set = services.start_answer_set(survey)
    q = by_text(survey)
    services.save_answers(answer_set, {q["担当課名"].pk: "保健予防課"})  # a draft
    with pytest.raises(ValidationError) as refused:
        services.save_answers(answer_set, {}, require_complete=True)
    messages = {key: e[0].messages[0] for key, e in refused.value.error_dict.items()}
    assert messages == {
        str(q["計画の策定状況"].pk): "「計画の策定状況」を選んでください（必須）。",
        str(q["ゲートキーパー研修を実施していますか"].pk): (
            "「ゲートキーパー研修を実施していますか」を選んでください（必須）。"
        ),
    }
    assert [x.text for x in services.missing_required(answer_set)] == [
        "計画の策定状況",
        "ゲートキーパー研修を実施していますか",
    ]


def test_two_people_saving_at_once_cannot_overwrite_each_other_unseen(survey):
    answer_set = services.start_answer_set(survey)
    q = by_text(survey)
    read_at = answer_set.revision
    services.save_answers(answer_set, {q["担当課名"].pk: "健康推進課"}, expected_revision=read_at)
    with pytest.raises(ValidationError) as refused:
        services.save_answers(
            answer_set, {q["担当課名"].pk: "保健予防課"}, expected_revision=read_at
        )
    assert refused.value.code == "stale"
    assert services.answer_values(answer_set)[q["担当課名"].pk] == "健康推進課"


def test_an_answer_to_another_sets_question_is_refused(survey):
    other = services.create_question_set(title="別の照会")
    foreign = services.save_question(other, kind=Kind.SHORT_TEXT, text="他")
    with pytest.raises(ValidationError):
        services.save_answers(services.start_answer_set(survey), {foreign.pk: "x"})


def test_a_question_keeps_its_type_once_answered(survey):
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    question = by_text(survey)["自殺対策の予算額"]
    with pytest.raises(ValidationError) as refused:
        services.save_question(survey, question, kind=Kind.SHORT_TEXT)
    assert "回答の形式は変更できません" in refused.value.message_dict["kind"][0]
    question.refresh_from_db()
    assert question.kind == Kind.NUMBER


def test_an_unanswered_question_may_change_its_type(survey):
    question = by_text(survey)["計画の概要"]
    changed = services.save_question(survey, question, kind=Kind.SHORT_TEXT)
    assert changed.kind == Kind.SHORT_TEXT


def test_a_chosen_option_cannot_be_removed_but_new_ones_can_be_added(survey):
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    question = by_text(survey)["計画の策定状況"]
    with pytest.raises(ValidationError) as refused:
        services.save_question(survey, question, choices=["策定中", "未策定"])
    assert "「策定済み」" in refused.value.message_dict["choices"][0]
    services.save_question(survey, question, choices=[*question.choices, "改定中"])
    question.refresh_from_db()
    assert question.choices[-1] == "改定中"


def test_table_columns_can_be_added_but_not_dropped_once_filled(survey):
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    question = by_text(survey)["令和8年度の主な事業"]
    with pytest.raises(ValidationError):
        services.save_question(survey, question, columns=[{"label": "事業名", "kind": "text"}])
    services.save_question(
        survey, question, columns=[*question.columns, {"label": "担当課", "kind": "text"}]
    )


def test_an_answered_question_cannot_be_deleted(survey):
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    with pytest.raises(ValidationError):
        services.delete_question(by_text(survey)["担当課名"])
    services.delete_question(services.save_question(survey, kind=Kind.SHORT_TEXT, text="新"))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"kind": Kind.SINGLE_CHOICE, "choices": ["一つだけ"]}, "choices", "2つ以上"),
        ({"kind": Kind.TABLE, "columns": []}, "columns", "1つ以上"),
        ({"kind": Kind.SHORT_TEXT, "text": "  \r\n "}, "text", "設問を入力"),
    ],
)
def test_a_question_that_cannot_work_is_refused(survey, fields, field, message):
    base = {"kind": Kind.SHORT_TEXT, "text": "設問"}
    with pytest.raises(ValidationError) as refused:
        services.save_question(survey, **(base | fields))
    assert message in refused.value.message_dict[field][0]


def test_forgetting_a_person_keeps_the_answers_and_what_changed_but_not_who(survey, alice_user):
    answer_set = services.start_answer_set(survey)
    services.save_answers(
        answer_set,
        full_answers(survey),
        by=alice_user,
        actor_ref="contact:7",
        actor_name="佐藤 美咲",
    )
    other = services.start_answer_set(survey)
    services.save_answers(
        other, full_answers(survey), actor_ref="contact:8", actor_name="佐藤 美咲"
    )
    assert services.forget_actor("contact:7") == 7
    mine = AnswerChange.objects.filter(answer_set=answer_set)
    assert set(mine.values_list("actor_name", "changed_by", "actor_ref")) == {("", None, "")}
    assert len(services.answer_values(answer_set)) == 7
    # Another person of the same name keeps theirs: erasure is by identity, not by name.
    assert set(
        AnswerChange.objects.filter(answer_set=other).values_list("actor_name", flat=True)
    ) == {"佐藤 美咲"}


def test_a_copy_has_the_same_questions_and_no_answers(survey):
    services.save_answers(services.start_answer_set(survey), full_answers(survey))
    copy = services.copy_question_set(survey, title="令和9年度")
    assert [q.text for q in copy.questions.all()] == [q.text for q in survey.questions.all()]
    assert not Answer.objects.filter(question__question_set=copy).exists()


def test_many_answer_sets_start_at_once_each_with_its_id(survey):
    sets = services.start_answer_sets(survey, 3)
    assert len({s.pk for s in sets}) == 3 and all(s.pk for s in sets)
    assert all(s.revision == 0 and s.question_set_id == survey.pk for s in sets)
