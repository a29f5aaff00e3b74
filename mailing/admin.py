"""The secretariat's mailing admin: lists and their audiences, opt-outs, the suppression list,
composing and sending bulletins (with live progress and a report), deliveries and provider
events (read-only). Every state change goes through mailing.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from association.admin_lists import CappedPaginator
from association.models import Contact, Member, User
from association.privacy import PersonalDataAdminMixin, can_see_personal_data
from association.search import FoldedSearchMixin, folded_q
from association.services import normalise_email

from . import audience, services
from .forms import BulletinForm, MailingListForm, ScheduleForm
from .models import (
    Bulletin,
    Delivery,
    DeliveryTally,
    Document,
    MailingList,
    ProviderEvent,
    Subscription,
    Suppression,
)
from .rendering import PLACEHOLDERS


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _apply_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
    else:
        form.add_error(None, exc)


# --- lists ---------------------------------------------------------------------------------------


@admin.register(MailingList)
class MailingListAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    form = MailingListForm
    personal_display = ("hand_added",)
    list_display = ("name", "slug", "rule_summary", "send_html", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    filter_horizontal = ("blocks", "prefectures")
    readonly_fields = ("recipient_count",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "is_active")}),
        (
            gettext_lazy("メール"),
            {"fields": ("subject_prefix", "reply_to", "send_html", "allow_self_subscribe")},
        ),
        (
            gettext_lazy("宛先の条件"),
            {
                "description": gettext_lazy(
                    "在籍中の会員団体の有効な担当者のうち、「全会員」「ブロック」「都道府県」"
                    "「連携自治体」のいずれかに当てはまり、会員種別・役割の指定があればそれにも"
                    "当てはまる方に届きます。配信停止した方と配信停止アドレスには届きません。"
                ),
                "fields": (
                    "all_members",
                    "blocks",
                    "prefectures",
                    "partners",
                    "member_kinds",
                    "contact_roles",
                    "hand_added",
                    "recipient_count",
                ),
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[MailingList]:
        return super().get_queryset(request).prefetch_related("blocks", "prefectures")

    @admin.display(description=gettext_lazy("宛先の条件"))
    def rule_summary(self, obj: MailingList) -> str:
        parts = []
        if obj.all_members:
            parts.append(_("全会員"))
        parts += [str(b) for b in obj.blocks.all()]
        parts += [str(p) for p in obj.prefectures.all()]
        if obj.partners:
            parts.append(_("連携自治体"))
        kinds = dict(Member.Kind.choices)
        roles = dict(Contact.Role.choices)
        qualifiers = [str(kinds.get(k, k)) for k in obj.member_kinds]
        qualifiers += [str(roles.get(r, r)) for r in obj.contact_roles]
        text = "・".join(parts) or _("（条件なし）")
        return f"{text}（{'・'.join(qualifiers)}）" if qualifiers else text

    @admin.display(description=gettext_lazy("現在の宛先数"))
    def recipient_count(self, obj: MailingList) -> str:
        if obj.pk is None:
            return "-"
        count = audience.recipient_count(obj)
        return _("%(n)d 名（いま送信した場合。配信停止と配信停止アドレスを除く）") % {"n": count}

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if not can_see_personal_data(request.user):
            # Hand-added contacts are people: the field is neither shown nor saved.
            form.base_fields.pop("hand_added", None)
            return form
        field = form.base_fields["hand_added"]
        field.widget = AutocompleteSelectMultiple(
            Subscription._meta.get_field("contact"), self.admin_site
        )
        if obj is not None:
            field.initial = list(
                obj.subscriptions.filter(status=Subscription.Status.ADDED).values_list(
                    "contact_id", flat=True
                )
            )
        return form

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if "hand_added" not in form.fields:
            return
        mailing_list = form.instance
        current = set(
            mailing_list.subscriptions.filter(status=Subscription.Status.ADDED).values_list(
                "contact_id", flat=True
            )
        )
        wanted = {c.pk: c for c in form.cleaned_data.get("hand_added") or []}
        for contact in wanted.values():
            if contact.pk not in current:
                services.add_to_list(mailing_list, contact, by=_user(request))
        for contact in Contact.objects.filter(pk__in=current - set(wanted)):
            services.remove_from_list(mailing_list, contact, by=_user(request))


@admin.register(Subscription)
class SubscriptionAdmin(FoldedSearchMixin, PersonalDataAdminMixin, admin.ModelAdmin):
    """Opt-outs and hand-added contacts. Added and removed through services."""

    list_display = ("contact_name", "member", "mailing_list", "status", "source", "updated_at")
    list_filter = ("status", "source", "mailing_list")
    list_select_related = ("contact__member__local_government__prefecture", "mailing_list")
    search_fields = ("contact__search_text",)
    autocomplete_fields = ("contact",)
    fields = ("mailing_list", "contact", "status", "source", "changed_by", "updated_at")
    show_full_result_count = False
    paginator = CappedPaginator
    personal_display = ("contact_name",)

    @admin.display(description=gettext_lazy("担当者"), ordering="contact__kana")
    def contact_name(self, obj: Subscription) -> str:
        return f"{obj.contact.name} <{obj.contact.email}>"

    @admin.display(description=gettext_lazy("会員団体"))
    def member(self, obj: Subscription) -> str:
        return obj.contact.member.name

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("source", "changed_by", "updated_at")
        return self.fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an opt-out is added or removed, never edited

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        if obj.status == Subscription.Status.OPTED_OUT:
            services.opt_out(
                obj.mailing_list,
                obj.contact,
                source=Subscription.Source.SECRETARIAT,
                by=_user(request),
            )
        else:
            services.add_to_list(obj.mailing_list, obj.contact, by=_user(request))
        saved = Subscription.objects.get(mailing_list=obj.mailing_list, contact=obj.contact)
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Subscription) -> None:
        if obj.status == Subscription.Status.ADDED:
            services.remove_from_list(obj.mailing_list, obj.contact, by=_user(request))
        else:
            services.resubscribe(
                obj.mailing_list,
                obj.contact,
                source=Subscription.Source.SECRETARIAT,
                by=_user(request),
            )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for obj in queryset.select_related("mailing_list", "contact"):
            self.delete_model(request, obj)


@admin.register(Suppression)
class SuppressionAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    list_display = ("email", "reason", "note", "created_by", "created_at")
    list_filter = ("reason",)
    list_select_related = ("created_by",)
    search_fields = ("email", "note")
    fields = ("email", "reason", "note", "created_by", "created_at")
    show_full_result_count = False
    paginator = CappedPaginator

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("created_by", "created_at")
        return self.fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Suppression, form: Any, change: bool) -> None:
        saved = services.suppress_address(
            obj.email, reason=obj.reason, note=obj.note, by=_user(request)
        )
        obj.pk = saved.pk
        obj._state.adding = False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not obj.email and not request.user.is_superuser:
            return False  # an erased person's address: lifting it is a superuser's decision
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Suppression) -> None:
        services.remove_suppression(obj, by=_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class DocumentForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = ("title", "file")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        services.check_document_upload(upload)
        return upload


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Files for bulletins to link to: paste the URL into the body (LGWAN strips attachments)."""

    form = DocumentForm
    list_display = ("title", "filename", "size_label", "url_to_paste", "uploaded_at")
    list_select_related = ("uploaded_by",)
    search_fields = ("title", "file")
    readonly_fields = ("url_to_paste", "size_label", "uploaded_by", "uploaded_at")

    @admin.display(description=gettext_lazy("本文に貼り付けるURL"))
    def url_to_paste(self, obj: Document) -> str:
        return obj.url if obj.pk else "-"

    @admin.display(description=gettext_lazy("サイズ"), ordering="size")
    def size_label(self, obj: Document) -> str:
        return f"{obj.size / 1024:,.0f} KB"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # publish a new document instead; a URL already mailed must not change

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        try:
            saved = services.publish_document(
                title=form.cleaned_data["title"],
                upload=form.cleaned_data["file"],
                by=_user(request),
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            raise
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        services.withdraw_document(obj, by=_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


# --- deliveries and provider events (read-only) --------------------------------------------------


class RecentBulletinFilter(admin.SimpleListFilter):
    """Deliveries by bulletin: the latest bulletins (and the one chosen), not a link for each
    of a thousand bulletins on every page. The parameter is the one the report links with."""

    title = gettext_lazy("配信")
    parameter_name = "bulletin__id__exact"
    shown = 20

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        sent = Bulletin.objects.exclude(started_at=None).order_by("-started_at", "-id")
        bulletins = list(sent.only("pk", "subject")[: self.shown])
        chosen = self.value()
        if chosen and chosen.isdigit() and all(str(b.pk) != chosen for b in bulletins):
            bulletins += list(Bulletin.objects.filter(pk=int(chosen)).only("pk", "subject"))
        return [(str(b.pk), b.subject) for b in bulletins]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(bulletin_id=int(value))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TemporaryErrorFilter(admin.SimpleListFilter):
    title = gettext_lazy("一時的エラー")
    parameter_name = "temporary"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("あり")), ("no", _("なし"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        if self.value() == "yes":
            return queryset.filter(soft_bounces__gt=0)
        if self.value() == "no":
            return queryset.filter(soft_bounces=0)
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    list_display = (
        "email",
        "recipient_name",
        "organisation",
        "bulletin",
        "status",
        "temporary_errors",
        "skip_reason",
        "attempts",
        "sent_at",
        "short_error",
    )
    list_filter = ("status", TemporaryErrorFilter, "skip_reason", RecentBulletinFilter)
    list_select_related = ("bulletin",)
    search_fields = ("email", "recipient_name", "organisation", "message_id")
    show_full_result_count = False
    paginator = CappedPaginator
    personal_display = ("short_error",)

    @admin.display(description=gettext_lazy("エラー内容"))
    def short_error(self, obj: Delivery) -> str:
        return obj.error[:80]

    @admin.display(description=gettext_lazy("一時的エラー"), ordering="soft_bounces")
    def temporary_errors(self, obj: Delivery) -> str:
        """Deferrals and soft bounces the provider reported: the row stays 送信済み (the
        provider retries, or gave up for a reason that is not the address's), nobody is
        suppressed, but the secretariat sees it."""
        if not obj.soft_bounces:
            return "-"
        return _("あり（%(n)d回）") % {"n": obj.soft_bounces}

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Delivery], search_term: str
    ) -> tuple[QuerySet[Delivery], bool]:
        # An address is looked up as stored (normalised) on its index, not by a substring
        # search of every delivery's address, name and organisation.
        term = search_term.strip()
        if "@" in term and "email" in self.get_search_fields(request):
            try:
                address = normalise_email(term)
            except ValidationError:
                address = ""
            if address:
                return queryset.filter(email=address), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(ProviderEvent)
class ProviderEventAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    list_display = (
        "received_at",
        "provider",
        "event_type",
        "recipient",
        "reject_reason",
        "bulletin",
        "occurred_at",
    )
    list_filter = ("provider", "event_type")
    list_select_related = ("delivery__bulletin",)
    search_fields = ("recipient", "message_id", "event_id")
    show_full_result_count = False
    paginator = CappedPaginator

    @admin.display(description=gettext_lazy("配信"))
    def bulletin(self, obj: ProviderEvent) -> str:
        return str(obj.delivery.bulletin) if obj.delivery else "-"


# --- bulletins -----------------------------------------------------------------------------------

SUCCEEDED = (Delivery.Status.SENT, Delivery.Status.DELIVERED)
FAILED = (Delivery.Status.FAILED, Delivery.Status.BOUNCED, Delivery.Status.COMPLAINED)
ACTIONS = ("test", "start", "schedule", "unschedule", "pause", "resume", "cancel", "resend")


def progress_data(bulletin: Bulletin, progress: services.Progress | None = None) -> dict[str, Any]:
    progress = progress or services.bulletin_progress(bulletin)
    return {
        "status": bulletin.status,
        "status_label": bulletin.get_status_display(),
        "finished": bulletin.status in (Bulletin.Status.SENT, Bulletin.Status.CANCELLED),
        "snapshot": bulletin.snapshot_at is not None,
        "total": progress.total,
        "queued": progress.waiting,
        "sent": progress.succeeded,
        "failed": sum(progress.counts.get(s, 0) for s in FAILED),
        "skipped": progress.counts.get(Delivery.Status.SKIPPED, 0),
        "cancelled": progress.counts.get(Delivery.Status.CANCELLED, 0),
        "test_state": bulletin.test_state,
        "test_label": services.test_send_label(bulletin),
        "failure_reason": bulletin.failure_reason,
    }


@admin.register(Bulletin)
class BulletinAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    list_display = (
        "subject",
        "mailing_list",
        "status",
        "scheduled_at",
        "started_at",
        "sent_count",
        "created_by",
    )
    list_filter = ("status", "mailing_list")
    list_select_related = ("mailing_list", "created_by")
    search_fields = ("subject", "body")
    date_hierarchy = "created_at"

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        # Delivery counts for the bulletins on this page only, in one query of the tally the
        # database keeps (DeliveryTally): never a count of the deliveries themselves.
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)
        counts: dict[int, dict[str, int]] = {}
        rows = DeliveryTally.objects.filter(bulletin_id__in=[b.pk for b in page]).values_list(
            "bulletin_id", "status", "n"
        )
        for bulletin_id, status, n in rows:
            mine = counts.setdefault(bulletin_id, {})
            mine[status] = mine.get(status, 0) + n
        for bulletin in page:
            mine = counts.get(bulletin.pk, {})
            bulletin.n_total = sum(mine.values())  # type: ignore[attr-defined]
            bulletin.n_sent = sum(mine.get(s, 0) for s in SUCCEEDED)  # type: ignore[attr-defined]
        return changelist

    @admin.display(description=gettext_lazy("送信数"))
    def sent_count(self, obj: Bulletin) -> str:
        total = getattr(obj, "n_total", 0)
        return f"{getattr(obj, 'n_sent', 0)} / {total}" if total else "-"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != Bulletin.Status.DRAFT:
            return False  # what was sent stays on record (the archive shows it)
        return super().has_delete_permission(request, obj)

    # -- urls

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        own = [
            path("autosave/", view(self.autosave_view), name="mailing_bulletin_autosave_new"),
            path("<int:pk>/autosave/", view(self.autosave_view), name="mailing_bulletin_autosave"),
            path("<int:pk>/preview/", view(self.preview_view), name="mailing_bulletin_preview"),
            path("<int:pk>/progress/", view(self.progress_view), name="mailing_bulletin_progress"),
            path(
                "<int:pk>/do/<str:action>/",
                view(self.action_view),
                name="mailing_bulletin_action",
            ),
        ]
        return own + super().get_urls()

    def _bulletin(self, request: HttpRequest, pk: Any, *, change: bool = False) -> Bulletin:
        bulletin = get_object_or_404(Bulletin.objects.select_related("mailing_list"), pk=pk)
        allowed = (
            self.has_change_permission(request, bulletin)
            if change
            else self.has_view_permission(request, bulletin)
        )
        if not allowed:
            raise PermissionDenied
        return bulletin

    def _context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    # -- compose (add and change)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        return self._compose(request, None)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            pk = int(object_id)
        except ValueError:
            raise Http404 from None
        bulletin = self._bulletin(request, pk)
        if bulletin.is_editable and self.has_change_permission(request, bulletin):
            return self._compose(request, bulletin)
        return self._status(request, bulletin)

    def _compose(self, request: HttpRequest, bulletin: Bulletin | None) -> HttpResponse:
        initial: dict[str, Any] = {}
        if bulletin is not None:
            initial = {
                "mailing_list": bulletin.mailing_list_id,
                "subject": bulletin.subject,
                "body": bulletin.body,
                "reply_to": bulletin.reply_to,
            }
        else:
            lists = list(MailingList.objects.filter(is_active=True).values_list("pk", flat=True))
            if len(lists) == 1:
                initial["mailing_list"] = lists[0]
        form = BulletinForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                bulletin = services.save_bulletin(bulletin, by=_user(request), **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                self.message_user(request, _("下書きを保存しました。"))
                if "_preview" in request.POST:
                    target = reverse("admin:mailing_bulletin_preview", args=[bulletin.pk])
                else:
                    target = reverse("admin:mailing_bulletin_change", args=[bulletin.pk])
                return HttpResponseRedirect(target)
        ctx = self._context(
            request,
            title=_("配信の作成") if bulletin is None else _("配信の編集"),
            bulletin=bulletin,
            form=form,
            placeholders=[("{{ " + name + " }}", text) for name, text in PLACEHOLDERS.items()],
            prefixes={
                str(pk): prefix
                for pk, prefix in MailingList.objects.filter(is_active=True).values_list(
                    "pk", "subject_prefix"
                )
            },
            autosave_url=(
                reverse("admin:mailing_bulletin_autosave", args=[bulletin.pk])
                if bulletin
                else reverse("admin:mailing_bulletin_autosave_new")
            ),
        )
        if bulletin is not None:
            ctx.update(self._sending_context(request, bulletin))
        return render(request, "admin/mailing/bulletin/compose.html", ctx)

    def _sending_context(
        self, request: HttpRequest, bulletin: Bulletin, progress: services.Progress | None = None
    ) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "progress": progress_data(bulletin, progress),
            "progress_url": reverse("admin:mailing_bulletin_progress", args=[bulletin.pk]),
            "can_change": self.has_change_permission(request, bulletin),
            "my_email": getattr(request.user, "email", ""),
        }
        if bulletin.status in (Bulletin.Status.FAILED, Bulletin.Status.SENT):
            ctx["resendable"] = bulletin.deliveries.filter(status=Delivery.Status.FAILED).count()
        if bulletin.is_editable:
            ctx["recipient_count"] = audience.recipient_count(bulletin.mailing_list)
            ctx["schedule_form"] = ScheduleForm(
                initial={
                    "scheduled_at": bulletin.scheduled_at
                    and timezone.localtime(bulletin.scheduled_at)
                }
            )
        return ctx

    def _status(self, request: HttpRequest, bulletin: Bulletin) -> HttpResponse:
        progress = services.bulletin_progress(bulletin)
        ctx = self._context(
            request,
            title=bulletin.subject,
            bulletin=bulletin,
            copy=services.archived_copy(bulletin),
            **self._sending_context(request, bulletin, progress),
        )
        if bulletin.status in (Bulletin.Status.SENT, Bulletin.Status.CANCELLED):
            people = can_see_personal_data(request.user)
            ctx["report"] = self._report(bulletin, progress, people=people)
        return render(request, "admin/mailing/bulletin/status.html", ctx)

    def _report(
        self, bulletin: Bulletin, progress: services.Progress, *, people: bool
    ) -> dict[str, Any]:
        counts = progress.counts
        labels = dict(Delivery.Status.choices)
        skips = (
            bulletin.deliveries.filter(status=Delivery.Status.SKIPPED)
            .values_list("skip_reason")
            .annotate(n=Count("pk"))
            .order_by()
        )
        reasons = dict(Delivery.SkipReason.choices)
        problems = bulletin.deliveries.filter(status__in=FAILED).order_by("pk")
        return {
            "outcomes": [(labels[s], counts[s]) for s in Delivery.Status.values if counts.get(s)],
            "skips": [(reasons.get(r, r or "-"), n) for r, n in skips],
            "unreached": list(services.unreached_members(bulletin)),
            "unreachable": list(services.members_without_reachable_contact()),
            # Which addresses failed is personal data: the count for everyone, the list only
            # for those who may see contacts.
            "problems": list(problems[:100]) if people else [],
            "problem_count": sum(counts.get(s, 0) for s in FAILED),
            "temporary_count": bulletin.deliveries.filter(soft_bounces__gt=0).count(),
            "deliveries_url": reverse("admin:mailing_delivery_changelist")
            + f"?bulletin__id__exact={bulletin.pk}",
            "temporary_url": reverse("admin:mailing_delivery_changelist")
            + f"?bulletin__id__exact={bulletin.pk}&temporary=yes",
        }

    # -- autosave, preview, progress, actions

    def autosave_view(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if pk is None:
            if not self.has_add_permission(request):
                raise PermissionDenied
            bulletin = None
        else:
            bulletin = self._bulletin(request, pk, change=True)
        form = BulletinForm(request.POST, autosave=True)
        if not form.is_valid():
            errors = {k: [str(e) for e in v] for k, v in form.errors.items()}
            return JsonResponse({"saved": False, "errors": errors}, status=400)
        try:
            bulletin = services.save_bulletin(bulletin, by=_user(request), **form.cleaned_data)
        except ValidationError as exc:
            status = 409 if getattr(exc, "code", "") == "not_editable" else 400
            return JsonResponse(
                {"saved": False, "errors": {"__all__": exc.messages}}, status=status
            )
        return JsonResponse(
            {
                "saved": True,
                "id": bulletin.pk,
                "saved_at": date_format(timezone.localtime(bulletin.updated_at), "H:i:s"),
                "change_url": reverse("admin:mailing_bulletin_change", args=[bulletin.pk]),
                "autosave_url": reverse("admin:mailing_bulletin_autosave", args=[bulletin.pk]),
            }
        )

    def progress_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        return JsonResponse(progress_data(self._bulletin(request, pk)))

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        bulletin = self._bulletin(request, pk)
        if not request.user.has_perm("association.view_contact"):
            # Choosing a recipient lists people's names and addresses.
            raise PermissionDenied
        candidates = (
            audience.recipients(bulletin.mailing_list)
            .select_related("member__local_government__prefecture")
            .order_by("member__local_government_id", "kana", "pk")
        )
        query = request.GET.get("q", "").strip()
        condition = folded_q(query, ["search_text"])
        if condition is not None:
            candidates = candidates.filter(condition)
        choices = list(candidates[:200])
        contact = None
        chosen = request.GET.get("contact", "")
        if chosen.isdigit():
            contact = get_object_or_404(audience.candidates(bulletin.mailing_list), pk=chosen)
        elif choices:
            contact = choices[0]
        try:
            rendered = services.preview_bulletin(bulletin, contact=contact)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:mailing_bulletin_change", args=[pk]))
        ctx = self._context(
            request,
            title=_("プレビュー"),
            bulletin=bulletin,
            rendered=rendered,
            contact=contact,
            choices=choices,
            query=query,
            **self._sending_context(request, bulletin),
        )
        return render(request, "admin/mailing/bulletin/preview.html", ctx)

    def action_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in ACTIONS:
            raise Http404
        bulletin = self._bulletin(request, pk, change=True)
        user = _user(request)
        back = request.POST.get("next", "")
        if not back.startswith(reverse("admin:mailing_bulletin_changelist")):
            back = reverse("admin:mailing_bulletin_change", args=[pk])
        try:
            level, message = getattr(self, f"_do_{action}")(request, bulletin, user)
        except ValidationError as exc:
            level, message = messages.ERROR, " ".join(exc.messages)
        self.message_user(request, message, level)
        return HttpResponseRedirect(back)

    def _do_test(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        email = getattr(request.user, "email", "")
        if not email:
            return messages.ERROR, _(
                "あなたのアカウントにメールアドレスが登録されていないため、テスト送信できません。"
            )
        services.send_test_bulletin(bulletin, to=email, by=user)
        return messages.INFO, _(
            "テスト送信を依頼しました（宛先: %(email)s）。配信業者が受け付けたかどうかを、"
            "この画面の「送信」欄に表示します。"
        ) % {"email": email}

    def _do_start(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        started = services.start_bulletin(bulletin, by=user)
        if bulletin.status not in Bulletin.EDITABLE:
            return messages.WARNING, _("この配信はすでに送信を始めています。")
        if started.status != Bulletin.Status.SENDING:
            return messages.WARNING, _("この配信は送信を始められませんでした。")
        return messages.SUCCESS, _("送信を開始しました。")

    def _do_schedule(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        form = ScheduleForm(request.POST)
        if not form.is_valid():
            errors = [str(e) for errs in form.errors.values() for e in errs]
            return messages.ERROR, " ".join(errors)
        at = form.cleaned_data["scheduled_at"]
        services.schedule_bulletin(bulletin, at=at, by=user)
        when = date_format(timezone.localtime(at), "Y年n月j日 H:i")
        return messages.SUCCESS, _("%(at)s に送信を予約しました。") % {"at": when}

    def _do_unschedule(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        services.unschedule_bulletin(bulletin, by=user)
        return messages.SUCCESS, _("予約を取り消しました。下書きに戻っています。")

    def _do_pause(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        services.pause_bulletin(bulletin, by=user)
        return messages.SUCCESS, _(
            "一時停止しています。送信処理が止まると「一時停止中」と表示されます（数秒）。"
        )

    def _do_resume(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        services.resume_bulletin(bulletin, by=user)
        return messages.SUCCESS, _("送信を再開しました。")

    def _do_resend(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        again = services.resend_failed_deliveries(bulletin, by=user)
        return messages.SUCCESS, _(
            "送れなかった %(n)d 件と、まだ送っていない宛先への送信を始めました。"
        ) % {"n": again}

    def _do_cancel(self, request: HttpRequest, bulletin: Bulletin, user: User | None) -> Any:
        services.cancel_bulletin(bulletin, by=user)
        return messages.WARNING, _("送信を中止しました。送信済みのメールは取り消せません。")
