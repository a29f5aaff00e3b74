"""Participant lists for the secretariat: CSV (UTF-8 with BOM, so Excel opens it) and .xlsx."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.http import HttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from association.nendo import wareki

from .models import Registration
from .portal import waitlist_places

HEADER = [
    "研修会",
    "開催日",
    "ブロック",
    "都道府県",
    "団体コード",
    "団体名",
    "氏名",
    "ふりがな",
    "所属",
    "役職",
    "メールアドレス",
    "電話番号",
    "状態",
    "キャンセル待ち順",
    "申込日時",
    "出欠",
]


def _safe(value: object) -> object:
    # A cell that starts like a formula would run as one in Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def participant_rows(registrations: Iterable[Registration]) -> Iterator[list[object]]:
    """REGISTRATIONS from Registration.objects.with_people()."""
    registrations = list(registrations)
    places = waitlist_places(
        sorted({r.training_id for r in registrations if r.status == "waitlisted"})
    )
    for r in registrations:
        lg = r.member.local_government
        contact = r.contact
        yield [
            _safe(value)
            for value in (
                r.training.title,
                wareki(r.training.starts_at),
                r.member.block.name,
                lg.prefecture.name,
                lg.code,
                lg.full_name,
                contact.name,
                contact.kana,
                contact.department,
                contact.title,
                contact.email,
                contact.phone,
                r.get_status_display(),
                places.get(r.pk, ""),
                timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M"),
                r.get_attendance_display() if r.is_confirmed else "",
            )
        ]


def csv_response(registrations: Iterable[Registration], filename: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(participant_rows(registrations))
    response = HttpResponse(
        buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(registrations: Iterable[Registration], filename: str) -> HttpResponse:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "参加者"
    sheet.append(HEADER)
    for row in participant_rows(registrations):
        sheet.append(row)
    for index, title in enumerate(HEADER, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, len(title) * 2 + 4)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
