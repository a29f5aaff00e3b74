"""Excel round trip for offices that work in spreadsheets.

write_form()   an .xlsx 調査票: the caller's header fields (団体名, 団体コード…), one row per
               question with the answer cell beside it (a list to pick from for one choice and
               yes/no, a ○ per option for several choices), a sheet per table question, and a
               hidden sheet naming the question set so the file can be read back.
read_form()    that file back, all or nothing: every problem comes with its sheet and cell, and
               the values are parsed by questions.values, the same rules as the web form.
export_answers() one row per answerer and one column per question (tables on their own sheet).

Reading is bounded: the file size, the uncompressed size the zip declares (a zip bomb is
refused before anything is inflated: zipfile never inflates past a member's declared size), the
number of rows and columns read, and XML parsed through defusedxml (openpyxl uses it when it is
installed; the reader refuses to run without it).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from . import values
from .models import Question, QuestionSet

Kind = Question.Kind
logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024
MAX_ZIP_MEMBERS = 200
MAX_ROWS = 2000
MAX_COLUMNS = 40
FORM_SHEET = "調査票"
META_SHEET = "_renkei"
META_MARK = "renkei-questions"
FORMAT_VERSION = "1"
ANSWER_COLUMN = 3  # C
FIRST_TABLE_ROW = 4
FILL = "FFF8C5"  # the cells to fill in: a pale yellow, as 調査票 have them
GREY = "F0F2F5"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CODE_RE = re.compile(r"^問(\d+)(?:-(\d+))?$")


UNREADABLE = _lazy(
    "Excel ファイルを読めません。調査票の様式のまま「.xlsx」形式で保存し直してください。"
)


class FormFileError(ValueError):
    """The file as a whole cannot be read as this question set's 調査票."""


@dataclass(frozen=True)
class SheetError:
    sheet: str
    cell: str
    question: str
    message: str

    def __str__(self) -> str:
        where = _("「%(sheet)s」シートの%(cell)s") % {"sheet": self.sheet, "cell": self.cell}
        if self.question:
            where += f"（{self.question}）"
        return f"{where}: {self.message}"


@dataclass
class FormReading:
    """What read_form() found: the answers ({question id: stored value or None}), the header
    fields as written in the file ({label: text}), and every problem. Apply the answers only
    when `errors` is empty."""

    values: dict[int, Any] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)
    errors: list[SheetError | str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def messages(self) -> list[str]:
        return [str(error) for error in self.errors]


def _codes(questions: Sequence[Question]) -> dict[int, str]:
    # Not translated: the reader finds the rows by these codes, whatever the language.
    return {q.pk: f"問{number}" for number, q in enumerate(questions, start=1)}


def fingerprint(questions: Sequence[Question]) -> str:
    """What a filled-in file depends on: which questions, of which kind, with which options."""
    shape = [[q.pk, q.kind, q.choices, q.columns] for q in questions]
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]


def _table_sheet_name(number: int) -> str:
    return _("表%(n)d") % {"n": number}


def _safe_text(cell: Any, value: Any) -> None:
    """Write text as text: a leading = + - @ never becomes a formula."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


# --- writing ---------------------------------------------------------------------------------


def write_form(
    question_set: QuestionSet,
    *,
    title: str,
    header: Sequence[tuple[str, str]] = (),
    answers: dict[int, Any] | None = None,
    note: str = "",
) -> bytes:
    import openpyxl
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
    from openpyxl.worksheet.datavalidation import DataValidation

    answers = answers or {}
    questions = list(question_set.questions.all())
    codes = _codes(questions)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = FORM_SHEET
    thin = Side(style="thin", color="9AA5B1")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    fill = PatternFill("solid", fgColor=FILL)
    grey = PatternFill("solid", fgColor=GREY)
    wrap = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCDE", (9, 50, 36, 34, 7), strict=True):
        sheet.column_dimensions[letter].width = width

    _safe_text(sheet.cell(1, 1), title)
    sheet.cell(1, 1).font = Font(size=14, bold=True)
    _safe_text(
        sheet.cell(2, 1),
        note
        or _(
            "黄色の欄に記入してください。選択肢は一覧から選ぶか、該当する行に「○」を付けてください。"
            "表の設問は別のシートに記入してください。"
        ),
    )
    row = 4
    for label, shown in header:
        _safe_text(sheet.cell(row, 1), label)
        sheet.cell(row, 1).font = Font(bold=True)
        _safe_text(sheet.cell(row, 2), str(shown))
        sheet.cell(row, 2).number_format = "@"
        row += 1
    row += 1
    for column, label in enumerate(
        (_("番号"), _("設問"), _("回答"), _("記入方法・補足"), _("必須")), start=1
    ):
        cell = sheet.cell(row, column)
        _safe_text(cell, label)
        cell.font = Font(bold=True)
        cell.fill = grey
        cell.border = box
    row += 1

    lists: dict[str, DataValidation] = {}

    def pick_from(options: list[str], target: str) -> None:
        key = "\u0001".join(options)
        if key not in lists:
            # Excel's list formula takes at most 255 characters; longer lists go without.
            formula = '"' + ",".join(o.replace('"', "'") for o in options) + '"'
            if len(formula) > 255 or any("," in o for o in options):
                return
            lists[key] = DataValidation(type="list", formula1=formula, allow_blank=True)
            sheet.add_data_validation(lists[key])
        lists[key].add(target)

    table_number = 0
    for question in questions:
        code = codes[question.pk]
        value = answers.get(question.pk)
        how: str = _how_to_answer(question)
        if question.kind == Kind.TABLE:
            table_number += 1
            how = _("「%(sheet)s」シートに記入") % {"sheet": _table_sheet_name(table_number)}
        if question.help_text:
            how = f"{how}\n{question.help_text}"
        cells = (code, question.text, None, how, _("必須") if question.required else "")
        for column, text in enumerate(cells, start=1):
            cell = sheet.cell(row, column)
            if text is not None:
                _safe_text(cell, text)
            cell.alignment = wrap
            cell.border = box
        answer = sheet.cell(row, ANSWER_COLUMN)
        if question.kind in (Kind.MULTIPLE_CHOICE, Kind.TABLE):
            answer.fill = grey
            _safe_text(
                answer,
                _("（下の行に○）") if question.kind == Kind.MULTIPLE_CHOICE else _("（別シート）"),
            )
        else:
            answer.fill = fill
            answer.protection = Protection(locked=False)
            _write_answer(answer, question, value)
            if question.kind == Kind.SINGLE_CHOICE:
                pick_from([str(c) for c in question.choices], answer.coordinate)
            elif question.kind == Kind.YES_NO:
                pick_from([_("はい"), _("いいえ")], answer.coordinate)
        if question.kind == Kind.LONG_TEXT:
            sheet.row_dimensions[row].height = 90
        row += 1
        if question.kind == Kind.MULTIPLE_CHOICE:
            chosen = set(value or [])
            for number, choice in enumerate(question.choices, start=1):
                _safe_text(sheet.cell(row, 1), f"{code}-{number}")
                _safe_text(sheet.cell(row, 2), f"　{choice}")
                mark = sheet.cell(row, ANSWER_COLUMN)
                mark.fill = fill
                mark.protection = Protection(locked=False)
                if choice in chosen:
                    _safe_text(mark, "○")
                pick_from(["○"], mark.coordinate)
                for column in range(1, 6):
                    sheet.cell(row, column).border = box
                row += 1

    table_number = 0
    meta_rows: list[list[str]] = []
    for question in questions:
        sheet_name = ""
        if question.kind == Kind.TABLE:
            table_number += 1
            sheet_name = _table_sheet_name(table_number)
            _write_table_sheet(book, sheet_name, codes[question.pk], question, answers, box, fill)
        meta_rows.append([str(question.pk), question.kind, codes[question.pk], sheet_name])

    meta = book.create_sheet(META_SHEET)
    meta.sheet_state = "veryHidden"
    for r, data in enumerate(
        [
            [META_MARK, FORMAT_VERSION],
            ["question_set", str(question_set.pk)],
            ["fingerprint", fingerprint(questions)],
            *meta_rows,
        ],
        start=1,
    ):
        for c, text in enumerate(data, start=1):
            _safe_text(meta.cell(r, c), text)
    book.active = 0
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _how_to_answer(question: Question) -> str:
    kind = question.kind
    if kind == Kind.NUMBER:
        return _("数値") + (f"（{question.unit}）" if question.unit else "")
    if kind == Kind.SINGLE_CHOICE:
        return _("次から1つ選択: %(c)s") % {"c": "／".join(str(c) for c in question.choices)}
    if kind == Kind.MULTIPLE_CHOICE:
        return _("該当するものすべての行に○")
    if kind == Kind.YES_NO:
        return _("「はい」か「いいえ」")
    if kind == Kind.LONG_TEXT:
        return _("自由記述（セル内の改行は Alt+Enter）")
    return _("自由記述（1行）")


def _write_answer(cell: Any, question: Question, value: Any) -> None:
    if values.is_blank(value):
        return
    if question.kind == Kind.NUMBER:
        number = Decimal(str(value))
        cell.value = int(number) if number == number.to_integral_value() else float(number)
    elif question.kind == Kind.YES_NO:
        _safe_text(cell, _("はい") if value else _("いいえ"))
    else:
        _safe_text(cell, str(value))
    if question.kind != Kind.NUMBER:
        cell.number_format = "@"


def _write_table_sheet(
    book: Any,
    name: str,
    code: str,
    question: Question,
    answers: dict[int, Any],
    box: Any,
    fill: Any,
) -> None:
    from openpyxl.styles import Font, Protection
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(name)
    _safe_text(sheet.cell(1, 1), f"{code} {question.text}")
    sheet.cell(1, 1).font = Font(size=12, bold=True)
    _safe_text(
        sheet.cell(2, 1),
        _("1行に1件、最大%(n)d行まで記入してください。") % {"n": question.max_rows}
        + (f" {question.help_text}" if question.help_text else ""),
    )
    _safe_text(sheet.cell(3, 1), _("行"))
    sheet.cell(3, 1).font = Font(bold=True)
    sheet.column_dimensions["A"].width = 6
    for index, column in enumerate(question.columns, start=2):
        cell = sheet.cell(3, index)
        _safe_text(cell, str(column.get("label", "")))
        cell.font = Font(bold=True)
        cell.border = box
        sheet.column_dimensions[get_column_letter(index)].width = 24
    rows = answers.get(question.pk) or []
    for offset in range(question.max_rows):
        r = FIRST_TABLE_ROW + offset
        sheet.cell(r, 1).value = offset + 1
        data = rows[offset] if offset < len(rows) else []
        for index, column in enumerate(question.columns):
            cell = sheet.cell(r, index + 2)
            cell.fill = fill
            cell.border = box
            cell.protection = Protection(locked=False)
            text = data[index] if index < len(data) else ""
            if text == "":
                continue
            if column.get("kind") == Question.ColumnKind.NUMBER:
                number = Decimal(str(text))
                cell.value = int(number) if number == number.to_integral_value() else float(number)
            else:
                _safe_text(cell, text)
                cell.number_format = "@"


# --- reading ---------------------------------------------------------------------------------


def open_workbook(data: bytes) -> Any:
    """The workbook in DATA, read-only, or FormFileError with a message for the person
    uploading it. Refuses what is too large, unpacks too large, or is not an .xlsx at all."""
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise ImproperlyConfigured("defusedxml must be installed to read uploaded Excel files")
    if len(data) > MAX_FILE_BYTES:
        raise FormFileError(
            _("ファイルが大きすぎます（%(n)dMB まで）。") % {"n": MAX_FILE_BYTES // (1024 * 1024)}
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FormFileError(
            _("古い Excel 形式（.xls）は読めません。Excel で「.xlsx」形式で保存し直してください。")
        )
    if not data.startswith(b"PK\x03\x04"):
        raise FormFileError(_("Excel ファイル（.xlsx）ではありません。"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        # NotImplementedError: a damaged header naming a zip version or method zipfile lacks
        raise FormFileError(_("Excel ファイルが壊れているため読めません。")) from None
    if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
        raise FormFileError(
            _("ファイルの中身が大きすぎるため読めません。調査票の様式のまま保存してください。")
        )
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged (or hostile) file
        logger.warning("an uploaded Excel file could not be read", exc_info=True)
        raise FormFileError(UNREADABLE) from None


def _rows(sheet: Any, *, max_col: int = MAX_COLUMNS) -> list[tuple[Any, ...]]:
    return list(sheet.iter_rows(max_row=MAX_ROWS, max_col=max_col, values_only=True))


def _fold(value: Any) -> str:
    return "".join(unicodedata.normalize("NFKC", values.clean_line(value)).split())


def read_form(question_set: QuestionSet, data: bytes) -> FormReading:
    """Read a 調査票 written by write_form() for QUESTION_SET. Never raises for a bad file:
    the problems are in the result's `errors`."""
    reading = FormReading()
    try:
        book = open_workbook(data)
    except FormFileError as exc:
        reading.errors.append(str(exc))
        return reading
    try:
        _read_book(book, question_set, reading)
    except FormFileError as exc:
        reading.errors.append(str(exc))
    except Exception:  # a damaged (or hostile) sheet inside a readable zip
        logger.warning("an uploaded Excel sheet could not be read", exc_info=True)
        reading.errors.append(str(UNREADABLE))
    finally:
        book.close()
    if reading.errors:
        reading.values = {}
    return reading


def _read_book(book: Any, question_set: QuestionSet, reading: FormReading) -> None:
    questions = list(question_set.questions.all())
    by_id = {q.pk: q for q in questions}
    names = book.sheetnames
    if META_SHEET not in names or FORM_SHEET not in names:
        raise FormFileError(
            _(
                "Renkei からダウンロードした調査票ではありません。調査票をダウンロードして記入してください。"
            )
        )
    meta = [[values.clean_line(c) for c in row] for row in _rows(book[META_SHEET], max_col=4)]
    if not meta or meta[0][:1] != [META_MARK]:
        raise FormFileError(_("Renkei からダウンロードした調査票ではありません。"))
    info = {row[0]: row[1] for row in meta[1:3] if len(row) >= 2}
    if info.get("question_set") != str(question_set.pk):
        raise FormFileError(
            _(
                "この調査票は別の照会（または別の様式）のものです。正しい調査票をダウンロードしてください。"
            )
        )
    if info.get("fingerprint") != fingerprint(questions):
        raise FormFileError(
            _(
                "ダウンロードした後に設問が変わりました。お手数ですが新しい調査票をダウンロードし、"
                "記入し直してください。"
            )
        )
    code_to_question: dict[str, Question] = {}
    table_sheets: dict[int, str] = {}
    for row in meta[3:]:
        if len(row) < 4 or not row[0].isdigit() or int(row[0]) not in by_id:
            continue
        question = by_id[int(row[0])]
        code_to_question[_fold(row[2])] = question
        if row[3]:
            table_sheets[question.pk] = row[3]

    raw: dict[int, Any] = {}
    where: dict[int, tuple[str, str]] = {}
    marks: dict[int, list[str]] = {}
    in_header = True
    for number, cells in enumerate(_rows(book[FORM_SHEET], max_col=5), start=1):
        first = _fold(cells[0] if cells else "")
        match = CODE_RE.match(first)
        if match is None:
            if number >= 4 and in_header:
                if not first:
                    in_header = False  # the header fields end at the first blank row
                elif len(cells) >= 2:
                    label = values.clean_line(cells[0])
                    reading.header.setdefault(label, values.clean_line(cells[1]))
            continue
        in_header = False
        found = code_to_question.get(_fold(f"問{match.group(1)}"))
        if found is None:
            continue
        question = found
        answer = cells[ANSWER_COLUMN - 1] if len(cells) >= ANSWER_COLUMN else None
        cell_ref = f"C{number}"
        if match.group(2) is None:
            if question.kind not in (Kind.MULTIPLE_CHOICE, Kind.TABLE):
                raw[question.pk] = answer
                where[question.pk] = (cell_ref, first)
            elif question.kind == Kind.MULTIPLE_CHOICE:
                marks.setdefault(question.pk, [])
                where[question.pk] = (cell_ref, first)
            continue
        if question.kind != Kind.MULTIPLE_CHOICE:
            continue
        index = int(match.group(2)) - 1
        if not 0 <= index < len(question.choices):
            continue
        if values.is_mark(answer):
            marks.setdefault(question.pk, []).append(str(question.choices[index]))
        elif values.clean_line(answer):
            reading.errors.append(
                SheetError(
                    FORM_SHEET,
                    cell_ref,
                    first,
                    _("選ぶ行には「○」を入力してください（「%(v)s」は読めません）。")
                    % {"v": values.clean_line(answer)[:20]},
                )
            )
    raw.update(marks)
    missing = [
        q for q in questions if q.kind != Kind.TABLE and q.pk not in raw and q.pk not in where
    ]
    if missing:
        raise FormFileError(
            _("「%(sheet)s」シートに%(codes)sの行が見つかりません。行を消さずに記入してください。")
            % {
                "sheet": FORM_SHEET,
                "codes": "、".join(_codes(questions)[q.pk] for q in missing),
            }
        )
    for question in questions:
        if question.kind == Kind.TABLE:
            continue
        try:
            reading.values[question.pk] = values.parse(question, raw.get(question.pk))
        except ValidationError as exc:
            cell_ref, code = where.get(question.pk, ("", ""))
            for message in exc.messages:
                reading.errors.append(SheetError(FORM_SHEET, cell_ref, code, message))
    codes = _codes(questions)
    for question_id, sheet_name in table_sheets.items():
        question = by_id[question_id]
        if sheet_name not in names:
            raise FormFileError(
                _("「%(sheet)s」シートが見つかりません。シートを消さずに記入してください。")
                % {"sheet": sheet_name}
            )
        width = len(question.columns)
        rows = _rows(book[sheet_name], max_col=width + 1 + 5)[FIRST_TABLE_ROW - 1 :]
        table = [list(row[1:]) for row in rows]
        try:
            reading.values[question.pk] = values.parse(question, table)
        except values.TableError as exc:
            from openpyxl.utils import get_column_letter

            for message in exc.general:
                reading.errors.append(SheetError(sheet_name, "", codes[question.pk], message))
            for problem in exc.cells:
                column = get_column_letter(problem.column + 2)
                reading.errors.append(
                    SheetError(
                        sheet_name,
                        f"{column}{FIRST_TABLE_ROW + problem.row - 1}",
                        question.column_labels[problem.column],
                        problem.message,
                    )
                )


# --- exporting -------------------------------------------------------------------------------


def export_answers(
    question_set: QuestionSet,
    *,
    header: Sequence[str],
    rows: Sequence[tuple[Sequence[Any], int | None]],
    sheet_title: str = "",
    text_columns: Sequence[int] = (0,),
) -> bytes:
    """One row per answerer: the caller's header cells (codes as text), then one column per
    question; each table question gets a sheet of its own, one line per table row. ROWS are
    (header cells, answer set id or None for someone who has not answered)."""
    import openpyxl
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from .models import Answer

    questions = list(question_set.questions.all())
    codes = _codes(questions)
    ids = [answer_set_id for _cells, answer_set_id in rows if answer_set_id]
    found: dict[tuple[int, int], Any] = {}
    for start in range(0, len(ids), 500):
        for answer in Answer.objects.filter(
            answer_set_id__in=ids[start : start + 500], value__isnull=False
        ).values_list("answer_set_id", "question_id", "value"):
            found[(answer[0], answer[1])] = answer[2]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = (sheet_title or _("回答一覧"))[:31]
    flat = [q for q in questions if q.kind != Kind.TABLE]
    titles = [*header, *(f"{codes[q.pk]} {q.text}" for q in flat)]
    for column, text in enumerate(titles, start=1):
        _safe_text(sheet.cell(1, column), text)
        sheet.cell(1, column).font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = 18
    for r, (cells, answer_set_id) in enumerate(rows, start=2):
        for c, value in enumerate(cells, start=1):
            cell = sheet.cell(r, c)
            _safe_text(cell, "" if value is None else value)
            if c - 1 in text_columns:
                _safe_text(cell, "" if value is None else str(value))
                cell.number_format = "@"
        for offset, question in enumerate(flat, start=len(header) + 1):
            value = found.get((answer_set_id, question.pk)) if answer_set_id else None
            _write_export_cell(sheet.cell(r, offset), question, value)
    sheet.freeze_panes = sheet.cell(2, len(header) + 1)
    table_number = 0
    for question in questions:
        if question.kind != Kind.TABLE:
            continue
        table_number += 1
        table = book.create_sheet(_table_sheet_name(table_number))
        labels = [*header, _("行"), *question.column_labels]
        _safe_text(table.cell(1, 1), f"{codes[question.pk]} {question.text}")
        table.cell(1, 1).font = Font(bold=True)
        for column, text in enumerate(labels, start=1):
            _safe_text(table.cell(2, column), text)
            table.cell(2, column).font = Font(bold=True)
        line = 3
        for cells, answer_set_id in rows:
            data = found.get((answer_set_id, question.pk)) if answer_set_id else None
            for number, table_row in enumerate(data or [], start=1):
                for c, value in enumerate(cells, start=1):
                    _safe_text(table.cell(line, c), "" if value is None else str(value))
                    if c - 1 in text_columns:
                        table.cell(line, c).number_format = "@"
                table.cell(line, len(header) + 1).value = number
                for index, column in enumerate(question.columns):
                    text = table_row[index] if index < len(table_row) else ""
                    target = table.cell(line, len(header) + 2 + index)
                    if text != "" and column.get("kind") == Question.ColumnKind.NUMBER:
                        number_value = Decimal(str(text))
                        target.value = (
                            int(number_value)
                            if number_value == number_value.to_integral_value()
                            else float(number_value)
                        )
                    else:
                        _safe_text(target, text)
                line += 1
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write_export_cell(cell: Any, question: Question, value: Any) -> None:
    if values.is_blank(value):
        return
    if question.kind == Kind.NUMBER:
        number = Decimal(str(value))
        cell.value = int(number) if number == number.to_integral_value() else float(number)
        return
    _safe_text(cell, values.display(question, value))
