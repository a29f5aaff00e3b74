"""A question set with one question of every kind, made through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from questions import services
from questions.models import Question, QuestionSet

Kind = Question.Kind


def make_survey() -> QuestionSet:
    question_set = services.create_question_set(title="令和8年度 自殺対策計画の策定状況について")
    add = services.save_question
    add(question_set, kind=Kind.SHORT_TEXT, text="担当課名", required=True)
    add(question_set, kind=Kind.LONG_TEXT, text="計画の概要", help_text="300字程度で")
    add(
        question_set,
        kind=Kind.NUMBER,
        text="自殺対策の予算額",
        unit="千円",
        min_value=Decimal(0),
    )
    add(
        question_set,
        kind=Kind.SINGLE_CHOICE,
        text="計画の策定状況",
        required=True,
        choices=["策定済み", "策定中", "未策定"],
    )
    add(
        question_set,
        kind=Kind.MULTIPLE_CHOICE,
        text="連携している機関",
        choices=["保健所", "医療機関", "学校", "民間団体"],
    )
    add(question_set, kind=Kind.YES_NO, text="ゲートキーパー研修を実施していますか", required=True)
    add(
        question_set,
        kind=Kind.TABLE,
        text="令和8年度の主な事業",
        columns=[
            {"label": "事業名", "kind": "text"},
            {"label": "予算額（千円）", "kind": "number"},
        ],
        max_rows=5,
    )
    return question_set


@pytest.fixture
def survey(db) -> QuestionSet:
    return make_survey()


def by_text(question_set: QuestionSet) -> dict[str, Question]:
    return {q.text: q for q in question_set.questions.all()}


def full_answers(question_set: QuestionSet) -> dict[int, object]:
    q = by_text(question_set)
    return {
        q["担当課名"].pk: "健康部 保健予防課",
        q["計画の概要"].pk: "第2次計画（令和6〜10年度）。\n若年層への支援を重点に。",
        q["自殺対策の予算額"].pk: "12,500",
        q["計画の策定状況"].pk: "策定済み",
        q["連携している機関"].pk: ["学校", "保健所"],
        q["ゲートキーパー研修を実施していますか"].pk: True,
        q["令和8年度の主な事業"].pk: [["こころの相談窓口", "3,000"], ["SNS相談", "1200"]],
    }
