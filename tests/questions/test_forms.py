"""The form built from a question set speaks these forms' own words."""

from __future__ import annotations

from django.http import QueryDict

from questions import services
from questions.forms import AnswerForm

from .conftest import by_text, full_answers


def post(question_set, pairs: dict[str, object], **kwargs) -> AnswerForm:
    data = QueryDict(mutable=True)
    for key, value in pairs.items():
        if isinstance(value, list):
            data.setlist(key, value)
        else:
            data[key] = str(value)
    return AnswerForm(question_set, data=data, **kwargs)


def test_it_draws_every_kind_without_django_defaults(survey):
    html = AnswerForm(survey).as_div() + "".join(str(f) for f in AnswerForm(survey).answer_fields())
    assert "---------" not in html
    assert 'type="radio"' in html and 'type="checkbox"' in html
    assert 'inputmode="decimal"' in html
    assert "required" not in html.replace("aria-required", "")  # the browser's words never show


def test_a_submission_lists_what_is_missing_in_its_own_words(survey):
    form = post(survey, {}, require=True)
    assert not form.is_valid()
    text = str(form.errors)
    assert "このフィールドは必須です" not in text
    q = by_text(survey)
    assert form.errors[f"q{q['担当課名'].pk}"] == ["「担当課名」に回答してください（必須）。"]
    assert [message for _id, _label, message in form.error_summary][:1] == [
        "「担当課名」に回答してください（必須）。"
    ]


def test_a_draft_may_leave_required_questions_blank(survey):
    q = by_text(survey)
    form = post(survey, {f"q{q['担当課名'].pk}": "保健予防課"})
    assert form.is_valid(), form.errors
    assert form.answers()[q["担当課名"].pk] == "保健予防課"
    assert form.answers()[q["計画の策定状況"].pk] is None


def test_it_reads_every_kind_from_a_post(survey):
    q = by_text(survey)
    table = f"q{q['令和8年度の主な事業'].pk}"
    form = post(
        survey,
        {
            f"q{q['担当課名'].pk}": "健康部",
            f"q{q['自殺対策の予算額'].pk}": "１，２００",
            f"q{q['計画の策定状況'].pk}": "策定中",
            f"q{q['連携している機関'].pk}": ["学校", "保健所"],
            f"q{q['ゲートキーパー研修を実施していますか'].pk}": "no",
            f"{table}-rows": "2",
            f"{table}-0-0": "相談窓口",
            f"{table}-0-1": "300",
            f"{table}-1-0": "",
            f"{table}-1-1": "",
        },
        require=True,
    )
    assert form.is_valid(), form.errors
    answers = form.answers()
    assert answers[q["自殺対策の予算額"].pk] == "1200"
    assert answers[q["連携している機関"].pk] == ["保健所", "学校"]
    assert answers[q["ゲートキーパー研修を実施していますか"].pk] is False
    assert answers[q["令和8年度の主な事業"].pk] == [["相談窓口", "300"]]


def test_a_bad_table_cell_is_named_by_row_and_column(survey):
    q = by_text(survey)
    table = f"q{q['令和8年度の主な事業'].pk}"
    form = post(survey, {f"{table}-rows": "1", f"{table}-0-0": "相談", f"{table}-0-1": "多い"})
    assert not form.is_valid()
    assert form.errors[table] == [
        "1行目「予算額（千円）」: 数値で入力してください（「多い」は数値として読めません）。"
    ]


def test_a_forged_row_count_reads_no_more_rows_than_a_form_draws(survey):
    q = by_text(survey)
    table = f"q{q['令和8年度の主な事業'].pk}"
    form = post(survey, {f"{table}-rows": "100000000"})
    widget = form.fields[table].widget
    rows = widget.value_from_datadict(form.data, {}, table)
    assert len(rows) == 5 + 3


def test_it_shows_saved_answers_back(survey):
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, full_answers(survey))
    form = AnswerForm(survey, answers=services.answer_values(answer_set), revision=1)
    q = by_text(survey)
    html = "".join(str(f) for f in form.answer_fields())
    assert 'value="12500"' in html
    assert 'value="こころの相談窓口"' in html
    yes_no = str(form[f"q{q['ゲートキーパー研修を実施していますか'].pk}"])
    assert 'value="yes" id="id_q' in yes_no and yes_no.count("checked") == 1
    assert yes_no.index("checked") < yes_no.index('value="no"')
    partners = str(form[f"q{q['連携している機関'].pk}"])
    assert partners.count("checked") == 2
    assert 'value="1"' in str(form["revision"])
