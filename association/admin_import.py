"""The admin's contact import and export. Import: upload, a dry-run preview, then a confirm step that imports
exactly what was previewed.

The uploaded file is kept by association.import_previews and named in a signed token
together with the preview's fingerprint and the user. The confirm step re-reads that same file
and imports only if the plan is unchanged; if the registry moved meanwhile it shows the new
preview instead. The ContactAdmin prepends import_urls(self) to its get_urls().
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import exporting, import_previews, importing, services
from .models import Contact, User

PERMISSIONS = ("association.view_contact", "association.add_contact", "association.change_contact")
TOKEN_SALT = "association.contact-import"
TOKEN_MAX_AGE = import_previews.MAX_AGE_SECONDS  # then its file is gone (import_previews)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("ファイル"),
        help_text=gettext_lazy(
            "Excel（.xlsx）または CSV（UTF-8 / Shift_JIS）。1行目は見出し"
            "（団体コード・氏名・メールアドレスは必須）。"
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("ファイルが大きすぎます（5MB まで）。"))
        if not upload.name.lower().endswith(SUFFIXES):
            raise forms.ValidationError(_("Excel（.xlsx）または CSV ファイルを選んでください。"))
        return upload


def import_urls(model_admin: admin.ModelAdmin[Contact]) -> list[URLPattern]:
    """The import pages, for ContactAdmin.get_urls() to put before its own."""
    wrap = model_admin.admin_site.admin_view

    def upload(request: HttpRequest) -> HttpResponse:
        return import_view(request, model_admin)

    def confirm(request: HttpRequest) -> HttpResponse:
        return confirm_view(request, model_admin)

    def export(request: HttpRequest) -> HttpResponse:
        return export_view(request, model_admin)

    return [
        path("import/", wrap(upload), name="association_contact_import"),
        path("export/", wrap(export), name="association_contact_export"),
        path(
            "import/confirm/",
            wrap(require_POST(confirm)),
            name="association_contact_import_confirm",
        ),
    ]


def _check_permission(request: HttpRequest) -> User:
    if not request.user.has_perms(PERMISSIONS) or not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _render(
    request: HttpRequest,
    model_admin: admin.ModelAdmin[Contact],
    *,
    form: ImportForm,
    plan: importing.ImportPlan | None = None,
    token: str = "",
    filename: str = "",
) -> HttpResponse:
    opts = Contact._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": _("担当者をExcelから取込"),
        "form": form,
        "plan": plan,
        "token": token,
        "filename": filename,
        "columns": [str(importing.LABELS[name]) for name in importing.FIELDS],
    }
    return render(request, "admin/association/contact/import.html", context)


def import_view(request: HttpRequest, model_admin: admin.ModelAdmin[Contact]) -> HttpResponse:
    _check_permission(request)
    if request.method != "POST":
        return _render(request, model_admin, form=ImportForm())
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, model_admin, form=form)
    upload = form.cleaned_data["file"]
    data = upload.read()
    plan = importing.import_contacts(data, filename=upload.name, dry_run=True)
    token = ""
    if not plan.errors and plan.has_changes:
        stored = import_previews.store(data, Path(upload.name).suffix.lower())
        token = signing.dumps(
            {
                "file": stored,
                "name": upload.name,
                "plan": plan.fingerprint(),
                "user": request.user.pk,
            },
            salt=TOKEN_SALT,
        )
    return _render(request, model_admin, form=form, plan=plan, token=token, filename=upload.name)


def confirm_view(request: HttpRequest, model_admin: admin.ModelAdmin[Contact]) -> HttpResponse:
    user = _check_permission(request)
    start_over = HttpResponseRedirect(reverse("admin:association_contact_import"))
    try:
        ticket = signing.loads(
            request.POST.get("token", ""), salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE
        )
    except signing.BadSignature:
        messages.error(request, _("確認の有効期限が切れました。もう一度ファイルを選んでください。"))
        return start_over
    stored = import_previews.path_of(ticket["file"])
    if ticket.get("user") != user.pk or not stored.is_file():
        messages.error(request, _("確認の有効期限が切れました。もう一度ファイルを選んでください。"))
        return start_over
    data = stored.read_bytes()
    plan = importing.import_contacts(
        data, filename=ticket["name"], by=user, expected=ticket["plan"]
    )
    if plan.applied:
        stored.unlink(missing_ok=True)
        messages.success(
            request,
            _("「%(name)s」を取り込みました: %(summary)s")
            % {"name": ticket["name"], "summary": plan.summary()},
        )
        return HttpResponseRedirect(reverse("admin:association_contact_changelist"))
    token = ""
    if plan.outdated:
        messages.warning(
            request,
            _("確認の後に登録内容が変わりました。新しい内容をもう一度確認してください。"),
        )
        token = signing.dumps({**ticket, "plan": plan.fingerprint()}, salt=TOKEN_SALT)
    else:
        stored.unlink(missing_ok=True)
    return _render(
        request, model_admin, form=ImportForm(), plan=plan, token=token, filename=ticket["name"]
    )


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_view(request: HttpRequest, model_admin: admin.ModelAdmin[Contact]) -> HttpResponse:
    """The same file as `manage.py export_contacts`: ?format=csv|xlsx, &inactive=1 for all.
    Any other parameter is the changelist's (search, filters): the file then holds exactly the
    contacts the list on screen shows."""
    if not request.user.has_perm("association.view_contact"):
        raise PermissionDenied
    filters = request.GET.copy()
    wanted = filters.pop("format", ["xlsx"])[-1]
    include_inactive = filters.pop("inactive", [""])[-1] == "1"
    contacts = exporting.export_queryset(include_inactive=include_inactive or bool(filters))
    if filters:
        # The changelist reads its parameters from request.GET: give it only its own.
        cast(Any, request).GET = QueryDict(filters.urlencode())
        shown = model_admin.get_changelist_instance(request).get_queryset(request)
        contacts = contacts.filter(pk__in=shown.values("pk"))
    if wanted == "csv":
        data, content_type, suffix = (
            exporting.export_csv(contacts),
            "text/csv; charset=utf-8",
            "csv",
        )
    else:
        data, content_type, suffix = exporting.export_xlsx(contacts), XLSX_TYPE, "xlsx"
    services.audit_export(
        request.user if isinstance(request.user, User) else None,
        "contacts_exported",
        _("担当者一覧を出力"),
        format=suffix,
        rows=contacts.count(),
        inactive_included=include_inactive,
        filters=filters.urlencode(),
    )
    response = HttpResponse(data, content_type=content_type)
    filename = _("担当者一覧_%(date)s.%(suffix)s") % {
        "date": timezone.localdate().strftime("%Y%m%d"),
        "suffix": suffix,
    }
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
