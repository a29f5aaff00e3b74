"""Editing questions in the admin, on the question set's page or embedded in an owner's page.

An owner (a training, a 照会) holds `question_set` (a FK or OneToOne to QuestionSet) and creates
it in its own save service (questions.services.create_question_set()). Its admin embeds the
questions with:

    class InquiryQuestionInline(OwnedQuestionInline):
        owner_field = "question_set"          # the default

    class InquiryAdmin(admin.ModelAdmin):
        inlines = [InquiryQuestionInline]

The inline follows the owner's permissions (who may change the owner may change its
questions), and every save goes through questions.services, so a question's type never changes
once answers exist.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.checks import InlineModelAdminChecks
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet, inlineformset_factory
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .models import Question, QuestionSet

NUMBER_WORDS = ("数値", "数", "number", "num")


def columns_from_text(text: str) -> list[dict[str, str]]:
    """One column per line: 事業名 / 予算額（円）|数値."""
    columns = []
    for line in text.replace("\r\n", "\n").split("\n"):
        label, _sep, kind = line.partition("|")
        label = " ".join(label.split())
        if not label:
            continue
        number = kind.strip().lower() in NUMBER_WORDS
        columns.append(
            {
                "label": label,
                "kind": Question.ColumnKind.NUMBER if number else Question.ColumnKind.TEXT,
            }
        )
    return columns


def columns_to_text(columns: list[dict[str, str]]) -> str:
    return "\n".join(
        str(c.get("label", "")) + ("|数値" if c.get("kind") == Question.ColumnKind.NUMBER else "")
        for c in columns
    )


class QuestionForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=gettext_lazy("選択肢"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text=gettext_lazy("「選択肢から1つ」「選択肢から複数」のとき、1行に1つ。"),
    )
    columns_text = forms.CharField(
        label=gettext_lazy("表の列"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text=gettext_lazy(
            "「表」のとき、1行に1列。数値の列は「予算額（円）|数値」のように書きます。"
        ),
    )

    class Meta:
        model = Question
        fields = (
            "order",
            "text",
            "kind",
            "required",
            "help_text",
            "choices_text",
            "columns_text",
            "max_rows",
            "unit",
            "min_value",
            "max_value",
        )
        error_messages = {
            "text": {"required": gettext_lazy("設問を入力してください。")},
            "kind": {"required": gettext_lazy("回答の形式を選んでください。")},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        if isinstance(kind, forms.ChoiceField):
            # No 「---------」: a question always has a kind.
            kind.choices = Question.Kind.choices
            kind.initial = Question.Kind.SHORT_TEXT
        if self.instance.pk:
            self.initial["choices_text"] = "\n".join(self.instance.choices)
            self.initial["columns_text"] = columns_to_text(self.instance.columns)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["choices"] = services.clean_choices(
            (data.get("choices_text") or "").replace("\r\n", "\n").split("\n")
        )
        data["columns"] = columns_from_text(data.get("columns_text") or "")
        if data.get("kind") and not self.errors:
            try:
                services.check_question_change(
                    self.instance if self.instance.pk else None,
                    kind=data["kind"],
                    choices=data["choices"] if data["kind"] in Question.CHOICE_KINDS else [],
                    columns=data["columns"] if data["kind"] == Question.Kind.TABLE else [],
                    min_value=data.get("min_value"),
                    max_value=data.get("max_value"),
                    max_rows=data.get("max_rows") or 20,
                )
            except ValidationError as exc:
                for name, errors in exc.error_dict.items():
                    target = {"choices": "choices_text", "columns": "columns_text"}.get(name, name)
                    for error in errors:
                        self.add_error(target if target in self.fields else None, error)
        return data

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "order": data.get("order") or 0,
            "kind": data["kind"],
            "text": data["text"],
            "help_text": data.get("help_text") or "",
            "required": bool(data.get("required")),
            "choices": data["choices"],
            "columns": data["columns"],
            "max_rows": data.get("max_rows") or 20,
            "unit": data.get("unit") or "",
            "min_value": data.get("min_value"),
            "max_value": data.get("max_value"),
        }


class QuestionFormSet(BaseInlineFormSet):
    """Saves through questions.services (and refuses to delete an answered question)."""

    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            instance = form.instance
            if instance.pk and services.has_answers(instance):
                raise ValidationError(
                    _("「%(q)s」にはすでに回答があるため削除できません。") % {"q": instance.text}
                )

    def save_new(self, form: Any, commit: bool = True) -> Question:
        return services.save_question(self.instance, None, **form.service_fields())

    def save_existing(self, form: Any, obj: Question, commit: bool = True) -> Question:
        return services.save_question(self.instance, obj, **form.service_fields())

    def delete_existing(self, obj: Question, commit: bool = True) -> None:
        services.delete_question(obj)


class QuestionInline(admin.StackedInline):
    """The questions on a question set's own admin page."""

    model = Question
    form = QuestionForm
    formset = QuestionFormSet
    extra = 0
    fieldsets = (
        (None, {"fields": (("order", "kind", "required"), "text", "help_text")}),
        (None, {"fields": ("choices_text", "columns_text", ("max_rows", "unit"))}),
        (None, {"fields": (("min_value", "max_value"),)}),
    )


class OwnedQuestionFormSet(QuestionFormSet):
    """The questions of an owner's question set, in the owner's admin page: the admin hands
    the owner as INSTANCE; the formset works on the owner's question set instead."""

    owner_field = "question_set"

    def __init__(self, data: Any = None, files: Any = None, instance: Any = None, **kwargs: Any):
        self.owner = instance
        question_set = getattr(instance, self.owner_field, None) if instance is not None else None
        super().__init__(data, files, instance=question_set or QuestionSet(), **kwargs)

    def save(self, commit: bool = True) -> list[Question]:
        question_set = getattr(self.owner, self.owner_field, None)
        if question_set is None or question_set.pk is None:
            raise ValueError(
                f"{type(self.owner).__name__} must create its question set in its save service"
            )
        self.instance = question_set
        return super().save(commit)


class _OwnedInlineChecks(InlineModelAdminChecks):
    # The owner holds the question set; Question has no key to the owner, by design.
    def _check_relation(self, obj: Any, parent_model: Any) -> list[Any]:
        return []

    def _check_exclude_of_parent_model(self, obj: Any, parent_model: Any) -> list[Any]:
        return []


class OwnedQuestionInline(QuestionInline):
    """Questions of the owner's question set, embedded in the owner's admin (see the module)."""

    checks_class = _OwnedInlineChecks
    owner_field = "question_set"
    # An owner with rules of its own on its questions subclasses OwnedQuestionFormSet.
    owner_formset: type[OwnedQuestionFormSet] = OwnedQuestionFormSet
    verbose_name = gettext_lazy("設問")
    verbose_name_plural = gettext_lazy("設問")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        base = type(
            "OwnedQuestionFormSet", (self.owner_formset,), {"owner_field": self.owner_field}
        )
        fields: list[str] = [
            str(name)
            for fieldset in self.fieldsets or ()
            for line in fieldset[1]["fields"]
            for name in (line if isinstance(line, tuple) else (line,))
        ]
        return inlineformset_factory(
            QuestionSet,
            Question,
            form=self.form,
            formset=base,
            fields=fields,
            extra=self.get_extra(request, obj),
            can_delete=self.has_delete_permission(request, obj),
        )

    def _owner_perm(self, request: HttpRequest, action: str) -> bool:
        opts = self.parent_model._meta
        return request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._owner_perm(request, "view") or self._owner_perm(request, "change")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._owner_perm(request, "change" if obj is not None else "add")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)


@admin.register(QuestionSet)
class QuestionSetAdmin(admin.ModelAdmin):
    list_display = ("__str__", "question_count", "updated_at")
    search_fields = ("title", "questions__text")
    inlines = (QuestionInline,)
    fields = ("title",)

    def get_queryset(self, request: HttpRequest) -> Any:
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_questions=Count("questions"))

    @admin.display(description=gettext_lazy("設問数"))
    def question_count(self, obj: QuestionSet) -> int:
        return getattr(obj, "n_questions", 0)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # answers point at it; an owner decides when a set is no longer needed
