"""The secretariat's 年度 report page (and its .xlsx, with the same filters)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from association.models import Block
from association.nendo import nendo_label, nendo_of
from events.models import Training
from questions.charts import Bar, bar_chart

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
