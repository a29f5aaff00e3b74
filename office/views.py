"""The secretariat's 年度 report page (and its .xlsx, with the same filters)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from association.models import Block
from association.nendo import nendo_label, nendo_of
from association.services import portal_contact
from events.models import Registration, Training
from questions.charts import Bar, bar_chart

from . import papers
from .dashboard import REPORT_PERMISSIONS
from .reports import build_report, participation_by_block_and_nendo
from .workbook import report_workbook

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_nendos() -> list[int]:
    """The 年度 with trainings, and the current one, newest first."""
    years = set(Training.objects.values_list("nendo", flat=True).distinct())
    years.add(nendo_of())
    return sorted((y for y in years if y), reverse=True)


class ReportForm(forms.Form):
    nendo = forms.TypedChoiceField(label=gettext_lazy("年度"), coerce=int)
    block = forms.ModelChoiceField(
        label=gettext_lazy("ブロック"),
        queryset=Block.objects.order_by("sort_order", "id"),
        required=False,
        empty_label=gettext_lazy("すべて"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["nendo"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(n, nendo_label(n)) for n in report_nendos()]


def nendo_report(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perms(REPORT_PERMISSIONS):
        raise PermissionDenied
    form = ReportForm(request.GET or {"nendo": nendo_of()})
    if form.is_valid():
        nendo, block = form.cleaned_data["nendo"], form.cleaned_data["block"]
    else:
        nendo, block = nendo_of(), None
    report = build_report(nendo, block=block)
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(report_workbook(report), content_type=XLSX_TYPE)
        name = _("%(nendo)s報告.xlsx") % {"nendo": report.label}
        if block is not None:
            name = _("%(nendo)s報告_%(block)s.xlsx") % {"nendo": report.label, "block": block.name}
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response
    nendos = [nendo - 2, nendo - 1, nendo]
    attended = participation_by_block_and_nendo(nendos)
    bars = [
        Bar(
            label=f"{name} {nendo_label(n)}",
            value=attended[n].get(name, 0),
            caption=_("%(n)d人") % {"n": attended[n].get(name, 0)},
        )
        for name in report.blocks_in_order
        for n in nendos
    ]
    chart = bar_chart(bars, title=_("ブロック別・年度別の出席者数"))
    query = request.GET.copy()
    query["format"] = "xlsx"
    context = {
        "title": _("%(nendo)sの報告") % {"nendo": report.label},
        "form": form,
        "report": report,
        "chart": chart,
        "chart_rows": [
            (name, [attended[n].get(name, 0) for n in nendos]) for name in report.blocks_in_order
        ],
        "chart_nendos": [nendo_label(n) for n in nendos],
        "xlsx_query": query.urlencode(),
        **admin.site.each_context(request),
    }
    return render(request, "office/report.html", context)


# --- papers to print -------------------------------------------------------------------------

PAPER_PERMISSIONS = ("events.view_registration", "association.view_contact")


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def training_paper(request: HttpRequest, pk: int, paper: str) -> HttpResponse:
    """出欠表 or every attendee's 参加証明書 of a training, for the secretariat."""
    if not request.user.has_perms(PAPER_PERMISSIONS):
        raise PermissionDenied  # the papers carry names
    training = get_object_or_404(Training, pk=pk)
    if paper == "attendance":
        return _pdf(
            papers.attendance_sheet(training), _("出欠表_%(t)s.pdf") % {"t": training.title}
        )
    return _pdf(
        papers.certificates(list(papers.attended(training))),
        _("参加証明書_%(t)s.pdf") % {"t": training.title},
    )


@login_required
def my_certificate(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """The portal: an attendee downloads their own certificate (a coordinator, any of their
    municipality's: papers.certificates_of)."""
    contact = portal_contact(request.user, code)  # type: ignore[arg-type]
    registration = get_object_or_404(papers.certificates_of(contact), pk=pk)
    survey = papers.survey_first(registration)
    if survey is not None:  # a typed or bookmarked URL too: the survey comes first
        return render(
            request,
            "office/certificate_after_survey.html",
            {"member": contact.member, "registration": registration, "survey": survey},
            status=403,
        )
    return _pdf(papers.certificates([registration]), _("参加証明書.pdf"))


@login_required
def attendance_history(request: HttpRequest, code: str) -> HttpResponse:
    """The portal's 参加履歴: the trainings attended, by 年度, each with its 参加証明書, however
    long ago (the training's own page drops out of the list of trainings after a while)."""
    contact = portal_contact(request.user, code)  # type: ignore[arg-type]
    rows = list(papers.certificates_of(contact))
    waiting = papers.surveys_first(rows)
    for row in rows:  # the certificate waits for that attendee's survey answer, as on its page
        row.survey_first = waiting.get(row.pk)  # type: ignore[attr-defined]
    context = {"me": contact, "member": contact.member, "rows": rows}
    return render(request, "office/attendance_history.html", context)


@login_required
def my_notice(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """The portal: the 開催通知 of a training for the staff member's own municipality, when
    someone of it holds a confirmed seat."""
    contact = portal_contact(request.user, code)  # type: ignore[arg-type]
    training = get_object_or_404(
        Training.objects.filter(
            registrations__member=contact.member,
            registrations__status=Registration.Status.CONFIRMED,
        ).distinct(),
        pk=pk,
    )
    return _pdf(
        papers.notices(training, member_ids=[contact.member_id]),
        _("開催通知_%(t)s.pdf") % {"t": training.title},
    )


def verify_certificate(request: HttpRequest, code: str) -> HttpResponse:
    """Anyone may check a certificate: the name and the training, nothing else."""
    registration = papers.find_certificate(code)
    status = 200 if registration is not None else 404
    return render(
        request,
        "office/certificate_check.html",
        {"registration": registration, "code": code[:40]},
        status=status,
    )
