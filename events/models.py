"""Trainings (全体研修会 / ブロック別研修会), their programme, registrations and the mail they owe."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from association.models import Block, Contact, Member, User
from association.nendo import nendo_label, wareki
from questions.models import AnswerSet, QuestionSet

from . import seats
from .workdays import working_days_before


class TrainingQuerySet(models.QuerySet["Training"]):
    def listed(self) -> TrainingQuerySet:
        """What the portal shows: published, closed for registration or called off (so that
        members see 中止 rather than a training that vanished), not over yet."""
        return self.filter(
            status__in=[
                Training.Status.PUBLISHED,
                Training.Status.CLOSED,
                Training.Status.CANCELLED,
            ],
            ends_at__gte=timezone.now(),
        )

    def for_member(self, member: Member) -> TrainingQuerySet:
        """National trainings, and block trainings that MEMBER's block (or anyone) may join or
        will be able to join; for a non-member (guest) municipality, only trainings open to
        non-members."""
        if member.status == Member.Status.GUEST:
            return self.filter(audience=Training.Audience.OPEN)
        # A block-first training is shown to other blocks before they may register, with the
        # day they may (受付前（M月D日から）), rather than appearing out of nowhere.
        return self.filter(
            Q(kind=Training.Kind.NATIONAL)
            | Q(block_id=member.block.pk)
            | Q(audience__in=[Training.Audience.EVERYONE, Training.Audience.OPEN])
            | Q(audience=Training.Audience.BLOCK_FIRST, others_from__isnull=False)
        )

    def with_counts(self) -> TrainingQuerySet:
        """Confirmed and waiting registrations per training, each an indexed count of that
        training's rows (training, status, …), worked out only for the trainings fetched: not
        a join of every registration grouped before paginating."""

        def counted(status: str) -> Coalesce:
            rows = (
                Registration.objects.filter(training=OuterRef("pk"), status=status)
                .order_by()
                .values("training")
                .annotate(n=Count("pk"))
                .values("n")
            )
            return Coalesce(Subquery(rows, output_field=models.IntegerField()), 0)

        return self.annotate(
            confirmed_count=counted(Registration.Status.CONFIRMED),
            waitlisted_count=counted(Registration.Status.WAITLISTED),
        )


class Training(models.Model):
    class Kind(models.TextChoices):
        NATIONAL = "national", _("全体研修会")
        BLOCK = "block", _("ブロック別研修会")

    class Audience(models.TextChoices):
        BLOCK = "block", _("ブロック内の会員のみ")
        BLOCK_FIRST = "block_first", _("ブロック内を優先し、指定日から他の会員も")
        EVERYONE = "everyone", _("すべての会員")
        OPEN = "open", _("すべての会員と非会員の市区町村")

    class Status(models.TextChoices):
        DRAFT = "draft", _("下書き")
        PUBLISHED = "published", _("受付中")
        CLOSED = "closed", _("受付終了")
        CANCELLED = "cancelled", _("中止")
        FINISHED = "finished", _("終了")

    kind = models.CharField(_("種別"), max_length=10, choices=Kind.choices)
    nendo = models.PositiveSmallIntegerField(
        _("年度"), help_text=_("西暦で入力します（令和8年度なら 2026）。")
    )
    title = models.CharField(_("研修会名"), max_length=200)
    description = models.TextField(_("内容"), blank=True)
    block = models.ForeignKey(
        Block,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="trainings",
        verbose_name=_("ブロック"),
        help_text=_("ブロック別研修会のみ。"),
    )
    audience = models.CharField(
        _("対象"), max_length=20, choices=Audience.choices, default=Audience.BLOCK
    )
    others_from = models.DateTimeField(
        _("他ブロックの受付開始"),
        null=True,
        blank=True,
        help_text=_("「ブロック内を優先」のとき、他ブロックの会員が申し込める日時。"),
    )
    starts_at = models.DateTimeField(_("開始日時"))
    ends_at = models.DateTimeField(_("終了日時"))
    venue_name = models.CharField(_("会場"), max_length=200, blank=True)
    venue_address = models.CharField(_("会場住所"), max_length=300, blank=True)
    online_url = models.URLField(
        _("オンライン参加URL"),
        max_length=500,
        blank=True,
        help_text=_("参加が確定した方にだけ表示・送信します。"),
    )
    capacity = models.PositiveIntegerField(_("定員"))
    # The questions the registration form asks (配慮事項, 所属長名…), made by save_training.
    question_set = models.OneToOneField(
        QuestionSet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="training",
        verbose_name=_("申込みの設問"),
    )
    per_member_limit = models.PositiveSmallIntegerField(
        _("1団体あたりの上限"), default=3, help_text=_("1つの会員団体から参加できる人数。")
    )
    opens_at = models.DateTimeField(_("受付開始"), null=True, blank=True)
    closes_at = models.DateTimeField(
        _("受付締切"),
        null=True,
        blank=True,
        help_text=_(
            "空欄なら開始日の「締切営業日数」前の営業日の終わり（土日祝・年末年始を除く）。"
        ),
    )
    close_working_days = models.PositiveSmallIntegerField(_("締切営業日数"), default=5)
    reminder_days = models.PositiveSmallIntegerField(
        _("リマインダー（日前）"), default=3, help_text=_("0 ならリマインダーを送りません。")
    )
    status = models.CharField(
        _("状態"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    # Grows with every change registrants are told of: the calendars' SEQUENCE (events/calendar.py).
    revision = models.PositiveIntegerField(_("改版"), default=0, editable=False)
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    objects = TrainingQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("研修会")
        verbose_name_plural = _("研修会")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="national") | Q(block__isnull=False),
                name="training_block_needs_block",
                violation_error_message=_("ブロック別研修会にはブロックを指定してください。"),
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("starts_at")),
                name="training_ends_after_start",
                violation_error_message=_("終了日時は開始日時より後にしてください。"),
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def nendo_label(self) -> str:
        return nendo_label(self.nendo)

    @property
    def registration_closes_at(self) -> dt.datetime:
        """The explicit deadline, or the end of the working day N working days before."""
        if self.closes_at is not None:
            return self.closes_at
        start_day = timezone.localtime(self.starts_at).date()
        last_day = working_days_before(start_day, self.close_working_days)
        return timezone.make_aware(dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time()))

    @property
    def last_registration_day(self) -> dt.date:
        """The last day one may register, as people read a deadline (…日まで)."""
        return timezone.localtime(self.registration_closes_at - dt.timedelta(seconds=1)).date()

    def is_open_at(self, moment: dt.datetime) -> bool:
        if self.status != self.Status.PUBLISHED:
            return False
        if self.opens_at is not None and moment < self.opens_at:
            return False
        return moment < self.registration_closes_at

    def is_over_at(self, moment: dt.datetime) -> bool:
        """Ended (or marked finished): registrations are now the record of who came."""
        return self.status == self.Status.FINISHED or self.ends_at <= moment

    def admits(self, member: Member, moment: dt.datetime) -> bool:
        """Whether MEMBER is in the audience at MOMENT."""
        if member.status == Member.Status.GUEST:
            return self.audience == self.Audience.OPEN
        if member.status != Member.Status.ACTIVE:
            return False
        if self.kind == self.Kind.NATIONAL or self.audience in (
            self.Audience.EVERYONE,
            self.Audience.OPEN,
        ):
            return True
        if member.block.pk == self.block_id:
            return True
        return (
            self.audience == self.Audience.BLOCK_FIRST
            and self.others_from is not None
            and moment >= self.others_from
        )

    @property
    def schedule_label(self) -> str:
        """令和8年6月12日（金）13:30〜16:30, or both dates when it spans days."""
        start, end = timezone.localtime(self.starts_at), timezone.localtime(self.ends_at)
        if start.date() == end.date():
            return f"{wareki(start)}{start:%H:%M}〜{end:%H:%M}"
        return f"{wareki(start)}{start:%H:%M} 〜 {wareki(end)}{end:%H:%M}"

    @property
    def has_venue(self) -> bool:
        return bool(self.venue_name or self.venue_address)


class TrainingSession(models.Model):
    """One time slot of a training's programme."""

    training = models.ForeignKey(
        Training, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("研修会")
    )
    starts_at = models.DateTimeField(_("開始"))
    ends_at = models.DateTimeField(_("終了"))
    title = models.CharField(_("内容"), max_length=200)
    speaker = models.CharField(_("講師"), max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("プログラム")
        verbose_name_plural = _("プログラム")

    def __str__(self) -> str:
        return self.title


class RegistrationQuerySet(models.QuerySet["Registration"]):
    def active(self) -> RegistrationQuerySet:
        return self.exclude(status=Registration.Status.CANCELLED)

    def confirmed(self) -> RegistrationQuerySet:
        return self.filter(status=Registration.Status.CONFIRMED)

    def waitlisted(self) -> RegistrationQuerySet:
        # The queue position is the order (arrival, unless the secretariat moved someone).
        return self.filter(status=Registration.Status.WAITLISTED).order_by("queue_position", "id")

    def with_people(self) -> RegistrationQuerySet:
        return self.select_related(
            "training",
            "contact",
            "member__local_government__prefecture__block",
            "member__block_override",
        )


class Registration(models.Model):
    """A contact's seat or waiting-list place at a training. At most one active row per person
    and training; a cancelled row stays as history and a new registration is a new row."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("参加確定")
        WAITLISTED = "waitlisted", _("キャンセル待ち")
        CANCELLED = "cancelled", _("取消")

    class Attendance(models.TextChoices):
        UNKNOWN = "", _("未確認")
        ATTENDED = "attended", _("出席")
        ABSENT = "absent", _("欠席")

    training = models.ForeignKey(
        Training, on_delete=models.CASCADE, related_name="registrations", verbose_name=_("研修会")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="registrations", verbose_name=_("参加者")
    )
    # The contact's member, kept here so the per-member limit is one indexed count.
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="registrations", verbose_name=_("会員団体")
    )
    status = models.CharField(_("状態"), max_length=20, choices=Status.choices)
    registered_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("申込者"),
    )
    created_at = models.DateTimeField(_("申込日時"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("確定日時"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消日時"), null=True, blank=True)
    substituted_from = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("差し替え前の参加者"),
    )
    reminder_sent_at = models.DateTimeField(_("リマインダー送信"), null=True, blank=True)
    attendance = models.CharField(
        _("出欠"), max_length=10, choices=Attendance.choices, default="", blank=True
    )
    # Grows with every substitution or cancellation: part of the calendars' SEQUENCE.
    sequence = models.PositiveIntegerField(_("改版"), default=0, editable=False)
    # This participant's answers to the training's questions (none when it asks none).
    answer_set = models.OneToOneField(
        AnswerSet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="registration",
        verbose_name=_("設問への回答"),
    )
    # The waiting list's order, given when the person is put on it (events/seats.py); signed,
    # since the secretariat may put someone ahead of the head. Meaningless once confirmed.
    queue_position = models.IntegerField(_("キャンセル待ちの順"), null=True, blank=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["training_id", "id"]
        verbose_name = _("申込み")
        verbose_name_plural = _("申込み")
        constraints = [
            models.UniqueConstraint(
                fields=["training", "contact"],
                condition=~Q(status="cancelled"),
                name="registration_one_active_per_contact",
            )
        ]
        indexes = [
            models.Index(fields=["training", "status", "member"]),
            # The admin's list (ordering): a page read in order, not every row sorted.
            models.Index(fields=["training", "id"], name="registration_listed"),
            # The next queue position (MAX under the lock) is one index lookup.
            models.Index(fields=["training", "queue_position"], name="registration_queue"),
        ]

    def __str__(self) -> str:
        # Names no one: a row's name shows in admin labels and logs, for any viewer.
        return f"{self.training} / {_('参加者')}#{self.contact_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED

    # Set by the registration that just took its place, when the database counted it there.
    known_place: int | None = None

    def waitlist_place(self) -> int | None:
        """1 for the head of the waiting list."""
        if self.status != self.Status.WAITLISTED:
            return None
        if self.known_place is not None:
            return self.known_place
        return seats.waitlist_place(self.training_id, self.pk)


class Notice(models.Model):
    """One mail owed to one registrant. The row is created in the same transaction as the act
    it reports; a worker renders it once and queues it on the postbox, which sends it."""

    class Kind(models.TextChoices):
        CONFIRMED = "confirmed", _("参加確定")
        WAITLISTED = "waitlisted", _("キャンセル待ち")
        PROMOTED = "promoted", _("繰り上げ")
        CANCELLED = "cancelled", _("取消")
        SUBSTITUTED = "substituted", _("差し替え")
        REMINDER = "reminder", _("リマインダー")
        CHANGED = "changed", _("変更のお知らせ")
        CALLED_OFF = "called_off", _("中止のお知らせ")
        MESSAGE = "message", _("事務局からの連絡")
        MOVED_TO_WAITING = "moved_to_waiting", _("キャンセル待ちへの移動")

    class Status(models.TextChoices):
        PENDING = "pending", _("作成待ち")
        SENT = "sent", _("メール作成済み")  # queued on the postbox, which sends it
        FAILED = "failed", _("作成できず")

    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="notices", verbose_name=_("申込み")
    )
    # The person the mail goes to (for a substitution, the one who lost or took the seat).
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="+", verbose_name=_("宛先")
    )
    kind = models.CharField(_("種類"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    subject = models.CharField(_("件名"), max_length=200, blank=True)
    body = models.TextField(_("本文"), blank=True)
    created_at = models.DateTimeField(_("作成日時"), default=timezone.now)
    sent_at = models.DateTimeField(_("メール作成日時"), null=True, blank=True)
    error = models.CharField(_("エラー"), max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("通知メール")
        verbose_name_plural = _("通知メール")
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {_('担当者')}#{self.contact_id}"


class CalendarFeed(models.Model):
    """A member's calendar feed of its staff's registrations, read by calendar apps at a
    secret URL (they cannot log in). A coordinator issues it and revokes it (a new URL
    replaces the old one, which answers 404 from then on)."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="calendar_feeds", verbose_name=_("会員団体")
    )
    token = models.CharField(_("URLの鍵"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("発行日時"), default=timezone.now)
    revoked_at = models.DateTimeField(_("無効化日時"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("カレンダー配信URL")
        verbose_name_plural = _("カレンダー配信URL")

    def __str__(self) -> str:
        return f"{_('カレンダー配信URL')}#{self.pk}"
