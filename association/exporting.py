"""Contact export that Excel opens cleanly and that the import reads back unchanged."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from django.utils.translation import gettext as _

from .importing import FIELDS, FORMULA_PREFIXES, LABELS
from .models import Contact, ContactQuerySet, Member


def export_queryset(*, include_inactive: bool = False) -> ContactQuerySet:
    """Active contacts of active members by default; with INCLUDE_INACTIVE, every contact."""
    contacts = Contact.objects.select_related("member__local_government__prefecture").order_by(
        "member__local_government_id", "kana", "id"
    )
    if not include_inactive:
        contacts = contacts.filter(is_active=True, member__status=Member.Status.ACTIVE)
    return contacts


def headers() -> list[str]:
    """The import's columns in its order, with 団体名 after the code and 有効 at the end (the
    import ignores both)."""
    names = [str(LABELS[name]) for name in FIELDS]
    return [names[0], _("団体名"), *names[1:], _("有効")]


def rows(contacts: Iterable[Contact]) -> Iterable[list[str]]:
    for contact in contacts:
        yield [
            contact.member.local_government_id,
            contact.member.name,
            contact.name,
            contact.kana,
            contact.department,
            contact.title,
            contact.email,
            contact.phone,
            str(Contact.Role(contact.role).label),
            _("はい") if contact.is_active else _("いいえ"),
        ]


def _guard(value: str) -> str:
    """Excel runs a cell starting with = + - @ as a formula (CSV injection); an apostrophe in
    front keeps it text. The import takes the apostrophe off again."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def export_csv(contacts: Iterable[Contact]) -> bytes:
    """UTF-8 with a BOM (so that Excel does not read it as Shift_JIS) and CRLF line ends."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers())
    for row in rows(contacts):
        writer.writerow([_guard(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


TEXT_COLUMNS = (0, 7)  # 団体コード and 電話番号 keep their leading zeros
COLUMN_WIDTHS = (10, 22, 16, 20, 28, 14, 34, 16, 14, 6)


def export_xlsx(contacts: Iterable[Contact]) -> bytes:
    import openpyxl
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("担当者")
    sheet.append(headers())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows(contacts), start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=number, column=column)
            cell.value = value
            # A string that starts with "=" would otherwise be stored as a formula.
            cell.data_type = "s"
            if column - 1 in TEXT_COLUMNS:
                cell.number_format = "@"
    for column, width in enumerate(COLUMN_WIDTHS, start=1):
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = width
        if column - 1 in TEXT_COLUMNS:
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
