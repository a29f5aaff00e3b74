"""Parsing answers: the one rule the web form and the Excel reader share."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questions import values
from questions.models import Question

from .conftest import by_text
from .strategies import japanese

Kind = Question.Kind
# The question set is only read by these tests, so one per test function is right.
READ_ONLY_FIXTURE = [HealthCheck.function_scoped_fixture]


def test_it_stores_the_canonical_shape_of_each_kind(survey):
    q = by_text(survey)
    assert values.parse(q["担当課名"], "  健康部\r\n保健予防課 ") == "健康部 保健予防課"
    assert values.parse(q["計画の概要"], "一行目\r\n二行目") == "一行目\n二行目"
    assert values.parse(q["自殺対策の予算額"], "１２，５００千円") == "12500"
    assert values.parse(q["自殺対策の予算額"], 12.5) == "12.5"
    assert values.parse(q["計画の策定状況"], "策定中") == "策定中"
    assert values.parse(q["連携している機関"], ["学校", "保健所", "学校"]) == ["保健所", "学校"]
    assert values.parse(q["連携している機関"], "学校、民間団体") == ["学校", "民間団体"]
    assert values.parse(q["ゲートキーパー研修を実施していますか"], "いいえ") is False
    assert values.parse(q["ゲートキーパー研修を実施していますか"], "○") is True
    table = values.parse(q["令和8年度の主な事業"], [["相談", "1,000"], ["", ""], ["啓発", ""]])
    assert table == [["相談", "1000"], ["啓発", ""]]


def test_it_keeps_a_blank_answer_blank_whatever_the_kind(survey):
    for question in survey.questions.all():
        assert values.parse(question, "") is None
        assert values.parse(question, None) is None


@pytest.mark.parametrize(
    ("text", "raw", "message"),
    [
        ("自殺対策の予算額", "たくさん", "数値で入力してください"),
        ("自殺対策の予算額", "-5", "0以上の数値"),
        ("自殺対策の予算額", "1.23456", "小数点以下は4桁まで"),
        ("自殺対策の予算額", "9" * 20, "数値が大きすぎます"),
        ("計画の策定状況", "検討中", "「検討中」は選択肢にありません"),
        ("ゲートキーパー研修を実施していますか", "たぶん", "「はい」か「いいえ」"),
        ("担当課名", "課" * 201, "200文字以内で入力してください（201文字あります）"),
    ],
)
def test_it_refuses_what_does_not_fit_in_plain_japanese(survey, text, raw, message):
    with pytest.raises(ValidationError) as refused:
        values.parse(by_text(survey)[text], raw)
    assert message in " ".join(refused.value.messages)


def test_it_names_the_row_and_the_column_of_each_bad_table_cell(survey):
    question = by_text(survey)["令和8年度の主な事業"]
    with pytest.raises(values.TableError) as refused:
        values.parse(question, [["相談", "千円"], ["啓発", "1"], ["研修", "x"]])
    assert [(c.row, c.column) for c in refused.value.cells] == [(1, 1), (3, 1)]
    assert "1行目「予算額（千円）」: 数値で入力してください" in refused.value.messages[0]


def test_it_refuses_more_table_rows_than_allowed(survey):
    question = by_text(survey)["令和8年度の主な事業"]
    with pytest.raises(values.TableError) as refused:
        values.parse(question, [[f"事業{i}", str(i)] for i in range(6)])
    assert "行は5行までです（6行あります）" in refused.value.messages[0]


def test_a_required_question_is_missing_only_when_blank(survey):
    required = by_text(survey)["担当課名"]
    optional = by_text(survey)["計画の概要"]
    assert values.missing(required, None)
    assert not values.missing(required, "保健予防課")
    assert not values.missing(optional, None)
    assert values.required_message(required) == "「担当課名」に回答してください（必須）。"


@settings(max_examples=150, deadline=None, suppress_health_check=READ_ONLY_FIXTURE)
@given(text=japanese(260))
def test_short_text_is_one_trimmed_line_of_any_japanese(survey, text):
    question = by_text(survey)["担当課名"]
    try:
        parsed = values.parse(question, text)
    except ValidationError as exc:
        assert len(values.clean_line(text)) > values.MAX_SHORT_TEXT
        assert "文字以内" in exc.messages[0]
        return
    if parsed is not None:
        assert "\n" not in parsed and "\r" not in parsed
        assert parsed == parsed.strip() and "  " not in parsed
        assert values.parse(question, parsed) == parsed  # stored values read back unchanged


@settings(max_examples=150, deadline=None, suppress_health_check=READ_ONLY_FIXTURE)
@given(
    number=st.decimals(
        min_value=Decimal("0"), max_value=Decimal("99999999999"), places=2, allow_nan=False
    ),
    full_width=st.booleans(),
    grouped=st.booleans(),
)
def test_numbers_read_as_people_type_them(survey, number, full_width, grouped):
    question = by_text(survey)["自殺対策の予算額"]
    text = f"{number:,}" if grouped else str(number)
    if full_width:
        text = text.translate(str.maketrans("0123456789,.", "０１２３４５６７８９，．"))
    parsed = values.parse(question, text)
    assert Decimal(parsed) == number
    assert values.parse(question, parsed) == parsed
