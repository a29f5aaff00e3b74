"""Counting answers per question, per group, with free text listed by answerer."""

from __future__ import annotations

from decimal import Decimal

from questions import services
from questions.aggregate import Entry, summarise
from questions.charts import Bar, bar_chart

from .conftest import by_text


def answer(survey, **by_question) -> int:
    q = by_text(survey)
    answer_set = services.start_answer_set(survey)
    services.save_answers(answer_set, {q[text].pk: value for text, value in by_question.items()})
    return answer_set.pk


def test_it_counts_choices_sums_numbers_and_lists_text_by_group(survey):
    entries = [
        Entry(
            answer(
                survey,
                計画の策定状況="策定済み",
                連携している機関=["保健所", "学校"],
                自殺対策の予算額="1000",
                計画の概要="若年層の支援",
            ),
            "東京都江戸川区",
            {"block": "関東"},
        ),
        Entry(
            answer(
                survey, 計画の策定状況="策定中", 連携している機関=["保健所"], 自殺対策の予算額="500"
            ),
            "東京都足立区",
            {"block": "関東"},
        ),
        Entry(answer(survey, 計画の策定状況="策定済み"), "大阪府堺市", {"block": "近畿"}),
        Entry(services.start_answer_set(survey).pk, "京都府京都市", {"block": "近畿"}),
    ]
    summary = {s.question.text: s for s in summarise(survey, entries, group_keys=["block"])}
    status = summary["計画の策定状況"]
    assert (status.entries, status.answered) == (4, 3)
    assert [(c.choice, c.count, round(c.share, 3)) for c in status.counts] == [
        ("策定済み", 2, 0.667),
        ("策定中", 1, 0.333),
        ("未策定", 0, 0.0),
    ]
    kinki = status.groups["block"][1]
    assert (kinki.name, kinki.entries, kinki.answered) == ("近畿", 2, 1)
    assert [c.count for c in kinki.counts] == [1, 0, 0]
    partners = summary["連携している機関"]
    assert [(c.choice, c.count) for c in partners.counts][:2] == [("保健所", 2), ("医療機関", 0)]
    assert partners.counts[0].share == 1.0  # of those who answered; shares add up past 100 %
    budget = summary["自殺対策の予算額"]
    assert budget.numbers is not None
    assert (budget.numbers.count, budget.numbers.total, budget.numbers.mean) == (
        2,
        Decimal(1500),
        Decimal("750.00"),
    )
    assert summary["計画の概要"].texts == [("東京都江戸川区", "若年層の支援")]


def test_free_text_can_be_left_out(survey):
    entries = [Entry(answer(survey, 計画の概要="内部の検討状況"), "東京都江戸川区")]
    summary = {s.question.text: s for s in summarise(survey, entries, include_text=False)}
    assert summary["計画の概要"].texts == []
    assert summary["計画の概要"].answered == 1


def test_a_chart_escapes_what_people_typed():
    svg = bar_chart([Bar("<script>alert(1)</script>", 3, "3（100%）")], title="策定状況")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'role="img"' in svg and "<title>策定状況</title>" in svg
