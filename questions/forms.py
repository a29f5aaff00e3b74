"""A Django form built from a question set, worded for these forms (no 「このフィールドは必須です」,
no 「---------」). Each field parses through questions.values, the same rules as the Excel
reader; whether required questions must be answered is the caller's choice (require=True for a
submission, False for a draft).

    form = AnswerForm(question_set, data=request.POST or None, initial=values, require=True)
    if form.is_valid(): services.save_answers(answer_set, form.answers(), ...)

Templates render it with {% include "questions/_form.html" with form=form %}.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

from . import values
from .models import Question, QuestionSet

Kind = Question.Kind
BLANK_TABLE_ROWS = 3


class TableWidget(forms.Widget):
    """Rows of inputs, one per column; NAME-rows says how many rows were drawn."""

    template_name = "questions/widgets/table.html"

    def __init__(self, question: Question, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.question = question

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        rows = [list(row) for row in value] if isinstance(value, list) else []
        width = len(self.question.columns)
        rows = [(row + [""] * width)[:width] for row in rows if isinstance(row, list)]
        drawn = min(max(len(rows) + BLANK_TABLE_ROWS, 1), self.question.max_rows)
        drawn = max(drawn, len(rows))
        rows += [[""] * width for _i in range(drawn - len(rows))]
        context["widget"].update(
            {
                "columns": [
                    {
                        "label": column.get("label", ""),
                        "number": column.get("kind") == Question.ColumnKind.NUMBER,
                    }
                    for column in self.question.columns
                ],
                "rows": [
                    {
                        "number": r + 1,
                        "cells": [
                            {
                                "name": f"{name}-{r}-{c}",
                                "value": cell,
                                "label": self.question.columns[c].get("label", ""),
                                "number": self.question.columns[c].get("kind")
                                == Question.ColumnKind.NUMBER,
                            }
                            for c, cell in enumerate(row)
                        ],
                    }
                    for r, row in enumerate(rows)
                ],
                "count_name": f"{name}-rows",
                "count": len(rows),
                "max_rows": self.question.max_rows,
            }
        )
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        try:
            count = int(data.get(f"{name}-rows", 0))
        except (TypeError, ValueError):
            count = 0
        # Never read more rows than a form could draw: a forged count costs nothing.
        count = max(0, min(count, self.question.max_rows + BLANK_TABLE_ROWS))
        width = len(self.question.columns)
        return [[data.get(f"{name}-{r}-{c}", "") for c in range(width)] for r in range(count)]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-rows" not in data


class NumberInput(forms.TextInput):
    """Text, not type=number: people type 1,234 or full-width digits, which values accepts."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})


class AnswerField(forms.Field):
    """One question. Django's own required check is off (its wording is not ours); this field
    says what is missing itself when REQUIRE is set."""

    def __init__(self, question: Question, *, require: bool, **kwargs: Any) -> None:
        self.question = question
        self.require = require and question.required
        super().__init__(
            required=False,
            label=question.text,
            help_text=question.help_text,
            widget=self._widget(question),
            **kwargs,
        )

    @staticmethod
    def _widget(question: Question) -> forms.Widget:
        attrs: dict[str, Any] = {"aria-required": "true"} if question.required else {}
        kind = question.kind
        if kind == Kind.SHORT_TEXT:
            return forms.TextInput(attrs={**attrs, "maxlength": values.MAX_SHORT_TEXT})
        if kind == Kind.LONG_TEXT:
            return forms.Textarea(attrs={**attrs, "rows": 5, "maxlength": values.MAX_LONG_TEXT})
        if kind == Kind.NUMBER:
            return NumberInput(attrs)
        # Radio buttons and check boxes take no aria-required (their legend says 必須).
        if kind == Kind.SINGLE_CHOICE:
            return forms.RadioSelect(choices=[(c, c) for c in question.choices])
        if kind == Kind.MULTIPLE_CHOICE:
            return forms.CheckboxSelectMultiple(choices=[(c, c) for c in question.choices])
        if kind == Kind.YES_NO:
            return forms.RadioSelect(
                choices=[("yes", gettext_lazy("はい")), ("no", gettext_lazy("いいえ"))]
            )
        return TableWidget(question)

    def to_python(self, value: Any) -> Any:
        return values.parse(self.question, value)

    def validate(self, value: Any) -> None:
        if self.require and values.missing(self.question, value):
            raise ValidationError(values.required_message(self.question), code="required")

    def prepare_value(self, value: Any) -> Any:
        """Stored value → what the widget shows."""
        if self.question.kind == Kind.YES_NO and isinstance(value, bool):
            return "yes" if value else "no"
        if self.question.kind == Kind.NUMBER and value not in (None, ""):
            return str(value)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return values.parse(self.question, data) != initial
        except ValidationError:
            return True


class AnswerForm(forms.Form):
    """One field per question, named q<id>; `revision` guards against a lost update."""

    use_required_attribute = False  # the browser's own wording would replace ours
    revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self,
        question_set: QuestionSet,
        *args: Any,
        answers: dict[int, Any] | None = None,
        require: bool = False,
        revision: int | None = None,
        disabled: bool = False,
        **kwargs: Any,
    ) -> None:
        answers = answers or {}
        initial = {f"q{qid}": value for qid, value in answers.items()}
        if revision is not None:
            initial["revision"] = revision
        kwargs["initial"] = {**initial, **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.questions = list(question_set.questions.all())
        for question in self.questions:
            field = AnswerField(question, require=require, disabled=disabled)
            self.fields[f"q{question.pk}"] = field

    def answer_fields(self) -> list[forms.BoundField]:
        return [self[f"q{q.pk}"] for q in self.questions]

    def answers(self) -> dict[int, Any]:
        """The cleaned answers, {question id: stored value}."""
        return {q.pk: self.cleaned_data.get(f"q{q.pk}") for q in self.questions}

    def expected_revision(self) -> int | None:
        value = self.cleaned_data.get("revision")
        return int(value) if value is not None else None

    def apply_errors(self, exc: ValidationError) -> None:
        """Errors from services.save_answers (keyed by question id) onto their fields."""
        if hasattr(exc, "error_dict"):
            for key, errors in exc.error_dict.items():
                name = f"q{key}"
                for error in errors:
                    self.add_error(name if name in self.fields else None, error)
        else:
            self.add_error(None, exc)

    @property
    def error_summary(self) -> list[tuple[str, str, str]]:
        """(field id, question, message) for the list of problems at the top of the page."""
        summary = []
        for field in self.answer_fields():
            for error in field.errors:
                summary.append((str(field.auto_id), str(field.label or ""), str(error)))
        return summary
