"""Every change to question sets and answers. Each function is one transaction and names the act.

For other apps (owners of a question set: a training, a 照会, a survey):

  create_question_set(*, title="") -> QuestionSet            the owner keeps it (FK/OneToOne)
  copy_question_set(question_set, *, title=None) -> QuestionSet
  save_question(question_set, question=None, **fields) -> Question
  delete_question(question)                                  refused once it has answers
  check_question_change(question, *, kind, choices, columns, min_value, max_value)
      the rules a question obeys (the admin's form calls it too): a type never changes once
      answers exist, nor does a choice or a table column that answers use
  start_answer_set(question_set) -> AnswerSet
  start_answer_sets(question_set, count) -> list[AnswerSet]  many at once (one per municipality)
  save_answers(answer_set, values, *, by, actor_ref, actor_name, via, expected_revision,
               require_complete) -> list[int]                the ids of the questions changed
  answer_values(answer_set) -> {question_id: value}
  missing_required(answer_set) -> list[Question]
  forget_actor(actor_ref) -> int                             erasure: the person's name leaves
                                                             the change history

Values are parsed by questions.values.parse() here whatever the caller already did, so no
caller can store a value of the wrong shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import values as answer_values_
from .models import Answer, AnswerChange, AnswerSet, Question, QuestionSet

MAX_CHOICES = 50
MAX_CHOICE_LENGTH = 100
MAX_COLUMNS = 12
MAX_COLUMN_LENGTH = 40
MAX_TABLE_ROWS = 200
QUESTION_FIELDS = (
    "order",
    "kind",
    "text",
    "help_text",
    "required",
    "choices",
    "columns",
    "max_rows",
    "unit",
    "min_value",
    "max_value",
)


# --- question sets and questions -------------------------------------------------------------


@transaction.atomic
def create_question_set(*, title: str = "") -> QuestionSet:
    return QuestionSet.objects.create(title=answer_values_.clean_line(title)[:200])


@transaction.atomic
def copy_question_set(question_set: QuestionSet, *, title: str | None = None) -> QuestionSet:
    """A new set with the same questions and no answers (a next year's form, a template)."""
    copy = QuestionSet.objects.create(title=question_set.title if title is None else title)
    Question.objects.bulk_create(
        Question(
            question_set=copy,
            **{name: getattr(question, name) for name in QUESTION_FIELDS},
        )
        for question in question_set.questions.all()
    )
    return copy


def has_answers(question: Question) -> bool:
    return Answer.objects.filter(question=question, value__isnull=False).exists()


def _used_values(question: Question) -> tuple[set[str], int]:
    """The choices that answers to QUESTION use, and the widest table row they fill."""
    used: set[str] = set()
    widest = 0
    for value in Answer.objects.filter(question=question, value__isnull=False).values_list(
        "value", flat=True
    ):
        if isinstance(value, str):
            used.add(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    used.add(item)
                elif isinstance(item, list):
                    filled = [i for i, cell in enumerate(item) if cell not in ("", None)]
                    widest = max(widest, (filled[-1] + 1) if filled else 0)
    return used, widest


def clean_choices(raw: Iterable[Any]) -> list[str]:
    choices: list[str] = []
    for item in raw:
        text = answer_values_.clean_line(item)
        if text and text not in choices:
            choices.append(text)
    return choices


def check_question_change(
    question: Question | None,
    *,
    kind: str,
    choices: list[str],
    columns: list[dict[str, str]],
    min_value: Decimal | None = None,
    max_value: Decimal | None = None,
    max_rows: int = 20,
) -> None:
    """Refuse a question that cannot work, or a change that would orphan existing answers."""
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if kind not in Question.Kind.values:
        fail("kind", _("回答の形式を選んでください。"))
    if kind in Question.CHOICE_KINDS:
        if len(choices) < 2:
            fail("choices", _("選択肢を2つ以上入力してください（1行に1つ）。"))
        if len(choices) > MAX_CHOICES:
            fail("choices", _("選択肢は%(n)d個までです。") % {"n": MAX_CHOICES})
        for choice in choices:
            if len(choice) > MAX_CHOICE_LENGTH:
                fail(
                    "choices",
                    _("選択肢「%(c)s…」が長すぎます（%(n)d文字まで）。")
                    % {"c": choice[:20], "n": MAX_CHOICE_LENGTH},
                )
    if kind == Question.Kind.TABLE:
        if not columns:
            fail("columns", _("表の列を1つ以上入力してください（1行に1列）。"))
        if len(columns) > MAX_COLUMNS:
            fail("columns", _("表の列は%(n)d列までです。") % {"n": MAX_COLUMNS})
        for column in columns:
            label = str(column.get("label", ""))
            if not label or len(label) > MAX_COLUMN_LENGTH:
                fail(
                    "columns",
                    _("列名は1〜%(n)d文字で入力してください。") % {"n": MAX_COLUMN_LENGTH},
                )
            if column.get("kind") not in Question.ColumnKind.values:
                fail("columns", _("列の種類は「文字」か「数値」です。"))
        if not 1 <= max_rows <= MAX_TABLE_ROWS:
            fail("max_rows", _("最大行数は1〜%(n)d行です。") % {"n": MAX_TABLE_ROWS})
    if (
        kind == Question.Kind.NUMBER
        and min_value is not None
        and max_value is not None
        and min_value > max_value
    ):
        fail("max_value", _("最大値は最小値以上にしてください。"))
    if question is not None and question.pk is not None and has_answers(question):
        if kind != question.kind:
            fail(
                "kind",
                _("回答がすでにあるため、回答の形式は変更できません（「%(kind)s」のまま）。")
                % {"kind": question.get_kind_display()},
            )
        elif kind in Question.CHOICE_KINDS:
            used, _widest = _used_values(question)
            gone = sorted(used - set(choices))
            if gone:
                fail(
                    "choices",
                    _("回答で選ばれている選択肢は削除・変更できません: %(c)s")
                    % {"c": "、".join(f"「{c}」" for c in gone)},
                )
        elif kind == Question.Kind.TABLE:
            _used, widest = _used_values(question)
            old = question.columns
            if len(columns) < widest or any(
                old[i].get("kind") != columns[i].get("kind")
                for i in range(min(len(old), len(columns)))
            ):
                fail(
                    "columns",
                    _(
                        "回答がすでにあるため、列の削除や種類の変更はできません"
                        "（列の追加と列名の変更はできます）。"
                    ),
                )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_question(
    question_set: QuestionSet, question: Question | None = None, **fields: Any
) -> Question:
    """Add a question to QUESTION_SET, or change QUESTION. Fields are Question's own."""
    unknown = set(fields) - set(QUESTION_FIELDS)
    if unknown:
        raise TypeError(f"unknown question fields: {sorted(unknown)}")
    if question is not None:
        question = Question.objects.select_for_update().get(pk=question.pk)
        if question.question_set_id != question_set.pk:
            raise ValidationError(_("この設問は別の設問セットのものです。"))
    target = question or Question(question_set=question_set)
    values = {name: getattr(target, name) for name in QUESTION_FIELDS} | fields
    values["text"] = answer_values_.clean_line(values["text"])
    values["help_text"] = answer_values_.clean_line(values["help_text"])
    values["unit"] = answer_values_.clean_line(values["unit"])
    values["choices"] = (
        clean_choices(values["choices"]) if values["kind"] in Question.CHOICE_KINDS else []
    )
    if values["kind"] != Question.Kind.TABLE:
        values["columns"] = []
    if not values["text"]:
        raise ValidationError({"text": [_("設問を入力してください。")]})
    check_question_change(
        question,
        kind=values["kind"],
        choices=values["choices"],
        columns=values["columns"],
        min_value=values["min_value"],
        max_value=values["max_value"],
        max_rows=values["max_rows"],
    )
    for name, value in values.items():
        setattr(target, name, value)
    if question is None and not fields.get("order"):
        last = question_set.questions.order_by("-order").values_list("order", flat=True).first()
        target.order = (last or 0) + 1
    target.save()
    QuestionSet.objects.filter(pk=question_set.pk).update(updated_at=target.updated_at)
    return target


@transaction.atomic
def delete_question(question: Question) -> None:
    if has_answers(question):
        raise ValidationError(
            _("「%(q)s」にはすでに回答があるため削除できません。") % {"q": question.text},
            code="answered",
        )
    Answer.objects.filter(question=question).delete()
    question.delete()


# --- answers -------------------------------------------------------------------------------


@transaction.atomic
def start_answer_set(question_set: QuestionSet) -> AnswerSet:
    return AnswerSet.objects.create(question_set=question_set)


@transaction.atomic
def start_answer_sets(question_set: QuestionSet, count: int) -> list[AnswerSet]:
    """COUNT empty answer sets in one statement per 500, with their ids."""
    return AnswerSet.objects.bulk_create(
        [AnswerSet(question_set=question_set) for _i in range(count)], batch_size=500
    )


def answer_values(answer_set: AnswerSet) -> dict[int, Any]:
    return dict(
        Answer.objects.filter(answer_set=answer_set, value__isnull=False).values_list(
            "question_id", "value"
        )
    )


def missing_required(
    answer_set: AnswerSet, values: Mapping[int, Any] | None = None
) -> list[Question]:
    current = answer_values(answer_set) if values is None else values
    return [
        q
        for q in answer_set.question_set.questions.all()
        if answer_values_.missing(q, current.get(q.pk))
    ]


STALE_MESSAGE = _(
    "この回答は、開いた後に他の方が保存しています。ページを開き直して最新の内容を確認してください。"
)


@transaction.atomic
def save_answers(
    answer_set: AnswerSet,
    values: Mapping[int, Any],
    *,
    by: Any = None,
    actor_ref: str = "",
    actor_name: str = "",
    via: str = "",
    expected_revision: int | None = None,
    require_complete: bool = False,
) -> list[int]:
    """Store the answers in VALUES ({question id: value as typed or as stored}), all or
    nothing: every value is parsed and any problem refuses the lot (ValidationError keyed by
    question id). With REQUIRE_COMPLETE every required question must be answered (a
    submission); without, blanks are kept (a draft). Each change is kept with who and when."""
    answer_set = AnswerSet.objects.select_for_update().get(pk=answer_set.pk)
    if expected_revision is not None and expected_revision != answer_set.revision:
        raise ValidationError(STALE_MESSAGE, code="stale")
    questions = {q.pk: q for q in answer_set.question_set.questions.all()}
    unknown = set(values) - set(questions)
    if unknown:
        raise ValidationError(_("この設問セットにない設問への回答があります。"), code="unknown")
    current = answer_values(answer_set)
    parsed: dict[int, Any] = {}
    errors: dict[str, list[ValidationError]] = {}
    for question_id, raw in values.items():
        try:
            parsed[question_id] = answer_values_.parse(questions[question_id], raw)
        except ValidationError as exc:
            errors[str(question_id)] = [ValidationError(m) for m in exc.messages]
    if require_complete:
        after = current | parsed
        for question in questions.values():
            if str(question.pk) not in errors and answer_values_.missing(
                question, after.get(question.pk)
            ):
                errors[str(question.pk)] = [
                    ValidationError(answer_values_.required_message(question), code="required")
                ]
    if errors:
        raise ValidationError(errors)
    user = by if by is not None and getattr(by, "is_authenticated", False) else None
    changed: list[int] = []
    for question_id, value in parsed.items():
        old = current.get(question_id)
        if old == value:
            continue
        Answer.objects.update_or_create(
            answer_set=answer_set, question_id=question_id, defaults={"value": value}
        )
        AnswerChange.objects.create(
            answer_set=answer_set,
            question_id=question_id,
            old_value=old,
            new_value=value,
            changed_by=user,
            actor_ref=actor_ref[:40],
            actor_name=answer_values_.clean_line(actor_name)[:200],
            via=via[:40],
        )
        changed.append(question_id)
    if changed:
        answer_set.revision += 1
        answer_set.save(update_fields=["revision", "updated_at"])
    return changed


def history(answer_set: AnswerSet) -> Any:
    return answer_set.changes.select_related("question").order_by("-changed_at", "-id")


@transaction.atomic
def forget_actor(actor_ref: str) -> int:
    """Erasure: the change history keeps what changed and when, but no longer who (the name and
    the account) for every change made by ACTOR_REF. Returns the changes touched."""
    if not actor_ref:
        return 0
    return AnswerChange.objects.filter(actor_ref=actor_ref).update(
        actor_name="", changed_by=None, actor_ref=""
    )


@transaction.atomic
def delete_answer_set(answer_set: AnswerSet) -> None:
    """The owner is gone for good (e.g. a test registration): its answers and history go too."""
    AnswerSet.objects.filter(pk=answer_set.pk).delete()
