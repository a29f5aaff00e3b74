"""The 年度 report as an .xlsx: one sheet per table, Japanese headers, codes as text, 和暦 dates."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from association.nendo import wareki

from .reports import Counts, Report

TEXT = "@"


def _counts(counts: Counts) -> list[int]:
    return [counts.registered, counts.attended, counts.absent, counts.cancelled]


def count_headers() -> list[str]:
    return [_("参加確定（人）"), _("出席（人）"), _("欠席（人）"), _("取消（人）")]


def _sheet(
    book: Workbook,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    text_columns: Sequence[int] = (),
) -> None:
    """One table on a sheet of its own (write-only: rows stream to the file)."""
    sheet = book.create_sheet(title)
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(
            10, min(40, len(str(header)) * 2 + 2)
        )
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_cell(sheet, h, font=bold) for h in headers])
    text = set(text_columns)
    for row in rows:
        # 団体コード as text, so that 011002 keeps its leading zero.
        sheet.append(
            [_cell(sheet, v, number_format=TEXT) if i in text else v for i, v in enumerate(row)]
        )


def _cell(sheet: Any, value: Any, **style: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def report_workbook(report: Report) -> bytes:
    book = Workbook(write_only=True)
    summary = book.create_sheet(_("概要"))
    summary.column_dimensions["A"].width = 24
    summary.column_dimensions["B"].width = 30
    summary.append([_("年度"), report.label])
    summary.append([_("対象ブロック"), report.block.name if report.block else _("全ブロック")])
    summary.append([_("作成日"), wareki(timezone.localdate())])
    summary.append([_("研修会の数"), len(report.trainings)])
    summary.append([_("会員数"), len(report.members)])
    summary.append([_("参加のなかった会員数"), len(report.silent_members)])
    summary.append([_("会報の届いた会員数"), report.members_reached])

    _sheet(
        book,
        _("会員別"),
        [
            _("団体コード"),
            _("団体名"),
            _("都道府県"),
            _("ブロック"),
            *count_headers(),
            _("出席した研修会の数"),
        ],
        (
            [m.code, m.name, m.prefecture, m.block, *_counts(m.counts), m.counts.trainings_attended]
            for m in report.members
        ),
        text_columns=[0],
    )
    for title, groups, label in (
        (_("ブロック別"), report.blocks, _("ブロック")),
        (_("都道府県別"), report.prefectures, _("都道府県")),
    ):
        _sheet(
            book,
            title,
            [label, _("会員数"), _("参加のあった会員数"), *count_headers()],
            ([g.name, g.members, g.members_taking_part, *_counts(g.counts)] for g in groups),
        )
    _sheet(
        book,
        _("参加のなかった会員"),
        [_("団体コード"), _("団体名"), _("都道府県"), _("ブロック")],
        ([m.code, m.name, m.prefecture, m.block] for m in report.silent_members),
        text_columns=[0],
    )
    blocks = report.blocks_in_order
    _sheet(
        book,
        _("研修会別"),
        [
            _("研修会"),
            _("開催日"),
            _("種別"),
            _("開催形式"),
            *count_headers(),
            *[_("%(block)s 参加確定") % {"block": b} for b in blocks],
        ],
        (
            [
                t.training.title,
                wareki(t.training.starts_at),
                t.training.get_kind_display(),
                t.mode,
                *_counts(t.total),
                *[t.by_block[b].registered if b in t.by_block else 0 for b in blocks],
            ]
            for t in report.trainings
        ),
    )
    _sheet(
        book,
        _("会報の配信"),
        [
            _("配信リスト"),
            _("会報の数"),
            _("送信数"),
            _("到達"),
            _("不達・苦情"),
            _("送信失敗"),
            _("届いた会員数"),
        ],
        (
            [r.name, r.bulletins, r.messages, r.reached, r.bounced, r.failed, r.members_reached]
            for r in report.lists
        ),
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
