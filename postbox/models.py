"""Mail to one person: one row per message, the unit of sending, retrying and showing what
failed. `postbox` sits beside `association` at the bottom and imports no other app; the person
a message is for is kept as a plain contact id (no foreign key), so that erasing a contact
finds their messages by id."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutgoingMailQuerySet(models.QuerySet["OutgoingMail"]):
    def due(self, now: dt.datetime | None = None) -> OutgoingMailQuerySet:
        now = now or timezone.now()
        return self.filter(status=OutgoingMail.Status.QUEUED).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )

    def failed_since(self, since: dt.datetime) -> OutgoingMailQuerySet:
        return self.filter(status=OutgoingMail.Status.FAILED, failed_at__gte=since)


class OutgoingMail(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("送信待ち")
        SENDING = "sending", _("送信処理中")
        SENT = "sent", _("送信済み")
        FAILED = "failed", _("送信失敗")
        CANCELLED = "cancelled", _("取りやめ")

    class Kind(models.TextChoices):
        LOGIN_CODE = "login_code", _("ログイン確認コード")
        ACCOUNT = "account", _("アカウントのお知らせ")
        WELCOME = "welcome", _("担当者変更のお知らせ")
        TRAINING_NOTICE = "training_notice", _("研修会のお知らせ")
        TRAINING_REMINDER = "training_reminder", _("研修会のリマインダー")
        TRAINING_MESSAGE = "training_message", _("研修会申込者への連絡")
        INQUIRY = "inquiry", _("照会・アンケート")
        INQUIRY_REMINDER = "inquiry_reminder", _("照会・アンケートの督促")
        SECRETARIAT_REPORT = "secretariat_report", _("事務局への報告")
        TEST_COPY = "test_copy", _("テスト送信")
        OTHER = "other", _("その他")

    # A message that carries a credential: its body is cleared once it is sent, failed,
    # cancelled or expired, so the code is not readable in the database afterwards.
    CREDENTIAL_KINDS: ClassVar[frozenset[str]] = frozenset({Kind.LOGIN_CODE})
    PENDING: ClassVar[tuple[str, ...]] = (Status.QUEUED, Status.SENDING)

    kind = models.CharField(_("種類"), max_length=24, choices=Kind.choices)
    to = models.CharField(_("宛先"), max_length=320)
    subject = models.CharField(_("件名"), max_length=500)
    text = models.TextField(_("本文（テキスト）"), blank=True)
    html = models.TextField(_("本文（HTML）"), blank=True)
    # [{"filename", "mimetype", "content" (base64)}], small files such as a training's .ics.
    attachments = models.JSONField(_("添付ファイル"), default=list, blank=True)
    headers = models.JSONField(_("追加ヘッダー"), default=dict, blank=True)
    reply_to = models.JSONField(_("返信先"), default=list, blank=True)
    contact_id = models.PositiveBigIntegerField(_("担当者ID"), null=True, blank=True, db_index=True)
    reference = models.CharField(_("参照"), max_length=200, blank=True, db_index=True)
    message_id = models.CharField(_("Message-ID"), max_length=200, blank=True)
    body_cleared = models.BooleanField(_("本文を消去済み"), default=False)

    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("送信試行回数"), default=0)
    next_attempt_at = models.DateTimeField(_("次回送信可能日時"), null=True, blank=True)
    expires_at = models.DateTimeField(_("送信期限"), null=True, blank=True)
    claim_token = models.CharField(_("処理ID"), max_length=32, blank=True)
    claimed_at = models.DateTimeField(_("処理開始日時"), null=True, blank=True)
    provider_message_id = models.CharField(_("配信業者のメッセージID"), max_length=200, blank=True)
    error = models.TextField(_("送信できなかった理由"), blank=True)
    error_detail = models.TextField(_("エラーの詳細"), blank=True)

    created_at = models.DateTimeField(_("作成日時"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    failed_at = models.DateTimeField(_("失敗日時"), null=True, blank=True)

    objects = OutgoingMailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("個別メール")
        verbose_name_plural = _("個別メール")
        indexes = [
            # The sender's "what is due" and the sweeper's "whose claim is stale".
            models.Index(fields=["status", "next_attempt_at"], name="postbox_due_idx"),
            models.Index(fields=["status", "claimed_at"], name="postbox_claimed_idx"),
            # The secretariat's list of what failed, newest first.
            models.Index(fields=["status", "failed_at"], name="postbox_failed_idx"),
        ]

    def __str__(self) -> str:
        # No subject or address: this shows in page titles and logs, for any viewer.
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_credential(self) -> bool:
        return self.kind in self.CREDENTIAL_KINDS

    @property
    def to_address(self) -> str:
        """The bare address of `to` (which may carry a display name)."""
        return email.utils.parseaddr(self.to)[1]


class FailedMail(OutgoingMail):
    """The secretariat's list of messages that could not be sent (送信できなかったメール)."""

    class Meta:
        proxy = True
        ordering = ["-failed_at", "-id"]
        verbose_name = _("送信できなかったメール")
        verbose_name_plural = _("送信できなかったメール")
