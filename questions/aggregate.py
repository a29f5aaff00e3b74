"""Counting answers: per question, counts and shares per choice, sums and averages of numbers,
free text listed with the answerer's label, each also per group (a key the caller gives for
every answerer, e.g. its block or prefecture).

    summary = summarise(question_set, [Entry(answer_set_id, label, {"block": "関東"}), ...])

Shares are of the answerers who answered that question (for several choices they add up to
more than 100 %). Answers the current options no longer hold are counted as その他.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from . import values
from .models import Answer, Question, QuestionSet

Kind = Question.Kind


@dataclass(frozen=True)
class Entry:
    """One answerer: its answer set, how lists name it, and its group under each key."""

    answer_set_id: int
    label: str
    groups: dict[str, str] = field(default_factory=dict)


@dataclass
class Count:
    choice: str
    count: int
    share: float  # 0..1 of those who answered


@dataclass
class NumberStats:
    count: int = 0
    total: Decimal = Decimal(0)
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def add(self, number: Decimal) -> None:
        self.count += 1
        self.total += number
        self.minimum = number if self.minimum is None else min(self.minimum, number)
        self.maximum = number if self.maximum is None else max(self.maximum, number)

    @property
    def mean(self) -> Decimal | None:
        if not self.count:
            return None
        return (self.total / self.count).quantize(Decimal("0.01"))

    def text(self, value: Decimal | None, unit: str = "") -> str:
        return "" if value is None else f"{values.number_text_grouped(value)}{unit}"


@dataclass
class Group:
    """One group's figures for one question."""

    name: str
    entries: int  # answerers in the group
    answered: int  # of them, those who answered this question
    counts: list[Count] = field(default_factory=list)
    numbers: NumberStats | None = None


@dataclass
class TableColumn:
    label: str
    number: bool
    stats: NumberStats = field(default_factory=NumberStats)


@dataclass
class Summary:
    question: Question
    entries: int
    answered: int
    counts: list[Count] = field(default_factory=list)
    numbers: NumberStats | None = None
    texts: list[tuple[str, str]] = field(default_factory=list)
    table_rows: int = 0
    table_columns: list[TableColumn] = field(default_factory=list)
    table_lines: list[tuple[str, list[str]]] = field(default_factory=list)
    groups: dict[str, list[Group]] = field(default_factory=dict)

    @property
    def share_answered(self) -> float:
        return self.answered / self.entries if self.entries else 0.0


def _options(question: Question) -> list[str]:
    if question.kind == Kind.YES_NO:
        return [_("はい"), _("いいえ")]
    return [str(c) for c in question.choices]


def _picked(question: Question, value: Any) -> list[str]:
    """The options VALUE counts for; an option no longer offered counts as その他."""
    options = _options(question)
    if question.kind == Kind.YES_NO:
        return [options[0] if value else options[1]]
    items = value if isinstance(value, list) else [value]
    return [str(item) if str(item) in options else _("その他") for item in items]


def _counts(question: Question, counter: Counter[str], answered: int) -> list[Count]:
    options = _options(question)
    extra = [key for key in counter if key not in options]
    return [
        Count(choice, counter[choice], counter[choice] / answered if answered else 0.0)
        for choice in options + sorted(extra)
    ]


def load_answers(
    question_set: QuestionSet, answer_set_ids: Sequence[int]
) -> dict[tuple[int, int], Any]:
    """{(answer set id, question id): value} for the given answer sets, a few queries in all."""
    found: dict[tuple[int, int], Any] = {}
    ids = list(answer_set_ids)
    for start in range(0, len(ids), 500):
        rows = Answer.objects.filter(
            answer_set_id__in=ids[start : start + 500],
            question__question_set=question_set,
            value__isnull=False,
        ).values_list("answer_set_id", "question_id", "value")
        for answer_set_id, question_id, value in rows:
            found[(answer_set_id, question_id)] = value
    return found


def summarise(
    question_set: QuestionSet,
    entries: Sequence[Entry],
    *,
    group_keys: Sequence[str] = (),
    include_text: bool = True,
) -> list[Summary]:
    questions = list(question_set.questions.all())
    found = load_answers(question_set, [e.answer_set_id for e in entries])
    summaries = []
    for question in questions:
        summary = Summary(question=question, entries=len(entries), answered=0)
        counter: Counter[str] = Counter()
        per_group: dict[str, dict[str, dict[str, Any]]] = {
            key: defaultdict(lambda: {"entries": 0, "answered": 0, "counter": Counter()})
            for key in group_keys
        }
        if question.kind == Kind.NUMBER:
            summary.numbers = NumberStats()
        if question.kind == Kind.TABLE:
            summary.table_columns = [
                TableColumn(str(c.get("label", "")), c.get("kind") == Question.ColumnKind.NUMBER)
                for c in question.columns
            ]
        for entry in entries:
            value = found.get((entry.answer_set_id, question.pk))
            blank = values.is_blank(value)
            for key in group_keys:
                slot = per_group[key][entry.groups.get(key, "")]
                slot["entries"] += 1
                if not blank:
                    slot["answered"] += 1
            if blank:
                continue
            summary.answered += 1
            if question.kind in (Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE, Kind.YES_NO):
                picked = _picked(question, value)
                counter.update(picked)
                for key in group_keys:
                    per_group[key][entry.groups.get(key, "")]["counter"].update(picked)
            elif question.kind == Kind.NUMBER:
                number = Decimal(str(value))
                assert summary.numbers is not None
                summary.numbers.add(number)
                for key in group_keys:
                    slot = per_group[key][entry.groups.get(key, "")]
                    slot.setdefault("numbers", NumberStats()).add(number)
            elif question.kind == Kind.TABLE and isinstance(value, list):
                for row in value:
                    summary.table_rows += 1
                    for index, column in enumerate(summary.table_columns):
                        cell = row[index] if index < len(row) else ""
                        if column.number and cell != "":
                            column.stats.add(Decimal(str(cell)))
                    if include_text:
                        summary.table_lines.append((entry.label, [str(c) for c in row]))
            elif include_text:
                summary.texts.append((entry.label, str(value)))
        if counter or question.kind in (Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE, Kind.YES_NO):
            summary.counts = _counts(question, counter, summary.answered)
        for key in group_keys:
            groups = []
            # In the order the caller listed its answerers (e.g. blocks in their own order).
            for name, slot in per_group[key].items():
                group = Group(name=name, entries=slot["entries"], answered=slot["answered"])
                if summary.counts:
                    group.counts = _counts(question, slot["counter"], slot["answered"])
                if question.kind == Kind.NUMBER:
                    group.numbers = slot.get("numbers", NumberStats())
                groups.append(group)
            summary.groups[key] = groups
        summaries.append(summary)
    return summaries
