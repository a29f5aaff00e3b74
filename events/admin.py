"""The secretariat's side of trainings. Every change goes through events.services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from association.admin_dates import NendoFilter
from association.admin_lists import CappedPaginator
from association.models import User
from association.privacy import PersonalDataAdminMixin
from association.search import FoldedSearchMixin
from questions.admin import OwnedQuestionInline

from . import exports, services
from .forms import CallOffForm, ColleagueForm, MailRegistrantsForm, OnBehalfForm, ReasonForm
from .models import Notice, Registration, Training, TrainingSession


class TrainingSessionInline(admin.TabularInline):
    model = TrainingSession
    extra = 0


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _export(request: HttpRequest, registrations: Any, filename: str, fmt: str) -> HttpResponse:
    """A participant list leaves the system: recorded with who, when and what."""
    from association.services import audit_export

    rows = list(registrations)
    trainings = sorted({r.training_id for r in rows})
    audit_export(
        request.user if isinstance(request.user, User) else None,
        "participants_exported",
        str(_("参加者一覧を出力")),
        format=fmt,
        rows=len(rows),
        trainings=",".join(str(pk) for pk in trainings),
    )
    if fmt == "csv":
        return exports.csv_response(rows, filename)
    return exports.xlsx_response(rows, filename)


def _may_export_people(request: HttpRequest) -> bool:
    return request.user.has_perms(["events.view_registration", "association.view_contact"])


class TrainingQuestionInline(OwnedQuestionInline):
    """The registration form's questions (配慮事項, 所属長名, 懇親会の出欠…), asked per person."""

    verbose_name = _("申込みの設問")
    verbose_name_plural = _("申込みの設問（参加者ごとに回答）")


@admin.register(Training)
class TrainingAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    list_display = [
        "title",
        "kind",
        "block",
        "nendo_display",
        "starts_at",
        "status",
        "capacity",
        "confirmed",
        "waitlisted",
        "participants",
    ]
    list_filter = ["status", "kind", NendoFilter, "block"]
    search_fields = ["title", "venue_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["block"]
    inlines = [TrainingSessionInline, TrainingQuestionInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["duplicate_for_next_nendo", "export_csv", "export_xlsx"]
    fieldsets = [
        (None, {"fields": ["kind", "nendo", "title", "description", "block", "status"]}),
        (
            _("日時・会場"),
            {"fields": ["starts_at", "ends_at", "venue_name", "venue_address", "online_url"]},
        ),
        (
            _("申込み"),
            {
                "fields": [
                    "capacity",
                    "per_member_limit",
                    "audience",
                    "others_from",
                    "opens_at",
                    "closes_at",
                    "close_working_days",
                    "reminder_days",
                ]
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Training]:
        return super().get_queryset(request).with_counts()  # type: ignore[attr-defined]

    @admin.display(description=_("年度"), ordering="nendo")
    def nendo_display(self, obj: Training) -> str:
        return obj.nendo_label

    @admin.display(description=_("確定"))
    def confirmed(self, obj: Training) -> int:
        return getattr(obj, "confirmed_count", 0)

    @admin.display(description=_("キャンセル待ち"))
    def waitlisted(self, obj: Training) -> int:
        return getattr(obj, "waitlisted_count", 0)

    @admin.display(description=_("参加者"))
    def participants(self, obj: Training) -> str:
        url = reverse("admin:events_registration_changelist") + f"?training__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("一覧"))

    def save_model(self, request: HttpRequest, obj: Training, form: Any, change: bool) -> None:
        services.save_training(obj, changed=form.changed_data, by=_user(request))

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "<int:pk>/participants.csv",
                self.admin_site.admin_view(self.csv_view),
                name="events_training_csv",
            ),
            path(
                "<int:pk>/participants.xlsx",
                self.admin_site.admin_view(self.xlsx_view),
                name="events_training_xlsx",
            ),
            path(
                "<int:pk>/summary/",
                self.admin_site.admin_view(self.summary_view),
                name="events_training_summary",
            ),
            path(
                "<int:pk>/mail/",
                self.admin_site.admin_view(self.mail_view),
                name="events_training_mail",
            ),
            path(
                "<int:pk>/registrations/",
                self.admin_site.admin_view(self.registrations_view),
                name="events_training_registrations",
            ),
            path(
                "<int:pk>/call-off/",
                self.admin_site.admin_view(self.call_off_view),
                name="events_training_call_off",
            ),
        ]
        return own + super().get_urls()

    def _training(self, request: HttpRequest, pk: int, *, change: bool = False) -> Training:
        training = get_object_or_404(Training.objects.select_related("block"), pk=pk)
        allowed = (
            self.has_change_permission(request, training)
            if change
            else self.has_view_permission(request, training)
        )
        if not allowed:
            raise PermissionDenied
        return training

    def _participants(self, trainings: Any) -> QuerySet[Registration]:
        return (
            Registration.objects.active()
            .filter(training__in=trainings)
            .with_people()
            .order_by("training__starts_at", "training_id", "status", "member_id", "id")
        )

    def has_export_permission(self, request: HttpRequest) -> bool:
        # A participant list is personal data: it takes the right to see registrations and
        # contacts, not only trainings.
        return _may_export_people(request)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and "_confirm_change" not in request.POST:
            asked = self._ask_before_mailing(request, object_id)
            if asked is not None:
                return asked
        extra_context = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _ask_before_mailing(self, request: HttpRequest, object_id: str) -> HttpResponse | None:
        """A save that registrants must hear about first shows what changed (変更前 → 変更後)
        and how many people will be mailed, and asks; the same data is posted again with
        _confirm_change. Anything else (errors included) goes to the usual change view."""
        training = self.get_object(request, object_id)
        if training is None or not self.has_change_permission(request, training):
            return None
        before = Training.objects.get(pk=training.pk)
        form = self.get_form(request, training, change=True)(
            request.POST, request.FILES, instance=training
        )
        if not form.is_valid():
            return None
        after = form.save(commit=False)
        lines = services.describe_changes(before, after)
        registrants = before.registrations.active().count()
        if not lines or not registrants or before.status == Training.Status.DRAFT:
            return None
        ctx = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "training": before,
            "lines": lines,
            "registrants": registrants,
            "posted": [(k, v) for k in request.POST for v in request.POST.getlist(k)],
            "title": _("変更を保存して申込者に知らせますか"),
        }
        return render(request, "admin/events/training/confirm_change.html", ctx)

    def _require_export(self, request: HttpRequest) -> None:
        if not self.has_export_permission(request):
            raise PermissionDenied

    def csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._require_export(request)
        training = self._training(request, pk)
        return _export(request, self._participants([training]), f"training-{pk}", "csv")

    def xlsx_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._require_export(request)
        training = self._training(request, pk)
        return _export(request, self._participants([training]), f"training-{pk}", "xlsx")

    @admin.action(description=_("参加者をCSVで出力"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Training]) -> HttpResponse:
        return _export(request, self._participants(queryset), "participants", "csv")

    @admin.action(description=_("参加者をExcelで出力"), permissions=["export"])
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[Training]) -> HttpResponse:
        return _export(request, self._participants(queryset), "participants", "xlsx")

    @admin.action(description=_("翌年度に複製（下書き）"), permissions=["add"])
    def duplicate_for_next_nendo(self, request: HttpRequest, queryset: QuerySet[Training]) -> None:
        for training in queryset:
            copy = services.duplicate_training(training, by=_user(request))
            self.message_user(
                request,
                _("「%(title)s」を%(nendo)sの下書きとして複製しました。")
                % {"title": copy.title, "nendo": copy.nendo_label},
            )

    def summary_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        training = self._training(request, pk)
        confirmed = Q(status=Registration.Status.CONFIRMED)
        prefecture = "member__local_government__prefecture"
        rows = (
            Registration.objects.active()
            .filter(training=training)
            .values(f"{prefecture}__block__name", f"{prefecture}__code", f"{prefecture}__name")
            .annotate(
                confirmed=Count("id", filter=confirmed),
                waitlisted=Count("id", filter=Q(status=Registration.Status.WAITLISTED)),
                attended=Count("id", filter=confirmed & Q(attendance="attended")),
                absent=Count("id", filter=confirmed & Q(attendance="absent")),
                members=Count("member", distinct=True),
            )
            .order_by(f"{prefecture}__block__sort_order", f"{prefecture}__code")
        )
        by_block: dict[str, dict[str, int]] = {}
        table = []
        for row in rows:
            block = row[f"{prefecture}__block__name"]
            totals = by_block.setdefault(
                block, {"confirmed": 0, "waitlisted": 0, "attended": 0, "absent": 0}
            )
            for key in totals:
                totals[key] += row[key]
            table.append({"block": block, "prefecture": row[f"{prefecture}__name"], **row})
        ctx = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "training": training,
            "rows": table,
            "blocks": by_block,
            "title": _("申込み状況（ブロック別・都道府県別）"),
        }
        return render(request, "admin/events/training/summary.html", ctx)

    def mail_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        training = self._training(request, pk, change=True)
        form = MailRegistrantsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = services.mail_registrants(training, by=_user(request), **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request, _("%(count)d 名に送信を予約しました。") % {"count": count}
                )
                return HttpResponseRedirect(reverse("admin:events_training_change", args=[pk]))
        ctx = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "training": training,
            "form": form,
            "title": _("申込者へのメール"),
        }
        return render(request, "admin/events/training/mail.html", ctx)

    def registrations_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """申込みの管理: the seats and the waiting list in order; the secretariat registers,
        cancels, substitutes or confirms out of turn for a municipality, each through the
        portal's services and audited. Names need the contact view permission."""
        from association.privacy import can_see_personal_data

        training = self._training(request, pk, change=True)
        if not (
            can_see_personal_data(request.user)
            and request.user.has_perm("events.change_registration")
        ):
            raise PermissionDenied
        here = reverse("admin:events_training_registrations", args=[pk])
        on_behalf = OnBehalfForm(prefix="new")
        if request.method == "POST":
            act = request.POST.get("act", "")
            if act in self.ASKED_ACTS and "confirmed" not in request.POST:
                try:
                    return self._ask_before_moving(request, training, act)
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
                    return HttpResponseRedirect(here)
            try:
                done = self._registration_act(request, training, act)
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                if isinstance(done, OnBehalfForm):
                    on_behalf = done
                else:
                    self.message_user(request, done)
                    return HttpResponseRedirect(here)
        registrations = list(
            Registration.objects.active()
            .filter(training=training)
            .select_related("contact", "member__local_government__prefecture")
            .order_by("id")
        )
        exports.attach_answers(registrations)
        waiting = sorted(
            (r for r in registrations if not r.is_confirmed),
            key=lambda r: (r.queue_position if r.queue_position is not None else 0, r.pk),
        )
        for place, registration in enumerate(waiting, start=1):
            registration.known_place = place
        colleagues: dict[int, Any] = {}
        for registration in registrations:
            if registration.member_id not in colleagues:
                colleagues[registration.member_id] = [
                    c
                    for c in registration.member.contacts.active().order_by("kana", "id")
                    if c.pk not in {r.contact_id for r in registrations}
                ]
        ctx = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "training": training,
            "confirmed": [r for r in registrations if r.is_confirmed],
            "waiting": waiting,
            "colleagues": colleagues,
            "on_behalf": on_behalf,
            "reason_form": ReasonForm(),
            "title": _("申込みの管理"),
        }
        return render(request, "admin/events/training/registrations.html", ctx)

    # Moves on the waiting list are shown first and done only when confirmed.
    ASKED_ACTS = ("to_waiting", "reorder")

    def _move_request(
        self, request: HttpRequest, training: Training, act: str
    ) -> tuple[Registration, str, dict[str, Any]]:
        """The registration, the reason and what was asked, from a move's POST."""
        registration = get_object_or_404(
            Registration.objects.select_related("contact", "member"),
            pk=request.POST.get("registration") or 0,
            training=training,
        )
        why = ReasonForm(request.POST)
        if not why.is_valid():
            raise ValidationError(_("理由を入力してください。"))
        if act == "to_waiting":
            where = request.POST.get("where")
            if where not in ("head", "tail"):
                raise ValidationError(_("キャンセル待ちの先頭か最後かを選んでください。"))
            return registration, why.cleaned_data["reason"], {"at_head": where == "head"}
        current = registration.waitlist_place() or 0
        direction = request.POST.get("direction", "")
        if direction == "up":
            place = current - 1
        elif direction == "down":
            place = current + 1
        else:
            try:
                place = int(request.POST.get("place", ""))
            except ValueError:
                raise ValidationError(_("移す先の順番を数字で入力してください。")) from None
        if place < 1:
            raise ValidationError(_("これより前には移せません。"))
        return registration, why.cleaned_data["reason"], {"place": place, "current": current}

    def _ask_before_moving(self, request: HttpRequest, training: Training, act: str) -> Any:
        registration, reason, asked = self._move_request(request, training, act)
        if act == "to_waiting":
            question = (
                _(
                    "%(name)s さんを参加確定からキャンセル待ちの先頭に移します。"
                    "空いた席はキャンセル待ちの順に繰り上げ、本人と繰り上がる方にメールで知らせます。"
                )
                if asked["at_head"]
                else _(
                    "%(name)s さんを参加確定からキャンセル待ちの最後に移します。"
                    "空いた席はキャンセル待ちの順に繰り上げ、本人と繰り上がる方にメールで知らせます。"
                )
            ) % {"name": registration.contact.name}
        else:
            question = _(
                "%(name)s さんのキャンセル待ちの順番を %(before)d 番目から %(after)d 番目に移します。"
            ) % {
                "name": registration.contact.name,
                "before": asked["current"],
                "after": asked["place"],
            }
        ctx = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "training": training,
            "question": question,
            "reason": reason,
            # Up and down become the place asked, so the confirmed act does what was shown.
            "posted": [
                (k, v)
                for k in request.POST
                if k not in ("csrfmiddlewaretoken", "direction", "place")
                for v in request.POST.getlist(k)
            ]
            + ([("place", str(asked["place"]))] if act == "reorder" else []),
            "title": _("この操作を行いますか"),
        }
        return render(request, "admin/events/training/confirm_move.html", ctx)

    def _registration_act(self, request: HttpRequest, training: Training, act: str) -> Any:
        user = _user(request)
        if act == "register":
            form = OnBehalfForm(request.POST, prefix="new")
            if not form.is_valid():
                return form
            registration = services.register_on_behalf(
                training, contact=form.cleaned_data["contact"], by=user
            )
            return _("%(name)s さんを代理申込みしました（%(status)s）。") % {
                "name": registration.contact.name,
                "status": registration.get_status_display(),
            }
        registration = get_object_or_404(
            Registration.objects.select_related("contact", "training"),
            pk=request.POST.get("registration") or 0,
            training=training,
        )
        if act == "cancel":
            services.cancel_registration(registration, by=user)
            return _(
                "%(name)s さんの申込みを取り消しました。次の方への繰り上げとメールは自動で行います。"
            ) % {"name": registration.contact.name}
        if act == "substitute":
            colleagues = registration.member.contacts.active()
            pick = ColleagueForm(request.POST, colleagues=colleagues)
            if not pick.is_valid():
                raise ValidationError(_("差し替える方を選んでください。"))
            services.substitute_registration(
                registration, contact=pick.cleaned_data["contact"], by=user
            )
            return _("参加者を %(name)s さんに差し替えました。") % {
                "name": pick.cleaned_data["contact"].name
            }
        if act == "confirm":
            why = ReasonForm(request.POST)
            if not why.is_valid():
                raise ValidationError(_("理由を入力してください。"))
            services.confirm_out_of_turn(registration, reason=why.cleaned_data["reason"], by=user)
            return _("%(name)s さんを参加確定にしました。") % {"name": registration.contact.name}
        if act == "to_waiting":
            registration, reason, asked = self._move_request(request, training, act)
            promoted = services.move_to_waiting_list(
                registration, at_head=asked["at_head"], reason=reason, by=user
            )
            names = "、".join(p.contact.name for p in promoted) or str(_("なし"))
            return _("%(name)s さんをキャンセル待ちに移しました。繰り上がった方: %(promoted)s") % {
                "name": registration.contact.name,
                "promoted": names,
            }
        if act == "reorder":
            registration, reason, asked = self._move_request(request, training, act)
            place = services.reorder_waiting_list(
                registration, place=asked["place"], reason=reason, by=user
            )
            return _("%(name)s さんをキャンセル待ちの %(place)d 番目にしました。") % {
                "name": registration.contact.name,
                "place": place,
            }
        raise ValidationError(_("この操作はできません。"))

    def call_off_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        training = self._training(request, pk, change=True)
        form = CallOffForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.call_off_training(
                training, by=_user(request), reason=form.cleaned_data["reason"]
            )
            self.message_user(
                request, _("研修会を中止し、申込者にお知らせしました。"), messages.WARNING
            )
            return HttpResponseRedirect(reverse("admin:events_training_change", args=[pk]))
        ctx = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "training": training,
            "form": form,
            "title": _("研修会の中止"),
        }
        return render(request, "admin/events/training/call_off.html", ctx)


class BlockFilter(admin.SimpleListFilter):
    title = _("ブロック")
    parameter_name = "block"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from association.models import Block

        return [(str(b.pk), b.name) for b in Block.objects.all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        block_id = int(self.value() or 0)
        return queryset.filter(
            Q(member__block_override_id=block_id)
            | Q(
                member__block_override__isnull=True,
                member__local_government__prefecture__block_id=block_id,
            )
        )


@admin.register(Registration)
class RegistrationAdmin(FoldedSearchMixin, PersonalDataAdminMixin, admin.ModelAdmin):
    personal_display = ("contact_name",)
    list_display = [
        "contact_name",
        "member_name",
        "prefecture",
        "training",
        "status",
        "attendance",
        "created_at",
        "reminder_sent_at",
    ]
    list_filter = [
        "training",
        "status",
        "attendance",
        BlockFilter,
        "member__local_government__prefecture",
    ]
    search_fields = ["contact__search_text", "member__local_government__search_text"]
    list_select_related = [
        "training",
        "contact",
        "member__local_government__prefecture__block",
        "member__block_override",
    ]
    actions = ["mark_attended", "mark_absent", "export_csv", "export_xlsx"]
    list_per_page = 200
    show_full_result_count = False
    paginator = CappedPaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would free a seat without promotion or mail: cancel from the training's
        # 申込みの管理 page instead (services.cancel_registration).
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Registration._meta.fields]

    @admin.display(description=_("氏名"), ordering="contact__kana")
    def contact_name(self, obj: Registration) -> str:
        return obj.contact.name

    @admin.display(description=_("団体"), ordering="member__local_government_id")
    def member_name(self, obj: Registration) -> str:
        return obj.member.local_government.full_name

    @admin.display(description=_("都道府県"))
    def prefecture(self, obj: Registration) -> str:
        return obj.member.local_government.prefecture.name

    @admin.action(description=_("出席にする"), permissions=["change"])
    def mark_attended(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        count = services.mark_attendance(
            queryset, attendance=Registration.Attendance.ATTENDED, by=_user(request)
        )
        self.message_user(request, _("%(count)d 名を出席にしました。") % {"count": count})
        self._left_unmarked(request, queryset, count)

    @admin.action(description=_("欠席にする"), permissions=["change"])
    def mark_absent(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        count = services.mark_attendance(
            queryset, attendance=Registration.Attendance.ABSENT, by=_user(request)
        )
        self.message_user(request, _("%(count)d 名を欠席にしました。") % {"count": count})
        self._left_unmarked(request, queryset, count)

    def _left_unmarked(
        self, request: HttpRequest, queryset: QuerySet[Registration], count: int
    ) -> None:
        left = queryset.count() - count
        if left:
            self.message_user(
                request,
                _(
                    "%(left)d 名は出欠を記録しませんでした。出欠は、参加が確定した方について、"
                    "研修会の開始後に記録できます。"
                )
                % {"left": left},
                messages.WARNING,
            )

    def has_export_permission(self, request: HttpRequest) -> bool:
        return _may_export_people(request)

    @admin.action(description=_("選択した申込みをCSVで出力"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Registration]) -> HttpResponse:
        return _export(request, queryset.with_people(), "participants", "csv")  # type: ignore[attr-defined]

    @admin.action(description=_("選択した申込みをExcelで出力"), permissions=["export"])
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[Registration]) -> HttpResponse:
        return _export(request, queryset.with_people(), "participants", "xlsx")  # type: ignore[attr-defined]


@admin.register(Notice)
class NoticeAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    personal_display = ("recipient",)
    list_display = ["created_at", "kind", "recipient", "status", "sent_at", "error"]
    list_filter = ["kind", "status"]
    list_select_related = ["contact"]
    search_fields = ["contact__email", "contact__name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("宛先"))
    def recipient(self, obj: Notice) -> str:
        return obj.contact.email
