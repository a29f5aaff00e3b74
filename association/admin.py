"""The secretariat's registry admin. Saving goes through association.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.apps import apps as django_apps
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import BooleanField, Q, QuerySet, Value
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import accounts, member_import, privacy, services
from .admin_import import MEMBERS, import_urls
from .admin_lists import CachedValuesFilter, CappedPaginator
from .forms import HandOverForm, MembershipChangeForm, refuse_control_characters
from .history import action_label, member_history
from .models import (
    Agreement,
    AuditEntry,
    Block,
    Contact,
    LocalGovernment,
    Member,
    MembershipEvent,
    Prefecture,
    User,
)
from .privacy import PersonalDataAdminMixin
from .search import FoldedSearchMixin


class BlockFilter(admin.SimpleListFilter):
    """Block of a member: its override, else its prefecture's block."""

    title = gettext_lazy("ブロック")
    parameter_name = "block"
    member_path = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(b.pk), b.name) for b in Block.objects.all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        members = Member.objects.in_block(int(self.value() or 0))
        if not self.member_path:
            return queryset.filter(pk__in=members.values("pk"))
        return queryset.filter(**{f"{self.member_path}__in": members.values("pk")})


class ContactBlockFilter(BlockFilter):
    member_path = "member"


class CheckedThisNendoFilter(admin.SimpleListFilter):
    """Whether a contact's record was changed since this 年度's 1 April (人事異動)."""

    title = gettext_lazy("今年度の確認")
    parameter_name = "checked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", _("4月1日以降 未確認")), ("yes", _("4月1日以降に更新・確認済み"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        stale = Contact.objects.not_checked_since_april(timezone.localdate())
        if self.value() == "no":
            return queryset.filter(pk__in=stale.values("pk"))
        if self.value() == "yes":
            return queryset.exclude(pk__in=stale.values("pk"))
        return queryset


PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

# A permission's stored name is English ("Can change contact") and Django never translates it;
# the admin names it from the model's verbose name and the act instead.
PERMISSION_ACTS = {
    "add": gettext_lazy("追加"),
    "change": gettext_lazy("変更"),
    "delete": gettext_lazy("削除"),
    "view": gettext_lazy("閲覧"),
}
# Apps and models whose verbose names their library does not mark for translation.
UNTRANSLATED_APPS = {
    "otp_totp": gettext_lazy("二段階認証（認証アプリ）"),
    "otp_static": gettext_lazy("二段階認証（予備コード）"),
}
UNTRANSLATED_MODELS = {
    "otp_totp.totpdevice": gettext_lazy("認証アプリ"),
    "otp_static.staticdevice": gettext_lazy("予備コード"),
    "otp_static.statictoken": gettext_lazy("予備コードの番号"),
}


def permission_label(permission: Permission) -> str:
    """「会員名簿 | 担当者 | 変更」 for association.change_contact; a permission of our own keeps
    its (Japanese) name as the act."""
    content_type = permission.content_type
    model = content_type.model_class()
    label = f"{content_type.app_label}.{content_type.model}"
    if label in UNTRANSLATED_MODELS:
        model_name = str(UNTRANSLATED_MODELS[label])
    else:
        model_name = str(model._meta.verbose_name) if model else content_type.model
    if content_type.app_label in UNTRANSLATED_APPS:
        app_name = str(UNTRANSLATED_APPS[content_type.app_label])
    else:
        try:
            app_name = str(django_apps.get_app_config(content_type.app_label).verbose_name)
        except LookupError:
            app_name = content_type.app_label
    act, _sep, rest = permission.codename.partition("_")
    named = PERMISSION_ACTS.get(act) if rest == content_type.model else None
    return f"{app_name} | {model_name} | {named or permission.name}"


class PermissionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return permission_label(obj)


def _permission_field(db_field: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if db_field.name in ("permissions", "user_permissions"):
        kwargs["form_class"] = PermissionChoiceField
        kwargs.setdefault("queryset", Permission.objects.select_related("content_type"))
    return kwargs


def _is_superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Only a superuser grants staff or superuser status, groups or permissions, and only a
    superuser changes a secretariat account (its password included); a contact's login is
    never made a secretariat account, and its address follows the contact."""

    list_display = ("username", "email", "is_staff", "is_superuser", "is_active", "last_login")
    actions = ("reset_second_factor",)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return super().formfield_for_manytomany(
            db_field, request, **_permission_field(db_field, kwargs)
        )

    def _is_contact_login(self, obj: User | None) -> bool:
        return obj is not None and Contact.objects.filter(user=obj).exists()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not _is_superuser(request) or self._is_contact_login(obj):
            readonly += PRIVILEGE_FIELDS
        if self._is_contact_login(obj):
            readonly += ("username", "email")
        return readonly

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (obj.is_staff or obj.is_superuser) and not _is_superuser(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (obj.is_staff or obj.is_superuser) and not _is_superuser(request):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not _is_superuser(request):
            # A bulk delete does not ask per account whether it is a secretariat one.
            actions.pop("delete_selected", None)
            actions.pop("reset_second_factor", None)
        return actions

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not _is_superuser(request) and (obj.is_staff or obj.is_superuser):
            # Read-only fields cannot be posted; this guards any other way in.
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if not _is_superuser(request):
            form.cleaned_data.pop("groups", None)
            form.cleaned_data.pop("user_permissions", None)
        super().save_related(request, form, formsets, change)

    @admin.action(description=gettext_lazy("選択したアカウントの二段階認証をリセットする"))
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        user = request.user if isinstance(request.user, User) else None
        for account in queryset.filter(is_staff=True):
            accounts.reset_second_factor(account, by=user, note="管理画面から")
        self.message_user(
            request,
            _("二段階認証をリセットしました。次回のログインで認証アプリを設定し直します。"),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        # A portal login is named by its contact's address: personal data. Without the
        # contact view permission only the secretariat's own accounts are listed.
        users = super().get_queryset(request)
        if not privacy.can_see_personal_data(request.user):
            users = users.filter(Q(is_staff=True) | Q(is_superuser=True))
        return users


if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    """A group's permissions are granted to its members: superusers only."""

    def formfield_for_manytomany(
        self, db_field: Any, request: HttpRequest | None = None, **kwargs: Any
    ) -> Any:
        return super().formfield_for_manytomany(
            db_field, request, **_permission_field(db_field, kwargs)
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)


# The second factor's secrets are never shown in the admin: a lost one is reset (the action
# above, or `manage.py reset_second_factor`), and its owner sets a new one up at login.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("name", "sort_order")
    list_editable = ("sort_order",)


@admin.register(Prefecture)
class PrefectureAdmin(FoldedSearchMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kana", "block")
    list_filter = ("block",)
    list_select_related = ("block",)
    search_fields = ("search_text",)


@admin.register(LocalGovernment)
class LocalGovernmentAdmin(FoldedSearchMixin, admin.ModelAdmin):
    list_display = ("code", "full_name", "kana", "kind", "retired_on")
    list_filter = (
        "prefecture__block",
        "kind",
        "prefecture",
        ("retired_on", admin.EmptyFieldListFilter),
    )
    list_select_related = ("prefecture",)
    search_fields = ("search_text",)
    readonly_fields = ("code", "prefecture", "name", "kana", "kind", "retired_on")

    @admin.display(description=gettext_lazy("団体名"), ordering="code")
    def full_name(self, obj: LocalGovernment) -> str:
        return obj.full_name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the list comes from 総務省's codes (manage.py load_local_governments)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LoadedMemberFormSet(forms.BaseInlineFormSet):
    """The rows of a member's inline get the member the change page already loaded (with its
    government, prefecture and block), instead of each row fetching it again for its label.
    At most SHOWN rows when set: the rest are one link away (the member's story links them)."""

    shown: int | None = None

    def get_queryset(self) -> Any:
        if not hasattr(self, "_rows"):
            rows = super().get_queryset()  # evaluated once, kept for every form
            self._rows = list(rows[: self.shown] if self.shown else rows)
            if self.instance.pk is not None:
                for row in self._rows:
                    setattr(row, self.fk.name, self.instance)
        return self._rows


class FirstContactsFormSet(LoadedMemberFormSet):
    shown = 10


class ContactInline(PersonalDataAdminMixin, admin.TabularInline):
    """A member's contacts, the active first; the first FirstContactsFormSet.shown of them, so
    that the page stays the same size however many past contacts a member has kept."""

    model = Contact
    formset = FirstContactsFormSet
    requires_personal_permission = True
    fields = ("name", "kana", "department", "title", "email", "phone", "role", "is_active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).order_by("-is_active", "kana", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipEventInline(admin.TabularInline):
    model = MembershipEvent
    formset = LoadedMemberFormSet
    fields = ("effective_on", "action", "kind", "note", "recorded_by", "recorded_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[MembershipEvent]:
        return super().get_queryset(request).select_related("recorded_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Member)
class MemberAdmin(FoldedSearchMixin, admin.ModelAdmin):
    list_display = ("name", "code", "kind", "status", "block_name", "joined_on", "left_on")
    list_filter = (BlockFilter, "local_government__prefecture", "kind", "status")
    list_select_related = ("local_government__prefecture__block", "block_override")
    search_fields = ("local_government__search_text",)
    autocomplete_fields = ("local_government",)
    inlines = (ContactInline, MembershipEventInline)
    actions = ("withdraw_selected", "readmit_selected")

    @admin.display(description=gettext_lazy("団体名"), ordering="local_government__code")
    def name(self, obj: Member) -> str:
        return obj.name

    @admin.display(description=gettext_lazy("団体コード"), ordering="local_government__code")
    def code(self, obj: Member) -> str:
        return obj.local_government_id

    @admin.display(description=gettext_lazy("ブロック"))
    def block_name(self, obj: Member) -> str:
        return obj.block.name

    def get_queryset(self, request: HttpRequest) -> QuerySet[Member]:
        # The change page names the government, its prefecture and block: one query.
        related = ("local_government__prefecture__block", "block_override")
        return super().get_queryset(request).select_related(*related)

    def get_inlines(self, request: HttpRequest, obj: Member | None = None) -> Any:
        return self.inlines if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Member | None = None) -> Any:
        if obj is None:
            return ["local_government", "status", "kind", "joined_on", "block_override", "notes"]
        return [
            "local_government",
            "kind",
            "status",
            "joined_on",
            "left_on",
            "block_override",
            "notes",
        ]

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "status":
            # A new row either joins or is recorded as a non-member; leaving is an action.
            kwargs["choices"] = [
                (s.value, s.label) for s in (Member.Status.ACTIVE, Member.Status.GUEST)
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Member | None = None) -> list[str]:
        if obj is None:
            return []
        return ["local_government", "status", "joined_on", "left_on"]

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: bool) -> None:
        user = request.user if isinstance(request.user, User) else None
        if not change:
            if obj.status == Member.Status.GUEST:
                member = services.register_guest(obj.local_government, by=user)
            else:
                member = services.admit_member(
                    obj.local_government, kind=obj.kind, joined_on=obj.joined_on, by=user
                )
            Member.objects.filter(pk=member.pk).update(
                block_override=obj.block_override, notes=obj.notes
            )
            obj.pk = member.pk
            obj._state.adding = False
            return
        if "kind" in form.changed_data:
            services.change_member_kind(obj, kind=obj.kind, by=user)
        other = [f for f in form.changed_data if f in ("block_override", "notes")]
        if other:
            obj.save(update_fields=[*other, "updated_at"])
            services.audit(user, "member_updated", obj, f"{obj.name}: 会員情報を更新")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a member leaves (退会) and keeps its history

    @admin.action(description=gettext_lazy("選択した会員を退会にする"), permissions=["change"])
    def withdraw_selected(self, request: HttpRequest, queryset: QuerySet[Member]) -> Any:
        return self._to_membership_page("withdraw", queryset)

    @admin.action(
        description=gettext_lazy("選択した退会団体・非会員を会員にする（再入会・入会）"),
        permissions=["change"],
    )
    def readmit_selected(self, request: HttpRequest, queryset: QuerySet[Member]) -> Any:
        return self._to_membership_page("readmit", queryset)

    def _to_membership_page(self, act: str, queryset: QuerySet[Member]) -> HttpResponseRedirect:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        url = reverse(f"admin:association_member_{act}")
        return HttpResponseRedirect(f"{url}?ids={ids}")

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path(
                f"{act}/",
                wrap(self.membership_view),
                {"act": act},
                name=f"association_member_{act}",
            )
            for act in MEMBERSHIP_ACTS
        ]
        own.append(
            path("export/", wrap(self.export_view), name="association_member_export"),
        )
        own.append(
            path(
                "<int:pk>/view-portal/",
                wrap(self.view_portal_view),
                name="association_member_view_portal",
            ),
        )
        return own + import_urls(self, MEMBERS) + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        from . import view_as

        extra_context = {
            **(extra_context or {}),
            "can_view_portal": view_as.may_view_as(request.user),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def view_portal_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Asks, then starts the read-only view of this member's portal (association/view_as.py)."""
        from . import view_as

        if not view_as.may_view_as(request.user):
            raise PermissionDenied
        member = get_object_or_404(Member.objects.select_related("local_government"), pk=pk)
        if request.method == "POST":
            try:
                view_as.start(request, member)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return HttpResponseRedirect(
                    reverse("admin:association_member_change", args=[member.pk])
                )
            return HttpResponseRedirect(reverse("portal:member", args=[member.local_government_id]))
        coordinator = (
            member.contacts.portal().filter(role=Contact.Role.COORDINATOR).order_by("id").first()
        )
        ctx = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "member": member,
            "coordinator": coordinator,
            "minutes": int(view_as.LASTS.total_seconds() // 60),
            "title": _("この団体としてポータルを見る（閲覧のみ）"),
        }
        return render(request, "admin/association/member/view_portal.html", ctx)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The member list with agreements and contact counts, in the columns the roster
        import reads back unchanged (CSV, UTF-8 with a BOM for Excel)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(member_import.export_members_csv(), content_type="text/csv")
        name = _("会員団体一覧_%(date)s.csv") % {"date": timezone.localdate().strftime("%Y%m%d")}
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response

    def membership_view(self, request: HttpRequest, act: str) -> HttpResponse:
        """The confirmation page of 退会 or 再入会: which members, from which day, and why.
        Nothing changes until it is confirmed; then every member changes, or none."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        source = request.POST if request.method == "POST" else request.GET
        ids = [int(i) for i in source.get("ids", "").split(",") if i.strip().isdigit()]
        waiting = MEMBERSHIP_ACTS[act]["statuses"]
        members = list(Member.objects.with_registry().filter(pk__in=ids[:2000], status__in=waiting))
        skipped = len(set(ids)) - len(members)
        form = MembershipChangeForm(
            request.POST or None, initial={"on": timezone.localdate().isoformat()}
        )
        if request.method == "POST" and members and form.is_valid():
            user = request.user if isinstance(request.user, User) else None
            on, reason = form.cleaned_data["on"], form.cleaned_data["reason"]
            try:
                with transaction.atomic():
                    for member in members:
                        if act == "withdraw":
                            services.withdraw_member(member, left_on=on, by=user, note=reason)
                        else:
                            services.admit_member(
                                member.local_government,
                                kind=member.kind,
                                joined_on=on,
                                by=user,
                                note=reason,
                            )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                message = MEMBERSHIP_ACTS[act]["done"] % {"n": len(members)}
                self.message_user(request, message)
                if len(members) == 1:
                    return HttpResponseRedirect(
                        reverse("admin:association_member_change", args=[members[0].pk])
                    )
                return HttpResponseRedirect(reverse("admin:association_member_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": MEMBERSHIP_ACTS[act]["title"],
            "act": act,
            "button": MEMBERSHIP_ACTS[act]["button"],
            "members": members,
            "skipped": skipped,
            "ids": ",".join(str(m.pk) for m in members),
            "form": form,
        }
        return render(request, "admin/association/member/membership.html", context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        """履歴: the member's story in plain Japanese, in the secretariat's time zone."""
        member = self.get_object(request, object_id)
        if member is None or not self.has_view_or_change_permission(request, member):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": member,
            "title": _("%(name)s の履歴") % {"name": member.name},
            "lines": member_history(
                member, show_people=privacy.can_see_personal_data(request.user), limit=500
            ),
        }
        return render(request, "admin/association/member/history.html", context)


MEMBERSHIP_ACTS: dict[str, dict[str, Any]] = {
    "withdraw": {
        "statuses": [Member.Status.ACTIVE],
        "title": gettext_lazy("退会の確認"),
        "button": gettext_lazy("退会にする"),
        "done": gettext_lazy("%(n)d 団体を退会にしました。"),
    },
    "readmit": {
        "statuses": [Member.Status.LEFT, Member.Status.GUEST],
        "title": gettext_lazy("再入会・入会の確認"),
        "button": gettext_lazy("会員にする"),
        "done": gettext_lazy("%(n)d 団体を会員にしました。"),
    },
}


@admin.register(Agreement)
class AgreementAdmin(FoldedSearchMixin, admin.ModelAdmin):
    list_display = ("local_government", "signed_on", "expires_on", "hashtag")
    list_filter = ("local_government__prefecture__block", "local_government__prefecture")
    list_select_related = ("local_government__prefecture",)
    search_fields = ("local_government__search_text", "hashtag")
    autocomplete_fields = ("local_government",)
    date_hierarchy = "signed_on"


class ContactAdminForm(forms.ModelForm):
    """Validates the address as the service will store it (normalised), so that a duplicate
    in another case or width is a form error, not a failed save."""

    class Meta:
        model = Contact
        fields = ("member", "name", "kana", "department", "title", "email", "phone", "role")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        refuse_control_characters(self)
        member = data.get("member") or getattr(self.instance, "member", None)
        raw = data.get("email")
        if raw and member is not None:
            try:
                email = services.normalise_email(raw)
                clash = Contact.objects.filter(member=member, email=email)
                if self.instance.pk:
                    clash = clash.exclude(pk=self.instance.pk)
                if clash.exists():
                    raise ValidationError(
                        _("%(email)s は %(member)s の担当者としてすでに登録されています。")
                        % {"email": email, "member": member.name}
                    )
                if email != self.instance.email:
                    services.check_login_address(email)
            except ValidationError as exc:
                self.add_error("email", exc.messages)
            else:
                data["email"] = email
        return data


@admin.register(Contact)
class ContactAdmin(FoldedSearchMixin, PersonalDataAdminMixin, admin.ModelAdmin):
    form = ContactAdminForm
    requires_personal_permission = True
    list_display = ("name", "kana", "member", "department", "title", "email", "role", "is_active")
    list_filter = (
        ContactBlockFilter,
        "member__local_government__prefecture",
        "role",
        "is_active",
        CheckedThisNendoFilter,
    )
    list_select_related = ("member__local_government__prefecture",)
    search_fields = ("search_text",)
    autocomplete_fields = ("member",)
    show_full_result_count = False
    paginator = CappedPaginator
    fields = (
        "member",
        "name",
        "kana",
        "department",
        "title",
        "email",
        "phone",
        "role",
        "is_active",
        "hand_over_link",
        "successor",
        "user",
        "deactivated_at",
    )
    readonly_fields = ("is_active", "hand_over_link", "successor", "user", "deactivated_at")
    actions = ("deactivate_selected", "erase_selected")

    @admin.display(description=gettext_lazy("担当者変更"))
    def hand_over_link(self, obj: Contact) -> str:
        if not obj.pk or not obj.is_active:
            return "-"
        url = reverse("admin:association_contact_hand_over", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("後任に引き継ぐ"))

    def get_readonly_fields(
        self, request: HttpRequest, obj: Contact | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return self.readonly_fields
        return ("member", *self.readonly_fields)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:pk>/handover/",
                self.admin_site.admin_view(self.hand_over_view),
                name="association_contact_hand_over",
            )
        ]
        return own + import_urls(self) + super().get_urls()

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        user = request.user if isinstance(request.user, User) else None
        values = {
            f: form.cleaned_data[f] for f in services.CONTACT_FIELDS if f in form.cleaned_data
        }
        try:
            if change:
                saved = services.update_contact(Contact.objects.get(pk=obj.pk), by=user, **values)
            else:
                saved = services.add_contact(obj.member, by=user, **values)
        except ValidationError as exc:
            # The form already validated; only a race (the same address added meanwhile) or a
            # secretariat account's address lands here.
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
            raise
        obj.pk = saved.pk
        obj._state.adding = False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows stay (registrations and deliveries point at them); erase_selected removes the
        # person's data from the row and from every copy instead.
        return False

    def has_erase_permission(self, request: HttpRequest) -> bool:
        # Erasing personal data is real (APPI) and cannot be undone: superusers only.
        return bool(request.user.is_superuser)

    @admin.action(description=gettext_lazy("選択した担当者を無効にする"), permissions=["change"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        user = request.user if isinstance(request.user, User) else None
        for contact in queryset.filter(is_active=True):
            services.deactivate_contact(contact, by=user)
        self.message_user(request, _("選択した担当者を無効にしました。"))

    @admin.action(
        description=gettext_lazy("選択した担当者の個人情報を削除する（元に戻せません）"),
        permissions=["erase"],
    )
    def erase_selected(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        user = request.user if isinstance(request.user, User) else None
        count = 0
        for contact in queryset:
            services.erase_contact(contact, by=user)
            count += 1
        self.message_user(request, _("%(n)d 名の個人情報を削除しました。") % {"n": count})

    def hand_over_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        contact = get_object_or_404(
            Contact.objects.select_related("member__local_government__prefecture"),
            pk=pk,
            is_active=True,
        )
        colleagues = contact.member.contacts.active().exclude(pk=contact.pk)
        form = HandOverForm(request.POST or None, colleagues=colleagues)
        if request.method == "POST" and form.is_valid():
            user = request.user if isinstance(request.user, User) else None
            data = form.cleaned_data
            try:
                if data["existing"]:
                    successor = services.hand_over_contact(
                        contact, by=user, successor=data["existing"]
                    )
                else:
                    fields = {
                        k: data[k]
                        for k in ("name", "kana", "department", "title", "email", "phone")
                    }
                    successor = services.hand_over_contact(contact, by=user, **fields)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request,
                    _("%(old)s さんから %(new)s さんへ担当を引き継ぎました。")
                    % {"old": contact.name, "new": successor.name},
                )
                return HttpResponseRedirect(
                    reverse("admin:association_contact_change", args=[successor.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "contact": contact,
            "form": form,
            "title": _("担当者変更"),
        }
        return render(request, "admin/association/contact/hand_over.html", context)


class AuditActionFilter(CachedValuesFilter):
    title = gettext_lazy("操作")
    parameter_name = field = "action"

    def label(self, value: str) -> str:
        return str(action_label(value))


class AuditObjectTypeFilter(CachedValuesFilter):
    title = gettext_lazy("対象")
    parameter_name = field = "object_type"


@admin.register(AuditEntry)
class AuditEntryAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action_name", "what")
    list_filter = (AuditActionFilter, AuditObjectTypeFilter)
    list_select_related = ("actor",)
    search_fields = ("summary", "object_id")
    show_full_result_count = False
    paginator = CappedPaginator
    fields = ("created_at", "actor", "action_name", "object_type", "object_id", "what", "changes")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("操作"), ordering="action")
    def action_name(self, obj: AuditEntry) -> str:
        return action_label(obj.action)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        # Each row carries whether this viewer may see the names behind its placeholders.
        sees = privacy.can_see_personal_data(request.user)
        return (
            super()
            .get_queryset(request)
            .prefetch_related("person_links__contact")
            .annotate(viewer_sees_people=Value(sees, output_field=BooleanField()))
        )

    @admin.display(description=gettext_lazy("概要"))
    def what(self, obj: AuditEntry) -> str:
        return obj.render(show_people=bool(getattr(obj, "viewer_sees_people", False)))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
