"""照会 (one answer per member municipality, by a deadline) and アンケート after a training.

An Inquiry owns a questions.QuestionSet; each answerer holds a questions.AnswerSet through a
Reply. For a 照会 a Reply is one member municipality's answer (the audience is fixed when the
照会 is sent, one Reply per member). For a training's survey a Reply is one attendee's answer;
in an anonymous survey it carries no link to the person at all: who has answered is kept
apart, on the attendee's Invitation, without a time or an order that could pair the two.

Every state change goes through inquiries.services.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from association.models import Contact, Member
from events.models import Registration, Training
from mailing.models import AudienceRule
from questions.models import AnswerSet, QuestionSet


def end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of DAY in the site's time zone: a deadline day is open all day."""
    start = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(start, timezone.get_current_timezone()) - dt.timedelta(
        microseconds=1
    )


class Inquiry(AudienceRule):
    """A 照会 to member municipalities, or a survey of a training's attendees.

    The audience of a 照会 is a mailing list's own rule (mailing.models.AudienceRule, read by
    mailing.audience.rule_members); a survey's is the training's attendees and ignores it."""

    class Kind(models.TextChoices):
        INQUIRY = "inquiry", _("照会")
        SURVEY = "survey", _("研修会アンケート")

    class Status(models.TextChoices):
        DRAFT = "draft", _("下書き")
        SCHEDULED = "scheduled", _("送信予約")
        OPEN = "open", _("回答受付中")

    kind = models.CharField(_("種類"), max_length=10, choices=Kind.choices, default=Kind.INQUIRY)
    title = models.CharField(_("件名"), max_length=200)
    purpose = models.CharField(
        _("目的"),
        max_length=300,
        blank=True,
        help_text=_("何のために伺うのか（例: 会員自治体の計画策定状況を総会資料にまとめるため）。"),
    )
    body = models.TextField(
        _("本文（Markdown）"),
        blank=True,
        help_text=_("依頼文。メールと回答ページに表示します。URL はそのまま書いてください。"),
    )
    question_set = models.OneToOneField(
        QuestionSet,
        on_delete=models.PROTECT,
        related_name="inquiry",
        verbose_name=_("設問セット"),
        editable=False,
    )

    # A survey's training and whether its answers are anonymous.
    training = models.ForeignKey(
        Training,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="surveys",
        verbose_name=_("研修会"),
    )
    anonymous = models.BooleanField(
        _("無記名"),
        default=False,
        help_text=_("回答と回答者を結び付けません（誰が回答済みかだけが分かります）。"),
    )
    required_for_certificate = models.BooleanField(_("参加証明書の前に回答を求める"), default=False)

    opens_at = models.DateTimeField(
        _("送信日時"), null=True, blank=True, help_text=_("空欄なら「送信」を押したとき。")
    )
    deadline = models.DateField(
        _("回答期限"),
        help_text=_("営業日（土日祝・12/29〜1/3を除く）。この日の終わりまで受け付けます。"),
    )
    reminder_days = models.JSONField(
        _("督促（期限の何営業日前）"),
        default=list,
        blank=True,
        help_text=_("例: [3, 1]。未提出の団体にだけ送ります。"),
    )
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    sent_at = models.DateTimeField(_("送信日時（実績）"), null=True, blank=True)

    published = models.BooleanField(_("集計結果を会員に公開"), default=False)
    publish_text = models.BooleanField(
        _("自由記述も公開する"), default=False, help_text=_("公開する集計に自由記述を含めます。")
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("作成者"),
        editable=False,
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    EDITABLE: ClassVar[tuple[str, ...]] = (Status.DRAFT, Status.SCHEDULED)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("照会・アンケート")
        verbose_name_plural = _("照会・アンケート")

    def __str__(self) -> str:
        return self.title

    @property
    def is_survey(self) -> bool:
        return self.kind == self.Kind.SURVEY

    @property
    def closes_at(self) -> dt.datetime:
        return end_of_day(self.deadline)

    def is_past_deadline(self, now: dt.datetime | None = None) -> bool:
        return (now or timezone.now()) > self.closes_at


class ReplyQuerySet(models.QuerySet["Reply"]):
    def submitted(self) -> ReplyQuerySet:
        return self.filter(status=Reply.Status.SUBMITTED)

    def unsubmitted(self) -> ReplyQuerySet:
        return self.exclude(status=Reply.Status.SUBMITTED)


class Reply(models.Model):
    """One answer: a member municipality's to a 照会, or one attendee's to a survey (for an
    anonymous survey, with no member and no person)."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", _("未着手")
        DRAFT = "draft", _("作成中")
        SUBMITTED = "submitted", _("提出済み")

    inquiry = models.ForeignKey(
        Inquiry, on_delete=models.CASCADE, related_name="replies", verbose_name=_("照会")
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inquiry_replies",
        verbose_name=_("会員団体"),
    )
    # A named survey's answerer; never set for a 照会 (the answer is the municipality's) nor
    # for an anonymous survey.
    contact = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="survey_replies",
        verbose_name=_("回答者"),
    )
    answer_set = models.OneToOneField(
        AnswerSet, on_delete=models.PROTECT, related_name="reply", verbose_name=_("回答")
    )
    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.NOT_STARTED
    )
    submitted_at = models.DateTimeField(_("提出日時"), null=True, blank=True)
    # After the deadline the secretariat may reopen one municipality's answer until this day.
    reopened_until = models.DateField(_("再開期限"), null=True, blank=True)
    announced_at = models.DateTimeField(_("依頼メール送信"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    objects = ReplyQuerySet.as_manager()

    class Meta:
        ordering = ["inquiry_id", "member_id", "id"]
        verbose_name = _("回答")
        verbose_name_plural = _("回答")
        constraints = [
            models.UniqueConstraint(
                fields=["inquiry", "member"],
                condition=Q(contact__isnull=True, member__isnull=False),
                name="reply_one_per_member",
            ),
            models.UniqueConstraint(
                fields=["inquiry", "contact"],
                condition=Q(contact__isnull=False),
                name="reply_one_per_contact",
            ),
        ]
        indexes = [models.Index(fields=["inquiry", "status"])]

    def __str__(self) -> str:
        return f"{self.inquiry} #{self.pk}"

    @property
    def is_submitted(self) -> bool:
        return self.status == self.Status.SUBMITTED

    def closes_at(self) -> dt.datetime:
        """Until when this answer may be changed by the answerer."""
        closes = self.inquiry.closes_at
        if self.reopened_until is not None:
            closes = max(closes, end_of_day(self.reopened_until))
        return closes

    def is_open(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.inquiry.status == Inquiry.Status.OPEN and now <= self.closes_at()


class Invitation(models.Model):
    """One attendee asked to answer a training's survey, and whether they have. For an
    anonymous survey this is the only place the person appears: no link to their Reply, no
    time of answering."""

    inquiry = models.ForeignKey(
        Inquiry, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("アンケート")
    )
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="+", verbose_name=_("申込み")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="+", verbose_name=_("参加者")
    )
    answered = models.BooleanField(_("回答済み"), default=False)
    announced = models.BooleanField(_("依頼メール送信済み"), default=False)

    class Meta:
        ordering = ["inquiry_id", "id"]
        verbose_name = _("アンケートの依頼先")
        verbose_name_plural = _("アンケートの依頼先")
        constraints = [
            models.UniqueConstraint(fields=["inquiry", "contact"], name="invitation_one_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.inquiry} / 参加者#{self.contact_id}"


class Reminder(models.Model):
    """A round of reminders: one per scheduled day (so beat sends each once) or per click."""

    inquiry = models.ForeignKey(
        Inquiry, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("照会")
    )
    # "d3" for the round 3 working days before the deadline; "manual:<timestamp>" for a click.
    key = models.CharField(_("区分"), max_length=40)
    recipients = models.PositiveIntegerField(_("送信数"), default=0)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("送信者"),
    )
    sent_at = models.DateTimeField(_("送信日時"), default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("督促")
        verbose_name_plural = _("督促")
        constraints = [
            models.UniqueConstraint(fields=["inquiry", "key"], name="reminder_once_per_round")
        ]

    def __str__(self) -> str:
        return f"{self.inquiry} {self.key}"
