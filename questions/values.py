"""Answer values: the one place that turns what a person typed (in a form or an Excel cell)
into the stored shape of each kind of question, and refuses what does not fit, in Japanese.

    parse(question, raw) -> stored value, or None when nothing was given
    missing(question, value) -> True when a required question is unanswered
    display(question, value) -> one line of text for lists and exports

The form builder and the Excel reader both call parse(), so the web and a spreadsheet obey
the same rules. Whether a required question may stay blank is the caller's choice (a draft may,
a submission may not), so parse() never refuses a blank.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import Question

Kind = Question.Kind

MAX_SHORT_TEXT = 200
MAX_LONG_TEXT = 4000
MAX_CELL_TEXT = 200
MAX_DIGITS = 15
MAX_DECIMALS = 4

YES_WORDS = {"はい", "yes", "y", "true", "1", "○", "〇", "◯", "有", "あり", "する"}
NO_WORDS = {"いいえ", "no", "n", "false", "0", "×", "✕", "x", "無", "なし", "しない"}
# Marks an office puts beside a chosen option in a spreadsheet.
MARKS = {"○", "〇", "◯", "●", "◎", "✓", "✔", "v", "x", "1", "はい", "yes", "true", "レ"}
LIST_SPLIT = re.compile(r"[\n、,，;；/／]+")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class CellError:
    """A problem in one cell of a table answer: ROW counts from 1, COLUMN from 0."""

    row: int
    column: int
    message: str


class TableError(ValidationError):
    """Every problem in a table answer at once, each with its row and column."""

    def __init__(self, question: Question, cells: list[CellError], general: list[str]) -> None:
        self.cells = cells
        self.general = general
        labels = question.column_labels
        messages = list(general) + [
            _("%(row)d行目「%(column)s」: %(message)s")
            % {
                "row": cell.row,
                "column": labels[cell.column] if cell.column < len(labels) else cell.column + 1,
                "message": cell.message,
            }
            for cell in cells
        ]
        super().__init__(messages)


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw)


def clean_line(raw: Any) -> str:
    """One line: control characters out, every run of spaces or line breaks one space."""
    text = CONTROL.sub(" ", _text(raw).replace("\r\n", "\n").replace("\r", "\n"))
    return " ".join(text.split())


def clean_lines(raw: Any) -> str:
    """Several lines: line breaks kept (CR/LF as LF), other control characters out."""
    text = _text(raw).replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL.sub("", text.replace("\t", " "))
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def _limit(text: str, limit: int) -> None:
    if len(text) > limit:
        raise ValidationError(
            _("%(limit)d文字以内で入力してください（%(length)d文字あります）。")
            % {"limit": limit, "length": len(text)},
            code="too_long",
        )


def _fold(text: str) -> str:
    """How two spellings of a word are compared: full/half width and case folded, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def parse_number(raw: Any, *, unit: str = "") -> Decimal | None:
    if isinstance(raw, bool):
        raise ValidationError(_("数値で入力してください。"), code="number")
    if isinstance(raw, (int, Decimal)):
        number = Decimal(raw)
    elif isinstance(raw, float):
        number = Decimal(repr(raw))
    else:
        text = unicodedata.normalize("NFKC", _text(raw)).strip()
        text = text.replace("−", "-")  # U+2212, which NFKC leaves as it is
        text = "".join(text.split()).replace(",", "")
        if unit and text.endswith(unicodedata.normalize("NFKC", unit)):
            text = text[: -len(unicodedata.normalize("NFKC", unit))]
        if not text:
            return None
        if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValidationError(
                _("数値で入力してください（「%(value)s」は数値として読めません）。")
                % {"value": clean_line(raw)[:40]},
                code="number",
            )
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern above admits only numbers
            raise ValidationError(_("数値で入力してください。"), code="number") from None
    if not number.is_finite():
        raise ValidationError(_("数値で入力してください。"), code="number")
    _sign, digits, exponent = number.normalize().as_tuple()
    decimals = -int(exponent) if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > MAX_DECIMALS:
        raise ValidationError(
            _("小数点以下は%(n)d桁までで入力してください。") % {"n": MAX_DECIMALS},
            code="decimals",
        )
    if len(digits) - decimals > MAX_DIGITS - MAX_DECIMALS:
        raise ValidationError(_("数値が大きすぎます。"), code="too_large")
    return number


def number_text(number: Decimal) -> str:
    """1234, 12.5, -3: no exponent, no trailing zeros."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "+0") else text


def _choice(question: Question, raw: Any) -> str:
    wanted = _fold(clean_line(raw))
    for choice in question.choices:
        if _fold(str(choice)) == wanted:
            return str(choice)
    raise ValidationError(
        _("「%(value)s」は選択肢にありません。%(choices)s から選んでください。")
        % {
            "value": clean_line(raw)[:40],
            "choices": "、".join(f"「{c}」" for c in question.choices),
        },
        code="choice",
    )


def parse_yes_no(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    word = _fold(clean_line(raw))
    if not word:
        return None
    if word in {_fold(w) for w in YES_WORDS}:
        return True
    if word in {_fold(w) for w in NO_WORDS}:
        return False
    raise ValidationError(_("「はい」か「いいえ」で答えてください。"), code="yes_no")


def is_mark(raw: Any) -> bool:
    """Whether a spreadsheet cell beside an option marks it as chosen."""
    word = _fold(clean_line(raw))
    return bool(word) and word in {_fold(m) for m in MARKS}


def _table(question: Question, raw: Any) -> list[list[str]] | None:
    if raw in (None, "", []):
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ValidationError(_("表の形式で入力してください。"), code="table")
    columns = question.columns
    rows: list[list[str]] = []
    cells: list[CellError] = []
    general: list[str] = []
    for number, raw_row in enumerate(raw, start=1):
        if not isinstance(raw_row, Sequence) or isinstance(raw_row, str):
            general.append(_("%(row)d行目を読めません。") % {"row": number})
            continue
        if len(raw_row) > len(columns) and any(clean_line(c) for c in raw_row[len(columns) :]):
            general.append(
                _("%(row)d行目: 列は%(n)d列までです。") % {"row": number, "n": len(columns)}
            )
        row: list[str] = []
        for index, column in enumerate(columns):
            cell = raw_row[index] if index < len(raw_row) else ""
            try:
                if column.get("kind") == Question.ColumnKind.NUMBER:
                    parsed = parse_number(cell)
                    row.append("" if parsed is None else number_text(parsed))
                else:
                    text = clean_line(cell)
                    _limit(text, MAX_CELL_TEXT)
                    row.append(text)
            except ValidationError as exc:
                cells.append(CellError(number, index, " ".join(exc.messages)))
                row.append("")
        if any(row):
            rows.append(row)
    if len(rows) > question.max_rows:
        general.append(
            _("行は%(n)d行までです（%(count)d行あります）。")
            % {"n": question.max_rows, "count": len(rows)}
        )
    if cells or general:
        raise TableError(question, cells, general)
    return rows or None


def parse(question: Question, raw: Any) -> Any:
    """The stored value for RAW (None for a blank answer), or ValidationError saying why not."""
    kind = question.kind
    if kind == Kind.SHORT_TEXT:
        text = clean_line(raw)
        _limit(text, MAX_SHORT_TEXT)
        return text or None
    if kind == Kind.LONG_TEXT:
        text = clean_lines(raw)
        _limit(text, MAX_LONG_TEXT)
        return text or None
    if kind == Kind.NUMBER:
        number = parse_number(raw, unit=question.unit)
        if number is None:
            return None
        if question.min_value is not None and number < question.min_value:
            raise ValidationError(
                _("%(min)s以上の数値を入力してください。")
                % {"min": number_text(question.min_value)},
                code="min",
            )
        if question.max_value is not None and number > question.max_value:
            raise ValidationError(
                _("%(max)s以下の数値を入力してください。")
                % {"max": number_text(question.max_value)},
                code="max",
            )
        return number_text(number)
    if kind == Kind.SINGLE_CHOICE:
        if not clean_line(raw):
            return None
        return _choice(question, raw)
    if kind == Kind.MULTIPLE_CHOICE:
        items: Iterable[Any]
        if raw is None:
            items = []
        elif isinstance(raw, str):
            items = LIST_SPLIT.split(raw)
        elif isinstance(raw, Iterable):
            items = raw
        else:
            items = [raw]
        chosen = {_choice(question, item) for item in items if clean_line(item)}
        ordered = [str(c) for c in question.choices if str(c) in chosen]
        return ordered or None
    if kind == Kind.YES_NO:
        return parse_yes_no(raw)
    if kind == Kind.TABLE:
        return _table(question, raw)
    raise ValueError(f"unknown question kind {kind!r}")


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def missing(question: Question, value: Any) -> bool:
    return question.required and is_blank(value)


def display(question: Question, value: Any) -> str:
    """The answer as one line of text: 1,234人 / はい / A、B / 3行."""
    if is_blank(value):
        return ""
    kind = question.kind
    if kind == Kind.NUMBER:
        return f"{number_text_grouped(Decimal(str(value)))}{question.unit}"
    if kind == Kind.MULTIPLE_CHOICE:
        return "、".join(str(v) for v in value)
    if kind == Kind.YES_NO:
        return _("はい") if value else _("いいえ")
    if kind == Kind.TABLE:
        return _("%(n)d行") % {"n": len(value)}
    return str(value)


def number_text_grouped(number: Decimal) -> str:
    """1,234.5"""
    text = number_text(number)
    whole, _dot, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-')):,}"
    return f"{sign}{whole}" + (f".{fraction}" if fraction else "")


def required_message(question: Question) -> str:
    if question.kind in (Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE, Kind.YES_NO):
        return _("「%(q)s」を選んでください（必須）。") % {"q": question.text}
    if question.kind == Kind.TABLE:
        return _("「%(q)s」に1行以上記入してください（必須）。") % {"q": question.text}
    return _("「%(q)s」に回答してください（必須）。") % {"q": question.text}
