"""The member registry: blocks, prefectures, local governments, members, agreements, contacts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class User(AbstractUser):
    """A secretariat account (staff, password) or a municipality staff account (login by code)."""

    class Meta:
        verbose_name = _("ユーザー")
        verbose_name_plural = _("ユーザー")


class Block(models.Model):
    name = models.CharField(_("ブロック名"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(_("表示順"), default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("ブロック")
        verbose_name_plural = _("ブロック")

    def __str__(self) -> str:
        return self.name


class Prefecture(models.Model):
    code = models.CharField(_("都道府県コード"), max_length=2, primary_key=True)
    name = models.CharField(_("都道府県名"), max_length=10, unique=True)
    kana = models.CharField(_("ふりがな"), max_length=40, blank=True)
    block = models.ForeignKey(
        Block, on_delete=models.PROTECT, related_name="prefectures", verbose_name=_("ブロック")
    )
    # Folded name, kana and code (association.search), kept by save().
    search_text = models.TextField(_("検索用"), blank=True, default="", editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("都道府県")
        verbose_name_plural = _("都道府県")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        _keep(self, kwargs, search_text=self.folded())
        super().save(*args, **kwargs)

    def folded(self) -> str:
        from .search import search_text

        return search_text(self.name, self.kana, self.code)


class LocalGovernmentQuerySet(models.QuerySet["LocalGovernment"]):
    def current(self) -> LocalGovernmentQuerySet:
        return self.filter(retired_on__isnull=True)

    def municipalities(self) -> LocalGovernmentQuerySet:
        return self.exclude(kind=LocalGovernment.Kind.PREFECTURE)


class LocalGovernment(models.Model):
    """One of the 1,788 local governments (地方公共団体), from 総務省's code list."""

    class Kind(models.TextChoices):
        PREFECTURE = "prefecture", _("都道府県")
        CITY = "city", _("市")
        SPECIAL_WARD = "ward", _("特別区")
        TOWN = "town", _("町")
        VILLAGE = "village", _("村")

    code = models.CharField(_("団体コード"), max_length=6, primary_key=True)
    prefecture = models.ForeignKey(
        Prefecture,
        on_delete=models.PROTECT,
        related_name="local_governments",
        verbose_name=_("都道府県"),
    )
    name = models.CharField(_("団体名"), max_length=40)
    kana = models.CharField(_("ふりがな"), max_length=80, blank=True)
    kind = models.CharField(_("種別"), max_length=10, choices=Kind.choices)
    retired_on = models.DateField(
        _("廃止日"), null=True, blank=True, help_text=_("最新のコード表から消えた日。")
    )
    # Folded full name (with its prefecture), kana and code (association.search); kept by
    # save() and by services.load_local_governments() for rows it creates in bulk.
    search_text = models.TextField(_("検索用"), blank=True, default="", editable=False)

    objects = LocalGovernmentQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("地方公共団体")
        verbose_name_plural = _("地方公共団体")

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if fields is None or not {"name", "kana", "kind", "prefecture"}.isdisjoint(fields):
            _keep(self, kwargs, search_text=self.folded())
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        """東京都江戸川区; a prefecture is its own name."""
        if self.kind == self.Kind.PREFECTURE:
            return self.name
        return f"{self.prefecture.name}{self.name}"

    def folded(self, prefecture_name: str | None = None) -> str:
        """This government's search_text. PREFECTURE_NAME spares a query when it is known."""
        from .search import search_text

        if prefecture_name is None:
            prefecture_name = self.prefecture.name
        full = self.name if self.kind == self.Kind.PREFECTURE else f"{prefecture_name}{self.name}"
        return search_text(full, self.kana, self.code)


class MemberQuerySet(models.QuerySet["Member"]):
    def active(self) -> MemberQuerySet:
        return self.filter(status=Member.Status.ACTIVE)

    def with_registry(self) -> MemberQuerySet:
        return self.select_related("local_government__prefecture__block", "block_override")

    def in_block(self, block: Block | int) -> MemberQuerySet:
        block_id = block if isinstance(block, int) else block.pk
        return self.filter(
            Q(block_override_id=block_id)
            | Q(block_override__isnull=True, local_government__prefecture__block_id=block_id)
        )


class Member(models.Model):
    """A local government's membership of the association."""

    class Kind(models.TextChoices):
        MEMBER = "member", _("会員")
        SPECIAL = "special", _("特別会員")

    class Status(models.TextChoices):
        ACTIVE = "active", _("在籍")
        LEFT = "left", _("退会")
        # A non-member municipality whose staff may join trainings open to non-members; it
        # receives no bulletins and is not counted as a member.
        GUEST = "guest", _("非会員（研修参加）")

    local_government = models.OneToOneField(
        LocalGovernment,
        on_delete=models.PROTECT,
        related_name="member",
        verbose_name=_("地方公共団体"),
    )
    kind = models.CharField(_("会員種別"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("状態"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    joined_on = models.DateField(_("入会日"))
    left_on = models.DateField(_("退会日"), null=True, blank=True)
    block_override = models.ForeignKey(
        Block,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ブロック（個別指定）"),
        help_text=_("空欄なら都道府県のブロックに属します。"),
    )
    notes = models.TextField(_("備考"), blank=True)
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    # Whose staff may log in to the portal.
    PORTAL_STATUSES = (Status.ACTIVE, Status.GUEST)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["local_government_id"]
        verbose_name = _("会員団体")
        verbose_name_plural = _("会員団体")
        permissions = [
            ("view_portal_as_member", _("会員団体としてポータルを閲覧（閲覧のみ）")),
        ]

    def __str__(self) -> str:
        return self.local_government.full_name

    @property
    def block(self) -> Block:
        return self.block_override or self.local_government.prefecture.block

    @property
    def name(self) -> str:
        return self.local_government.full_name


class MembershipEvent(models.Model):
    """The status history of a member: joined, changed kind, left, rejoined."""

    class Action(models.TextChoices):
        JOINED = "joined", _("入会")
        KIND_CHANGED = "kind_changed", _("種別変更")
        LEFT = "left", _("退会")
        REJOINED = "rejoined", _("再入会")
        GUEST = "guest", _("非会員として登録")

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="events", verbose_name=_("会員団体")
    )
    action = models.CharField(_("内容"), max_length=20, choices=Action.choices)
    kind = models.CharField(_("会員種別"), max_length=10, choices=Member.Kind.choices)
    effective_on = models.DateField(_("日付"))
    note = models.CharField(_("メモ"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("記録者"),
    )
    recorded_at = models.DateTimeField(_("記録日時"), auto_now_add=True)

    class Meta:
        ordering = ["effective_on", "id"]
        verbose_name = _("入退会履歴")
        verbose_name_plural = _("入退会履歴")

    def __str__(self) -> str:
        return f"{self.member} {self.get_action_display()} {self.effective_on}"


class AgreementQuerySet(models.QuerySet["Agreement"]):
    def expiring(self, today: dt.date, *, days: int = 90) -> AgreementQuerySet:
        """Agreements whose term ends within DAYS days of TODAY (or ended, unrenewed, in the
        last DAYS days), soonest first."""
        return self.filter(
            expires_on__gte=today - dt.timedelta(days=days),
            expires_on__lte=today + dt.timedelta(days=days),
        ).order_by("expires_on", "id")


class Agreement(models.Model):
    """A partnership agreement (連携自治体事業) with a municipality or a prefecture."""

    local_government = models.ForeignKey(
        LocalGovernment,
        on_delete=models.PROTECT,
        related_name="agreements",
        verbose_name=_("連携自治体"),
    )
    signed_on = models.DateField(_("協定締結日"))
    expires_on = models.DateField(
        _("協定期限"), null=True, blank=True, help_text=_("期限のない協定は空欄。")
    )
    hashtag = models.CharField(_("ハッシュタグ"), max_length=60, blank=True)
    notes = models.TextField(_("備考"), blank=True)

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["signed_on", "id"]
        verbose_name = _("連携協定")
        verbose_name_plural = _("連携協定")
        constraints = [
            models.UniqueConstraint(
                fields=["local_government", "signed_on"], name="agreement_unique_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.local_government} ({self.signed_on})"


class ContactQuerySet(models.QuerySet["Contact"]):
    def active(self) -> ContactQuerySet:
        return self.filter(is_active=True)

    def portal(self) -> ContactQuerySet:
        """Contacts who may use the portal: active, of a member whose staff may log in."""
        return self.filter(is_active=True, member__status__in=Member.PORTAL_STATUSES)

    def not_checked_since_april(self, today: dt.date) -> ContactQuerySet:
        """Contacts whose record was last changed before the 1 April of TODAY's 年度, the day
        staff move (人事異動): whether they still hold the role is to be checked."""
        from django.utils import timezone

        from .nendo import nendo_of, nendo_range

        start, _end = nendo_range(nendo_of(today))
        return self.filter(
            updated_at__lt=timezone.make_aware(dt.datetime.combine(start, dt.time()))
        )

    def taking_training_copies(self, member: Member) -> ContactQuerySet:
        """MEMBER's coordinators who receive a copy of the training mails sent to their
        colleagues: the active ones who have not turned it off."""
        return self.active().filter(
            member=member, role=Contact.Role.COORDINATOR, receives_training_copies=True
        )

    def for_user(self, user: User) -> ContactQuerySet:
        """The contact record (one at most) through which USER may use the portal: by the
        contact's own login key, never by address; while the secretariat views a member's
        portal read-only (association/view_as.py), the coordinator it is shown as."""
        viewed = getattr(user, "portal_view_as", None)
        if viewed is not None:
            return self.portal().filter(pk=viewed)
        return self.portal().filter(user=user)


class Contact(models.Model):
    """A staff member (担当者) of a member municipality. Personal information under APPI."""

    class Role(models.TextChoices):
        COORDINATOR = "coordinator", _("取りまとめ担当")
        STAFF = "staff", pgettext_lazy("contact role", "担当者")

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="contacts", verbose_name=_("会員団体")
    )
    name = models.CharField(_("氏名"), max_length=60)
    kana = models.CharField(_("ふりがな"), max_length=120, blank=True)
    department = models.CharField(_("所属"), max_length=120, blank=True)
    title = models.CharField(_("役職"), max_length=60, blank=True)
    email = models.EmailField(_("メールアドレス"), max_length=254)
    phone = models.CharField(_("電話番号"), max_length=30, blank=True)
    # The address's keyed hash (association.privacy.address_hash), kept with it on every save:
    # the suppression list matches it, so that an erased address stays unmailed.
    email_hash = models.CharField(
        _("アドレスのハッシュ"), max_length=64, blank=True, default="", editable=False
    )
    role = models.CharField(_("役割"), max_length=20, choices=Role.choices, default=Role.STAFF)
    is_active = models.BooleanField(_("有効"), default=True)
    # A coordinator's copy of the training mails sent to colleagues (events.emails.queue_copies);
    # on unless she turns it off, and read only while she is a coordinator.
    receives_training_copies = models.BooleanField(_("研修メールの写しを受け取る"), default=True)
    # The contact's own login, tied by this key and never by comparing addresses: services
    # create it with the contact and keep its address, its state and its sessions in step with
    # the contact (association.services._sync_login).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contact",
        verbose_name=_("ログインアカウント"),
    )
    successor = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predecessors",
        verbose_name=_("後任"),
    )
    deactivated_at = models.DateTimeField(_("無効化日時"), null=True, blank=True)
    # What the contact is found by, folded (association.search): name, kana, address and the
    # member's search_text (its full name, kana and code). Personal data; kept by save().
    search_text = models.TextField(_("検索用"), blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("登録日時"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["member_id", "kana", "id"]
        verbose_name = _("担当者")
        verbose_name_plural = _("担当者")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "email"], name="contact_email_unique_in_member"
            )
        ]
        indexes = [
            models.Index(fields=["email"]),
            models.Index(fields=["email_hash"]),
            # The admin's list (ordering): a page read in order, not 100,000 rows sorted.
            models.Index(fields=["member", "kana", "id"], name="contact_listed"),
            # The home page's "not checked since 1 April" (人事異動): a range, not a scan.
            models.Index(fields=["updated_at"], name="contact_checked"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.member}）"

    def save(self, *args: Any, **kwargs: Any) -> None:
        from .privacy import address_hash

        derived = {"email_hash": address_hash(self.email)}
        fields = kwargs.get("update_fields")
        if fields is None or not {"name", "kana", "email", "member"}.isdisjoint(fields):
            derived["search_text"] = self.folded()
        _keep(self, kwargs, **derived)
        super().save(*args, **kwargs)

    def folded(self, member_text: str | None = None) -> str:
        """This contact's search_text; MEMBER_TEXT (its member's government's search_text)
        spares a query when it is known."""
        from .search import SEPARATOR, search_text

        own = search_text(self.name, self.kana, self.email)
        if member_text is None:
            member_text = (
                LocalGovernment.objects.filter(member__pk=self.member_id)
                .values_list("search_text", flat=True)
                .first()
            )
        return SEPARATOR.join(p for p in (own, member_text) if p)

    @property
    def is_coordinator(self) -> bool:
        return self.role == self.Role.COORDINATOR


class AuditEntry(models.Model):
    """Who changed what in the registry, so that every change to personal data is attributable.

    The summary names no one: a person appears as a placeholder such as {contact}, linked by id
    (AuditPerson), and is rendered with their current name only for a viewer who may see
    personal data. Erasing a person therefore erases them from every entry at once, by id,
    and leaves every other person (even one with the same name) untouched."""

    action = models.CharField(_("操作"), max_length=40)
    object_type = models.CharField(_("対象"), max_length=40)
    object_id = models.CharField(_("対象ID"), max_length=40)
    summary = models.CharField(_("概要"), max_length=300)
    changes = models.JSONField(_("変更内容"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作者"),
    )
    created_at = models.DateTimeField(_("日時"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("変更履歴")
        verbose_name_plural = _("変更履歴")
        indexes = [
            # A member's history (association/history.py) finds its acts by object.
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        from django.utils import timezone

        return (
            f"{timezone.localtime(self.created_at):%Y-%m-%d %H:%M} {self.render(show_people=False)}"
        )

    def render(self, *, show_people: bool) -> str:
        """The summary with each {role} replaced by the person linked under that role: their
        current name, or only their id for a viewer who may not see personal data."""
        people = {
            link.role: (link.contact.pk, link.contact.name) for link in self.person_links.all()
        }
        return render_summary(self.summary, people, show_people=show_people)


def _keep(row: models.Model, save_kwargs: dict[str, Any], **derived: str) -> None:
    """Set fields derived from others (a hash, a search column) on ROW before it is saved, and
    add the changed ones to update_fields when the save names its fields."""
    changed = {name for name, value in derived.items() if getattr(row, name) != value}
    for name in changed:
        setattr(row, name, derived[name])
    update_fields = save_kwargs.get("update_fields")
    if changed and update_fields is not None:
        save_kwargs["update_fields"] = {*update_fields, *changed}


PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def render_summary(
    summary: str, people: Mapping[str, tuple[int, str]], *, show_people: bool
) -> str:
    """An audit SUMMARY with each {role} replaced by the person PEOPLE links under that role
    (their id and current name): the name for a viewer who may see personal data, else only
    the id. The one rendering of an entry, whether it was read as a row or as columns."""

    def person(match: re.Match[str]) -> str:
        linked = people.get(match.group(1))
        if linked is None:
            return match.group(0)
        if show_people:
            return linked[1]
        return _("担当者#%(id)d") % {"id": linked[0]}

    return PLACEHOLDER.sub(person, summary)


class AuditPerson(models.Model):
    """A person an audit entry is about, under the role its summary's placeholder names."""

    entry = models.ForeignKey(
        AuditEntry,
        on_delete=models.CASCADE,
        related_name="person_links",
        verbose_name=_("変更履歴"),
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="audit_links", verbose_name=_("担当者")
    )
    role = models.CharField(_("役割"), max_length=20)

    class Meta:
        verbose_name = _("変更履歴の対象者")
        verbose_name_plural = _("変更履歴の対象者")
        constraints = [
            models.UniqueConstraint(fields=["entry", "role"], name="audit_person_one_per_role")
        ]

    def __str__(self) -> str:
        return f"{self.role}: #{self.contact_id}"
