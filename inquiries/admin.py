"""The secretariat's side of 照会 and surveys: compose (questions embedded), send, follow the
response rate, remind, read one municipality's answer (answer, upload or reopen on its
behalf), aggregate with charts, export. Every change goes through inquiries.services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from association.forms import DATE_HELP, JapaneseDateField, JapaneseDateTimeField
from association.models import Member, User
from association.privacy import can_see_personal_data
from questions import xlsx
from questions.admin import OwnedQuestionFormSet, OwnedQuestionInline
from questions.forms import AnswerForm

from . import results, services
from .models import Inquiry, Invitation, Reply
from .views import UploadForm

PRIVACY_WARNING = gettext_lazy(
    "照会・アンケートは、団体としての回答や研修会の感想を伺うためのものです。"
    "個人情報や相談内容などの要配慮個人情報（相談者の氏名、相談の内容、病歴など）を"
    "尋ねる設問は作らないでください。"
)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class InquiryForm(forms.ModelForm):
    member_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("会員種別"),
        choices=Member.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("選ばなければすべての種別。"),
    )
    opens_at = JapaneseDateTimeField(
        label=gettext_lazy("送信日時"),
        required=False,
        widget=forms.DateTimeInput(attrs={"placeholder": "2026/4/1 9:30"}, format="%Y/%m/%d %H:%M"),
        help_text=gettext_lazy(
            "空欄なら「送信」を押したとき。例: 令和8年4月1日 9:30、2026/4/1 14時"
        ),
    )
    reminder_days = forms.CharField(
        label=gettext_lazy("督促（期限の何営業日前）"),
        required=False,
        help_text=gettext_lazy(
            "「3, 1」のように。未提出の団体にだけ送ります。空欄なら送りません。"
        ),
    )

    class Meta:
        model = Inquiry
        fields = [
            "kind",
            "title",
            "purpose",
            "body",
            "all_members",
            "blocks",
            "prefectures",
            "partners",
            "member_kinds",
            "training",
            "anonymous",
            "required_for_certificate",
            "opens_at",
            "deadline",
            "reminder_days",
            "published",
            "publish_text",
        ]
        field_classes = {"deadline": JapaneseDateField}
        widgets = {
            "deadline": forms.DateInput(attrs={"placeholder": "2026/4/1"}, format="%Y/%m/%d"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["reminder_days"] = ", ".join(str(d) for d in self.instance.reminder_days)
        else:
            self.initial.setdefault("reminder_days", "3, 1")

    def clean_reminder_days(self) -> list[int]:
        try:
            return services.clean_reminder_days(self.cleaned_data.get("reminder_days"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class InquiryQuestionFormSet(OwnedQuestionFormSet):
    """The questions of a 照会 or survey, with the rule inquiries adds: no new required
    question once answers have been submitted (inquiries.services.check_question)."""

    def clean(self) -> None:
        super().clean()
        deleted = set(self.deleted_forms)
        for form in self.forms:
            if form in deleted or not form.has_changed() or not hasattr(form, "cleaned_data"):
                continue
            try:
                services.check_question(
                    self.owner,
                    required=bool(form.cleaned_data.get("required")),
                    # The form has already copied its data onto the instance: read the start.
                    was_required=bool(form.instance.pk and form.initial.get("required")),
                )
            except ValidationError as exc:
                form.add_error("required", exc.messages)


class InquiryQuestionInline(OwnedQuestionInline):
    owner_formset = InquiryQuestionFormSet


class ReopenForm(forms.Form):
    until = JapaneseDateField(
        label=gettext_lazy("再開の期限"),
        help_text=DATE_HELP,
        widget=forms.DateInput(attrs={"placeholder": "2026/4/1"}, format="%Y/%m/%d"),
        error_messages={"required": gettext_lazy("再開の期限を入力してください。")},
    )


@admin.register(Inquiry)
class InquiryAdmin(admin.ModelAdmin):
    form = InquiryForm
    list_display = ("title", "kind", "state", "deadline", "response", "sent_at")
    list_filter = ("kind", "status")
    search_fields = ("title",)
    filter_horizontal = ("blocks", "prefectures")
    autocomplete_fields = ()
    inlines = (InquiryQuestionInline,)
    fieldsets = (
        (None, {"description": PRIVACY_WARNING, "fields": ("kind", "title", "purpose", "body")}),
        (
            gettext_lazy("宛先（照会）"),
            {
                "description": gettext_lazy(
                    "メーリングリストと同じ条件で団体を選びます。各団体の取りまとめ担当"
                    "（いなければ担当者全員）に依頼メールが届きます。"
                ),
                "fields": ("all_members", "blocks", "prefectures", "partners", "member_kinds"),
            },
        ),
        (
            gettext_lazy("研修会アンケート"),
            {"fields": ("training", "anonymous", "required_for_certificate")},
        ),
        (gettext_lazy("期限"), {"fields": ("opens_at", "deadline", "reminder_days")}),
        (gettext_lazy("結果の公開"), {"fields": ("published", "publish_text")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Inquiry]:
        def count(model: Any, **where: Any) -> Any:
            rows = model.objects.filter(inquiry=OuterRef("pk"), **where).order_by()
            return Subquery(rows.values("inquiry").annotate(n=Count("pk")).values("n")[:1])

        return (
            super()
            .get_queryset(request)
            .annotate(
                n_replies=count(Reply),
                n_submitted=count(Reply, status=Reply.Status.SUBMITTED),
                n_invited=count(Invitation),
            )
        )

    @admin.display(description=gettext_lazy("状態"), ordering="status")
    def state(self, obj: Inquiry) -> str:
        if obj.status == Inquiry.Status.OPEN and obj.is_past_deadline():
            return _("回答期限後（再開した団体のみ受付）")
        return obj.get_status_display()

    @admin.display(description=gettext_lazy("回答"))
    def response(self, obj: Inquiry) -> str:
        # A 照会 asks each member (one reply each); a survey asks each attendee and makes a
        # reply only when one answers.
        asked = getattr(obj, "n_invited" if obj.is_survey else "n_replies", None) or 0
        return f"{getattr(obj, 'n_submitted', None) or 0} / {asked}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.status not in Inquiry.EDITABLE:
            return (
                "kind",
                "all_members",
                "blocks",
                "prefectures",
                "partners",
                "member_kinds",
                "training",
                "anonymous",
                "opens_at",
                "deadline",
            )
        return ()

    def save_model(self, request: HttpRequest, obj: Inquiry, form: Any, change: bool) -> None:
        services.save_inquiry(obj, by=_user(request))

    def get_urls(self) -> list[Any]:
        def view(name: str, suffix: str, func: Any) -> Any:
            return path(suffix, self.admin_site.admin_view(func), name=f"inquiries_inquiry_{name}")

        return [
            view("send", "<int:pk>/send/", self.send_view),
            view("progress", "<int:pk>/progress/", self.progress_view),
            view("results", "<int:pk>/results/", self.results_view),
            view("export", "<int:pk>/answers.xlsx", self.export_view),
            view("reply", "<int:pk>/replies/<int:reply_pk>/", self.reply_view),
            *super().get_urls(),
        ]

    def _inquiry(self, request: HttpRequest, pk: int, *, change: bool = False) -> Inquiry:
        inquiry = get_object_or_404(Inquiry.objects.select_related("question_set"), pk=pk)
        allowed = (
            self.has_change_permission(request, inquiry)
            if change
            else self.has_view_permission(request, inquiry)
        )
        if not allowed:
            raise PermissionDenied
        return inquiry

    def _ctx(
        self, request: HttpRequest, inquiry: Inquiry, title: str, **extra: Any
    ) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "inquiry": inquiry,
            "title": title,
            **extra,
        }

    def send_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        inquiry = self._inquiry(request, pk, change=True)
        if request.method == "POST":
            try:
                inquiry = services.send_inquiry(inquiry, by=_user(request))
            except ValidationError as exc:
                for message in exc.messages:
                    self.message_user(request, message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:inquiries_inquiry_change", args=[pk]))
            if inquiry.status == Inquiry.Status.SCHEDULED:
                self.message_user(request, _("送信を予約しました。"))
            else:
                self.message_user(request, _("依頼メールの送信を始めました。"))
            return HttpResponseRedirect(reverse("admin:inquiries_inquiry_progress", args=[pk]))
        members = None if inquiry.is_survey else services.audience_members(inquiry).count()
        return render(
            request,
            "admin/inquiries/inquiry/send.html",
            self._ctx(request, inquiry, _("送信の確認"), members=members),
        )

    def progress_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        inquiry = self._inquiry(request, pk)
        if request.method == "POST":
            if not self.has_change_permission(request, inquiry):
                raise PermissionDenied
            try:
                count = services.remind_unsubmitted(inquiry, by=_user(request))
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, _("督促を%(n)d通送りました。") % {"n": count})
            return HttpResponseRedirect(reverse("admin:inquiries_inquiry_progress", args=[pk]))
        ctx = self._ctx(
            request,
            inquiry,
            _("回答状況"),
            progress=services.progress(inquiry),
            waiting=[] if inquiry.is_survey else services.unsubmitted(inquiry),
            replies=[] if inquiry.is_survey else list(services.replies_of(inquiry)),
            show_people=can_see_personal_data(request.user),
            reminders=list(inquiry.reminders.all()[:20]),
            can_change=self.has_change_permission(request, inquiry),
        )
        return render(request, "admin/inquiries/inquiry/progress.html", ctx)

    def results_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        inquiry = self._inquiry(request, pk)
        ctx = {**self._ctx(request, inquiry, _("集計")), **results.context(inquiry)}
        return render(request, "admin/inquiries/inquiry/results.html", ctx)

    def export_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        inquiry = self._inquiry(request, pk)
        response = HttpResponse(
            services.export_xlsx(inquiry, by=_user(request)), content_type=xlsx.XLSX_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="inquiry-{pk}-answers.xlsx"'
        return response

    def reply_view(self, request: HttpRequest, pk: int, reply_pk: int) -> HttpResponse:
        """One municipality's answer: read it, or (with change permission) answer, upload its
        調査票 on its behalf, or reopen it after the deadline."""
        inquiry = self._inquiry(request, pk)
        reply = get_object_or_404(
            Reply.objects.select_related("member__local_government__prefecture", "answer_set"),
            pk=reply_pk,
            inquiry=inquiry,
            member__isnull=False,
        )
        can_change = self.has_change_permission(request, inquiry)
        current = services.questions.answer_values(reply.answer_set)
        form = AnswerForm(
            inquiry.question_set,
            answers=current,
            revision=reply.answer_set.revision,
            disabled=not can_change,
        )
        upload = UploadForm()
        reopen = ReopenForm(initial={"until": timezone.localdate() + dt.timedelta(days=7)})
        upload_errors: list[str] = []
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            action = request.POST.get("action", "")
            try:
                if action == "reopen":
                    reopen = ReopenForm(request.POST)
                    if reopen.is_valid():
                        services.reopen_reply(
                            reply, until=reopen.cleaned_data["until"], by=_user(request)
                        )
                        self.message_user(
                            request, _("%(m)sの回答を再開しました。") % {"m": reply.member}
                        )
                        return HttpResponseRedirect(request.path)
                elif action == "upload":
                    upload = UploadForm(request.POST, request.FILES)
                    if upload.is_valid():
                        data = upload.cleaned_data["file"].read(xlsx.MAX_FILE_BYTES + 1)
                        services.upload_reply(reply, data, by=_user(request), submit=True)
                        self.message_user(request, _("調査票を読み込み、提出済みにしました。"))
                        return HttpResponseRedirect(request.path)
                else:
                    form = AnswerForm(
                        inquiry.question_set, request.POST, answers=current, require=True
                    )
                    if form.is_valid():
                        services.save_reply(
                            reply,
                            form.answers(),
                            by=_user(request),
                            submit=True,
                            expected_revision=form.expected_revision(),
                        )
                        self.message_user(request, _("回答を保存し、提出済みにしました。"))
                        return HttpResponseRedirect(request.path)
            except ValidationError as exc:
                if action == "upload":
                    upload_errors = list(exc.messages)
                elif action == "reopen":
                    reopen.add_error(None, exc)
                else:
                    form.apply_errors(exc)
        ctx = self._ctx(
            request,
            inquiry,
            _("%(m)sの回答") % {"m": reply.member},
            reply=reply,
            form=form,
            upload=upload,
            upload_errors=upload_errors,
            reopen=reopen,
            can_change=can_change,
            history=list(services.history(reply)[:100]),
            show_people=can_see_personal_data(request.user),
        )
        return render(request, "admin/inquiries/inquiry/reply.html", ctx)
