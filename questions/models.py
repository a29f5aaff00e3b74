"""Question sets, questions, answer sets and answers, with every change kept.

A reusable part: a registration form, a 照会 or a survey owns a QuestionSet and points each of
its answerers at an AnswerSet. This app imports none of the other apps; it knows users only
(settings.AUTH_USER_MODEL) and, for its change history, an opaque `actor_ref` the caller gives
(e.g. "contact:12"), so that a caller can later forget one person by that reference.

Answer values are stored as JSON in one canonical shape per kind (see Question.Kind); parsing
and checking them is questions.values' job, the one place that knows those shapes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class QuestionSet(models.Model):
    """The questions of one form (a training's registration form, a 照会, a survey)."""

    title = models.CharField(_("名前"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("設問セット")
        verbose_name_plural = _("設問セット")

    def __str__(self) -> str:
        return self.title or _("設問セット %(id)s") % {"id": self.pk}


class Question(models.Model):
    class Kind(models.TextChoices):
        # value stored: str
        SHORT_TEXT = "short_text", _("短い文章（1行）")
        # value stored: str (line breaks kept)
        LONG_TEXT = "long_text", _("長い文章（複数行）")
        # value stored: str holding a decimal number ("1234", "12.5")
        NUMBER = "number", _("数値")
        # value stored: str, one of the choices
        SINGLE_CHOICE = "single_choice", _("選択肢から1つ")
        # value stored: list[str], choices in their order
        MULTIPLE_CHOICE = "multiple_choice", _("選択肢から複数")
        # value stored: bool
        YES_NO = "yes_no", _("はい・いいえ")
        # value stored: list[list[str]], one inner list per row, one cell per column
        TABLE = "table", _("表（行を追加して記入）")

    class ColumnKind(models.TextChoices):
        TEXT = "text", _("文字")
        NUMBER = "number", _("数値")

    CHOICE_KINDS = (Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE)

    question_set = models.ForeignKey(
        QuestionSet,
        on_delete=models.CASCADE,
        related_name="questions",
        verbose_name=_("設問セット"),
    )
    order = models.PositiveSmallIntegerField(_("表示順"), default=0)
    kind = models.CharField(_("回答の形式"), max_length=20, choices=Kind.choices)
    text = models.CharField(_("設問"), max_length=300)
    help_text = models.CharField(_("補足説明"), max_length=500, blank=True)
    required = models.BooleanField(_("必須"), default=False)
    choices = models.JSONField(
        _("選択肢"),
        default=list,
        blank=True,
        help_text=_("選択肢の形式のみ。1行に1つ。"),
    )
    # A table's columns: [{"label": "事業名", "kind": "text"}, {"label": "予算額", "kind": "number"}]
    columns = models.JSONField(_("表の列"), default=list, blank=True)
    max_rows = models.PositiveSmallIntegerField(
        _("表の最大行数"), default=20, help_text=_("表の形式のみ。")
    )
    unit = models.CharField(
        _("単位"), max_length=20, blank=True, help_text=_("数値の形式のみ。例: 人、円、%")
    )
    min_value = models.DecimalField(
        _("最小値"), max_digits=15, decimal_places=4, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("最大値"), max_digits=15, decimal_places=4, null=True, blank=True
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        ordering = ["question_set_id", "order", "id"]
        verbose_name = _("設問")
        verbose_name_plural = _("設問")

    def __str__(self) -> str:
        return self.text

    @property
    def is_choice(self) -> bool:
        return self.kind in self.CHOICE_KINDS

    @property
    def column_labels(self) -> list[str]:
        return [str(column.get("label", "")) for column in self.columns]


class AnswerSet(models.Model):
    """One answerer's answers to a question set (a registration, a municipality's answer to a
    照会, one survey response). Who the answerer is, the owner knows."""

    question_set = models.ForeignKey(
        QuestionSet,
        on_delete=models.PROTECT,
        related_name="answer_sets",
        verbose_name=_("設問セット"),
    )
    # Raised by every save; a form carries the revision it was read at, so that two people
    # saving the same answers at once cannot overwrite each other unseen.
    revision = models.PositiveIntegerField(_("版"), default=0)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("回答")
        verbose_name_plural = _("回答")

    def __str__(self) -> str:
        return _("回答 %(id)s") % {"id": self.pk}


class Answer(models.Model):
    answer_set = models.ForeignKey(
        AnswerSet, on_delete=models.CASCADE, related_name="answers", verbose_name=_("回答")
    )
    question = models.ForeignKey(
        Question, on_delete=models.PROTECT, related_name="answers", verbose_name=_("設問")
    )
    value = models.JSONField(_("回答内容"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        ordering = ["answer_set_id", "question_id"]
        verbose_name = _("設問への回答")
        verbose_name_plural = _("設問への回答")
        constraints = [
            models.UniqueConstraint(
                fields=["answer_set", "question"], name="answer_one_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"{self.question}: {self.value}"


class AnswerChange(models.Model):
    """One change to one answer: before, after, who and when. `actor_name` is the person's
    name as shown in the history; questions.services.forget_actor() removes it (erasure)."""

    answer_set = models.ForeignKey(
        AnswerSet, on_delete=models.CASCADE, related_name="changes", verbose_name=_("回答")
    )
    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="+", verbose_name=_("設問")
    )
    old_value = models.JSONField(_("変更前"), null=True, blank=True)
    new_value = models.JSONField(_("変更後"), null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("変更したアカウント"),
    )
    actor_ref = models.CharField(_("変更者の識別子"), max_length=40, blank=True, db_index=True)
    actor_name = models.CharField(_("変更者"), max_length=200, blank=True)
    via = models.CharField(
        _("経路"), max_length=40, blank=True, help_text=_("例: ウェブ、Excel、事務局")
    )
    changed_at = models.DateTimeField(_("変更日時"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("回答の変更履歴")
        verbose_name_plural = _("回答の変更履歴")

    def __str__(self) -> str:
        return f"{self.changed_at:%Y-%m-%d %H:%M} {self.question}"
