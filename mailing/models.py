"""Mailing lists, their audiences, bulletins and one delivery row per recipient.

The `Delivery` row is the truth about a recipient of a bulletin; the broker only wakes workers.
Every state change goes through mailing.services.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from association.models import Block, Contact, Member, Prefecture


class AudienceRule(models.Model):
    """Which member municipalities something reaches: a rule over the registry, evaluated
    live by mailing.audience.rule_members(). Active members that match ANY of the selectors
    (all members, blocks, prefectures, partner municipalities) AND, when set, one of the
    member kinds.

    A mailing list holds one, and so does a 照会 (inquiries.Inquiry), which asks members "by
    the same rules as mailing lists": one set of fields, one meaning, one function reading
    them. The reverse names are Django's default (block.mailinglist_set, block.inquiry_set),
    one per model that holds a rule."""

    all_members = models.BooleanField(_("全会員"), default=False)
    blocks = models.ManyToManyField(Block, blank=True, verbose_name=_("ブロック"))
    prefectures = models.ManyToManyField(Prefecture, blank=True, verbose_name=_("都道府県"))
    partners = models.BooleanField(
        _("連携自治体"), default=False, help_text=_("連携協定を結んだ自治体の会員。")
    )
    member_kinds = models.JSONField(
        _("会員種別"),
        default=list,
        blank=True,
        help_text=_("空なら全種別。値は association.Member.Kind。"),
    )

    class Meta:
        abstract = True


class MailingList(AudienceRule):
    """An announcement list. Its audience is its AudienceRule, narrowed when set to one of
    the contact roles, plus contacts added by hand, minus per-contact opt-outs, minus the
    global suppression list."""

    name = models.CharField(_("リスト名"), max_length=80, unique=True)
    slug = models.SlugField(
        _("リストID"),
        max_length=60,
        unique=True,
        help_text=_("List-Id ヘッダーと配信停止アドレスに使う英数字の識別子。"),
    )
    description = models.TextField(
        _("説明"),
        blank=True,
        help_text=_("各メールの末尾に「このメールを受け取っている理由」として表示します。"),
    )
    subject_prefix = models.CharField(
        _("件名の接頭辞"), max_length=40, blank=True, default="【市区町村会】"
    )
    reply_to = models.EmailField(_("返信先"), blank=True)
    send_html = models.BooleanField(
        _("HTML版も送る"), default=True, help_text=_("テキスト版は常に送ります。")
    )
    is_active = models.BooleanField(_("有効"), default=True)
    allow_self_subscribe = models.BooleanField(
        _("担当者が自分で登録できる"),
        default=False,
        help_text=_("対象外の担当者もポータルから購読できるようにします。"),
    )

    # Only a list narrows to roles: a 照会 picks each member's people itself.
    contact_roles = models.JSONField(
        _("担当者の役割"),
        default=list,
        blank=True,
        help_text=_("空なら全員。値は association.Contact.Role。"),
    )

    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("メーリングリスト")
        verbose_name_plural = _("メーリングリスト")

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """A contact's own relation to one list, where it differs from the rule: added by hand, or
    opted out. Tied to the contact, not to the rule, so an opt-out survives any rule change."""

    class Status(models.TextChoices):
        ADDED = "added", _("手動登録")
        OPTED_OUT = "opted_out", _("配信停止")

    class Source(models.TextChoices):
        SECRETARIAT = "secretariat", _("事務局")
        PORTAL = "portal", _("ポータル")
        LINK = "link", _("配信停止リンク")
        ONE_CLICK = "one_click", _("ワンクリック配信停止")
        MAILTO = "mailto", _("配信停止メール")
        BOUNCE = "bounce", _("エラー・苦情")
        HANDOVER = "handover", _("担当者変更")

    mailing_list = models.ForeignKey(
        MailingList,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("メーリングリスト"),
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("担当者"),
    )
    status = models.CharField(_("状態"), max_length=12, choices=Status.choices)
    source = models.CharField(_("経路"), max_length=12, choices=Source.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作者"),
    )
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    class Meta:
        ordering = ["mailing_list_id", "contact_id"]
        verbose_name = _("購読設定")
        verbose_name_plural = _("購読設定")
        constraints = [
            models.UniqueConstraint(
                fields=["mailing_list", "contact"], name="subscription_unique_per_contact"
            )
        ]

    def __str__(self) -> str:
        # Names no one: a row's name shows in admin labels and logs, for any viewer.
        return f"{self.mailing_list} / 担当者#{self.contact_id}: {self.get_status_display()}"


class SuppressionQuerySet(models.QuerySet["Suppression"]):
    def matching(self, email: Any, email_hash: Any) -> SuppressionQuerySet:
        """The one suppression rule: a row names the address, or holds its keyed hash (the
        address of an erased person). EMAIL and EMAIL_HASH may be OuterRef()s."""
        return self.filter(Q(email=email, email__gt="") | Q(email_hash=email_hash))

    def unmatched(self, contacts: models.QuerySet[Any]) -> models.QuerySet[Any]:
        """CONTACTS less those the rule above matches, written as one NOT EXISTS per half of
        the rule, so that PostgreSQL anti-joins each half once instead of probing both indexes
        per contact (audience counts over 100,000 contacts)."""
        from django.db.models import Exists, OuterRef

        by_address = self.filter(email=OuterRef("email"), email__gt="")
        by_hash = self.filter(email_hash=OuterRef("email_hash"))
        return contacts.exclude(Exists(by_address)).exclude(Exists(by_hash))


class Suppression(models.Model):
    """An address that receives no bulletin at all, whatever the lists say.

    Kept under the address's keyed hash (association.privacy.address_hash): when the person is
    erased, the address itself is blanked and the hash alone keeps it unmailed. Every check
    (the audience snapshot, a test send) matches the address or its hash."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("宛先不明（ハードバウンス）")
        COMPLAINT = "complaint", _("迷惑メール報告")
        MANUAL = "manual", _("事務局による停止")

    email = models.EmailField(
        _("メールアドレス"),
        max_length=254,
        blank=True,
        help_text=_("個人情報を削除した方のアドレスは空欄になり、ハッシュだけが残ります。"),
    )
    email_hash = models.CharField(
        _("アドレスのハッシュ"), max_length=64, unique=True, editable=False
    )
    reason = models.CharField(_("理由"), max_length=12, choices=Reason.choices)
    note = models.CharField(_("メモ"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("登録者"),
    )
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("配信停止アドレス")
        verbose_name_plural = _("配信停止アドレス")
        indexes = [
            # The suppression rule matches the address or its hash: both probes are indexed,
            # so checking 100,000 contacts never scans the list once per contact.
            models.Index(fields=["email"], name="suppression_email"),
            models.Index(fields=["created_at", "id"], name="suppression_listed"),
        ]

    def __str__(self) -> str:
        return f"{_('配信停止アドレス')}#{self.pk} ({self.get_reason_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.email:
            from association.privacy import address_hash

            self.email_hash = address_hash(self.email)
        super().save(*args, **kwargs)


class BulletinQuerySet(models.QuerySet["Bulletin"]):
    def due(self, now: object) -> BulletinQuerySet:
        return self.filter(status=Bulletin.Status.SCHEDULED, scheduled_at__lte=now)

    def sent(self) -> BulletinQuerySet:
        return self.filter(status=Bulletin.Status.SENT)


class Bulletin(models.Model):
    """One announcement to one list. Editable while a draft or scheduled; what was sent is
    frozen in the sent_* fields when sending starts (the archive shows those)."""

    class TestState(models.TextChoices):
        SENDING = "sending", _("送信中")
        SENT = "sent", _("配信業者が受け付けました")
        FAILED = "failed", _("送れませんでした")

    class Status(models.TextChoices):
        DRAFT = "draft", _("下書き")
        SCHEDULED = "scheduled", _("予約済み")
        SENDING = "sending", _("送信中")
        # Asked to pause; becomes PAUSED once no worker holds any of its deliveries.
        PAUSING = "pausing", _("一時停止しています")
        PAUSED = "paused", _("一時停止中")
        # Stopped by itself: its first deliveries all failed for the same reason.
        FAILED = "failed", _("エラーで停止")
        SENT = "sent", _("送信済み")
        CANCELLED = "cancelled", _("中止")

    EDITABLE: ClassVar[tuple[str, ...]] = (Status.DRAFT, Status.SCHEDULED)
    # Started but held: nothing is sent until 再開 (or 失敗した宛先に再送 for FAILED).
    HELD: ClassVar[tuple[str, ...]] = (Status.PAUSING, Status.PAUSED, Status.FAILED)

    mailing_list = models.ForeignKey(
        MailingList,
        on_delete=models.PROTECT,
        related_name="bulletins",
        verbose_name=_("メーリングリスト"),
    )
    subject = models.CharField(_("件名"), max_length=200)
    body = models.TextField(
        _("本文（Markdown）"),
        blank=True,
        help_text=_("使える差し込み項目: {{ 団体名 }} {{ 氏名 }} {{ 所属 }} {{ 宛名 }} ほか。"),
    )
    reply_to = models.EmailField(_("返信先"), blank=True)
    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    scheduled_at = models.DateTimeField(_("送信予定日時"), null=True, blank=True)
    started_at = models.DateTimeField(_("送信開始日時"), null=True, blank=True)
    finished_at = models.DateTimeField(_("送信完了日時"), null=True, blank=True)
    snapshot_at = models.DateTimeField(
        _("宛先確定日時"), null=True, blank=True, help_text=_("宛先を Delivery に展開した日時。")
    )
    last_activity_at = models.DateTimeField(
        _("最終送信処理日時"),
        null=True,
        blank=True,
        help_text=_("送信処理が最後に動いた日時。止まった送信の再開に使います。"),
    )
    failure_reason = models.TextField(
        _("停止の理由"),
        blank=True,
        help_text=_("最初の宛先がすべて同じ理由で送れず、自動で停止したときの理由。"),
    )
    # The last test send (its result is shown on the compose page; the address is not kept).
    test_state = models.CharField(
        _("テスト送信の状態"), max_length=12, choices=TestState.choices, blank=True
    )
    test_result = models.TextField(_("テスト送信の結果"), blank=True)
    test_requested_at = models.DateTimeField(_("テスト送信の依頼日時"), null=True, blank=True)
    # Frozen at start: exactly what was sent, for the archive (placeholders as addressed to 各位).
    sent_subject = models.CharField(_("送信件名"), max_length=260, blank=True)
    sent_text = models.TextField(_("送信本文（テキスト）"), blank=True)
    sent_html = models.TextField(_("送信本文（HTML）"), blank=True)
    # Sent to the people named in its Addressee rows instead of the list's audience (a 照会's
    # request to each member's coordinators). Fixed at creation, with the rows, so that a
    # snapshot can never fall back to the whole list.
    addressed = models.BooleanField(_("宛先を個別に指定"), default=False, editable=False)
    # The sent subject and text folded by association.search's one rule: what the archive's
    # search matches a folded query against (trigram-indexed on PostgreSQL). Set with sent_*.
    search_text = models.TextField(_("検索用"), blank=True, default="", editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("作成者"),
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    objects = BulletinQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("配信")
        verbose_name_plural = _("配信")
        indexes = [models.Index(fields=["status", "scheduled_at"])]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    def folded(self) -> str:
        """This bulletin's search_text: its sent subject and text, folded."""
        from association.search import search_text

        return search_text(self.sent_subject, self.sent_text)


class Addressee(models.Model):
    """A person an addressed bulletin goes to, and the member they were addressed for: the
    archive shows the bulletin to that member's staff only."""

    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.CASCADE, related_name="addressees", verbose_name=_("配信")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="+", verbose_name=_("担当者")
    )
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="+", verbose_name=_("会員団体")
    )

    class Meta:
        ordering = ["bulletin_id", "id"]
        verbose_name = _("個別の宛先")
        verbose_name_plural = _("個別の宛先")
        constraints = [
            models.UniqueConstraint(
                fields=["bulletin", "contact"], name="addressee_once_per_bulletin"
            )
        ]
        indexes = [models.Index(fields=["member", "bulletin"], name="addressee_member")]

    def __str__(self) -> str:
        return f"{self.bulletin} / 担当者#{self.contact_id}"


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def pending(self) -> DeliveryQuerySet:
        return self.filter(status__in=Delivery.PENDING)


class Delivery(models.Model):
    """One recipient of one bulletin: the unit of sending, retrying and tracking."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("送信待ち")
        SENDING = "sending", _("送信処理中")
        SENT = "sent", _("送信済み")
        DELIVERED = "delivered", _("配達済み")
        BOUNCED = "bounced", _("エラー（不達）")
        COMPLAINED = "complained", _("迷惑メール報告")
        FAILED = "failed", _("送信失敗")
        SKIPPED = "skipped", _("対象外")
        CANCELLED = "cancelled", _("中止")

    class SkipReason(models.TextChoices):
        SUPPRESSED = "suppressed", _("配信停止アドレス")
        OPTED_OUT = "opted_out", _("本人が配信停止")

    PENDING: ClassVar[tuple[str, ...]] = (Status.QUEUED, Status.SENDING)
    # Provider events move a row forward only, along this order.
    RANK: ClassVar[dict[str, int]] = {
        Status.QUEUED: 0,
        Status.SENDING: 1,
        Status.SENT: 2,
        # A provider that accepted a message may still reject it later.
        Status.FAILED: 3,
        Status.DELIVERED: 4,
        Status.BOUNCED: 5,
        Status.COMPLAINED: 6,
    }

    bulletin = models.ForeignKey(
        Bulletin,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("配信"),
        db_index=False,  # delivery_listed below starts with it
    )
    email = models.EmailField(_("宛先"), max_length=254, help_text=_("正規化したアドレス。"))
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("担当者"),
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
        verbose_name=_("会員団体"),
    )
    # Merge data as of the snapshot, so a send never needs a join.
    recipient_name = models.CharField(_("氏名"), max_length=60, blank=True)
    organisation = models.CharField(_("団体名"), max_length=80, blank=True)
    department = models.CharField(_("所属"), max_length=120, blank=True)

    status = models.CharField(
        _("状態"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    skip_reason = models.CharField(
        _("対象外の理由"), max_length=12, choices=SkipReason.choices, blank=True
    )
    attempts = models.PositiveSmallIntegerField(_("送信試行回数"), default=0)
    next_attempt_at = models.DateTimeField(_("次回送信可能日時"), null=True, blank=True)
    claim_token = models.CharField(_("処理ID"), max_length=32, blank=True)
    claimed_at = models.DateTimeField(_("処理開始日時"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=200, blank=True)
    provider_message_id = models.CharField(
        _("配信業者のメッセージID"), max_length=200, blank=True, db_index=True
    )
    error = models.TextField(_("エラー内容"), blank=True)
    soft_bounces = models.PositiveSmallIntegerField(_("一時的エラー回数"), default=0)
    sent_at = models.DateTimeField(_("送信日時"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["bulletin_id", "id"]
        verbose_name = _("配信先")
        verbose_name_plural = _("配信先")
        constraints = [
            models.UniqueConstraint(
                fields=["bulletin", "email"], name="delivery_unique_address_per_bulletin"
            )
        ]
        indexes = [
            # Ends with id so that a claim (ORDER BY id LIMIT n) walks the index and stops,
            # instead of sorting every queued row of a 100,000-recipient bulletin each time.
            models.Index(fields=["bulletin", "status", "id"], name="delivery_claim_order"),
            # The admin's list (ordering): a bulletin's deliveries in order, read a page at a
            # time; it replaces the foreign key's own index on bulletin.
            models.Index(fields=["bulletin", "id"], name="delivery_listed"),
            # Opt-outs and suppressions skip the address's queued rows at once.
            models.Index(fields=["email", "status"], name="delivery_email_status"),
            models.Index(
                fields=["status", "claimed_at"],
                name="delivery_claimed",
                condition=Q(status="sending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{_('配信先')}#{self.pk} ({self.get_status_display()})"


class DeliveryTallyQuerySet(models.QuerySet["DeliveryTally"]):
    def counts(self, bulletin_id: int) -> dict[str, int]:
        """How many of the bulletin's deliveries are in each status: the sum of its tally rows
        (an index range of a few rows per statement that changed deliveries), folded into one
        row per status when they pile up."""
        rows = list(self.filter(bulletin_id=bulletin_id).values_list("status", "n"))
        counts: dict[str, int] = {}
        for status, n in rows:
            counts[status] = counts.get(status, 0) + n
        if len(rows) > DeliveryTally.FOLD_AFTER:
            self.fold(bulletin_id)
        return {status: n for status, n in counts.items() if n}

    def fold(self, bulletin_id: int) -> None:
        """Replace the bulletin's rows by one per status. DELETE … RETURNING hands each row to
        exactly one of two folds running at once, and each writes back the sum of what it took,
        so the totals hold; rows added meanwhile are left for the next fold."""
        from django.db import connection, transaction

        table = DeliveryTally._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE bulletin_id = %s RETURNING status, n",
                [bulletin_id],
            )
            sums: dict[str, int] = {}
            for status, n in cursor.fetchall():
                sums[status] = sums.get(status, 0) + n
            DeliveryTally.objects.bulk_create(
                [
                    DeliveryTally(bulletin_id=bulletin_id, status=status, n=n)
                    for status, n in sums.items()
                    if n
                ]
            )


def tallied_deliveries(statuses: Iterable[str]) -> Coalesce:
    """For annotating bulletins: how many of each one's deliveries are in STATUSES, summed from
    its DeliveryTally rows (a few per bulletin), not counted over its deliveries."""
    rows = (
        DeliveryTally.objects.filter(bulletin_id=OuterRef("pk"), status__in=list(statuses))
        .order_by()
        .values("bulletin_id")
        .annotate(total=Sum("n"))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=models.BigIntegerField()), 0)


class DeliveryTally(models.Model):
    """Counts of a bulletin's deliveries per status, kept by the database itself: triggers on
    the delivery table (migration 0006) append (bulletin, status, +n / -n) on every insert,
    status change and delete, whichever code ran the statement. The sending pipeline's
    statements stay as they are and never wait on a shared counter row (rows are only ever
    appended); a progress poll reads a handful of rows instead of counting 100,000."""

    FOLD_AFTER: ClassVar[int] = 64

    # A plain number, not a foreign key: the delete trigger writes while Django deletes a
    # bulletin and its deliveries, and a row for a bulletin just deleted must not fail.
    bulletin_id = models.BigIntegerField(_("配信ID"))
    status = models.CharField(_("状態"), max_length=12)
    n = models.BigIntegerField(_("件数"))

    objects = DeliveryTallyQuerySet.as_manager()

    class Meta:
        verbose_name = _("配信先の集計")
        verbose_name_plural = _("配信先の集計")
        indexes = [models.Index(fields=["bulletin_id", "status"], name="delivery_tally_bulletin")]

    def __str__(self) -> str:
        return f"{_('配信')}#{self.bulletin_id} {self.status} {self.n:+d}"


class Sender(models.Model):
    """One running send task of a bulletin: its deliveries are claimed under its token, and a
    thread of the task beats here every second while it runs. Claims whose sender stopped
    beating (killed, its machine gone) are released by the sweeper within seconds."""

    token = models.CharField(_("処理ID"), max_length=32, unique=True)
    bulletin = models.ForeignKey(
        Bulletin, on_delete=models.CASCADE, related_name="senders", verbose_name=_("配信")
    )
    worker = models.CharField(_("ワーカー"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("開始日時"), auto_now_add=True)
    beat_at = models.DateTimeField(_("最終応答日時"), db_index=True)

    class Meta:
        ordering = ["bulletin_id", "id"]
        verbose_name = _("送信処理")
        verbose_name_plural = _("送信処理")

    def __str__(self) -> str:
        return f"{_('送信処理')}#{self.pk} ({self.worker})"


class ProviderEvent(models.Model):
    """One event reported by the mail provider (delivered, bounced, complained…), stored once
    per provider event id, recipient and type, so that a replayed webhook changes nothing while
    one notification about two recipients (Amazon SES gives both the same id) records both."""

    provider = models.CharField(_("配信業者"), max_length=40)
    event_id = models.CharField(_("イベントID"), max_length=200)
    event_type = models.CharField(_("種類"), max_length=40)
    message_id = models.CharField(_("メッセージID"), max_length=200, blank=True)
    recipient = models.EmailField(_("宛先"), max_length=254, blank=True)
    delivery = models.ForeignKey(
        Delivery,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("配信先"),
    )
    reject_reason = models.CharField(_("理由"), max_length=40, blank=True)
    description = models.TextField(_("説明"), blank=True)
    occurred_at = models.DateTimeField(_("発生日時"), null=True, blank=True)
    received_at = models.DateTimeField(_("受信日時"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("配信イベント")
        verbose_name_plural = _("配信イベント")
        indexes = [models.Index(fields=["received_at", "id"], name="provider_event_listed")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id", "recipient", "event_type"],
                name="provider_event_stored_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} #{self.pk}"


def _document_path(instance: Document, filename: str) -> str:
    return f"documents/{instance.token}/{filename}"


def _new_token() -> str:
    import secrets

    return secrets.token_urlsafe(12)


class Document(models.Model):
    """A file published on the site for bulletins to link to. LGWAN strips attachments, so
    bulletins never carry files: the body prints the document's full URL on its own line. The
    URL holds a random token, so only those who were sent it can find it."""

    title = models.CharField(_("表題"), max_length=200)
    file = models.FileField(_("ファイル"), upload_to=_document_path, max_length=300)
    token = models.CharField(
        _("公開用トークン"), max_length=32, unique=True, default=_new_token, editable=False
    )
    size = models.PositiveIntegerField(_("サイズ（バイト）"), default=0, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("登録者"),
        editable=False,
    )
    uploaded_at = models.DateTimeField(_("登録日時"), auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("公開資料")
        verbose_name_plural = _("公開資料")

    def __str__(self) -> str:
        return self.title

    @property
    def filename(self) -> str:
        return (self.file.name or "").rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        return f"{settings.SITE_URL}/mail/files/{self.token}/{self.filename}"


def _new_link_token() -> str:
    import secrets

    # 16 random bytes = 128 bits, 22 characters of URL-safe base64.
    return secrets.token_urlsafe(16)


class ListLink(models.Model):
    """One address's own link to one list, printed in every bulletin of that list to it:
    https://<site>/u/<token>, short enough to type from a PC whose mail has links disabled.
    The token is random (128 bits), not derived from the address, and leads to the unsubscribe
    page of that list for that address (and from there to the preference page)."""

    mailing_list = models.ForeignKey(
        MailingList,
        on_delete=models.CASCADE,
        related_name="links",
        verbose_name=_("メーリングリスト"),
    )
    email = models.EmailField(_("宛先"), max_length=254, help_text=_("正規化したアドレス。"))
    token = models.CharField(
        _("トークン"), max_length=32, unique=True, default=_new_link_token, editable=False
    )
    created_at = models.DateTimeField(_("作成日時"), auto_now_add=True)

    class Meta:
        ordering = ["mailing_list_id", "email"]
        verbose_name = _("配信停止リンク")
        verbose_name_plural = _("配信停止リンク")
        constraints = [
            models.UniqueConstraint(
                fields=["mailing_list", "email"], name="list_link_unique_per_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.mailing_list} / {_('配信停止リンク')}#{self.pk}"
