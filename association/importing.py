"""Contact import from the files a secretariat really has: CSV (UTF-8 or Shift_JIS) or Excel.

Reading a file gives a plan, row by row: 新規 (create), 更新 (update, with the fields that
change) or 変更なし. A plan with any error writes nothing; a plan without errors is applied in one
transaction through association.services, so the audit log and login accounts stay right.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .codes import check_digit, normalise_code
from .models import Contact, LocalGovernment, Member, User
from .nendo import wareki
from .spreadsheets import MAX_ROWS, UnreadableFile, check_size, read_xlsx_rows, too_many_rows

# The importable columns, in the order the export writes them. Labels are the models' own.
FIELDS = ("code", "name", "kana", "department", "title", "email", "phone", "role")
LABELS = {
    "code": gettext_lazy("団体コード"),
    "name": gettext_lazy("氏名"),
    "kana": gettext_lazy("ふりがな"),
    "department": gettext_lazy("所属"),
    "title": gettext_lazy("役職"),
    "email": gettext_lazy("メールアドレス"),
    "phone": gettext_lazy("電話番号"),
    "role": gettext_lazy("役割"),
}
REQUIRED = ("code", "name", "email")

# Header spellings seen in real files, after _header_key() (NFKC, no spaces, lower case, no
# required marks). Anything else, such as 団体名 or 有効 from our own export, is ignored. The
# English spellings include our own export's headers when made in English (locale/en).
HEADER_WORDS = {
    "code": [
        "団体コード",
        "自治体コード",
        "地方公共団体コード",
        "全国地方公共団体コード",
        "code",
        "localgovernmentcode",
    ],
    "name": ["氏名", "名前", "担当者名", "担当者氏名", "name"],
    "kana": ["ふりがな", "フリガナ", "よみ", "ヨミ", "よみがな", "ヨミガナ", "kana", "furigana"],
    "department": ["所属", "部署", "所属部署", "所属課", "department"],
    "title": ["役職", "職名", "title", "jobtitle"],
    "email": [
        "メールアドレス",
        "メール",
        "e-mail",
        "email",
        "mail",
        "eメール",
        "eメールアドレス",
        "emailaddress",
    ],
    "phone": ["電話番号", "電話", "tel", "phone", "phonenumber"],
    "role": ["役割", "role"],
}
HEADER_MAP = {word.lower(): key for key, words in HEADER_WORDS.items() for word in words}
REQUIRED_MARKS = ("必須", "*", "※", "(", ")", "[", "]", "【", "】", "<", ">")

MAX_LENGTHS = {
    name: getattr(Contact._meta.get_field(name), "max_length", None)
    for name in ("name", "kana", "department", "title", "email", "phone")
}
# Where a header is hidden under a title row or two, look this far down for it.
HEADER_SEARCH_ROWS = 10
FORMULA_PREFIXES = ("=", "+", "-", "@")


# The file as a whole cannot be read (not the rows in it); raised by the shared reader.
ImportFileError = UnreadableFile


@dataclass(frozen=True)
class RowError:
    row: int | None
    field: str
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return self.message
        if not self.field:
            return _("%(row)d行目: %(message)s") % {"row": self.row, "message": self.message}
        return _("%(row)d行目「%(field)s」: %(message)s") % {
            "row": self.row,
            "field": LABELS.get(self.field, self.field),
            "message": self.message,
        }


@dataclass
class RowPlan:
    class Action:
        CREATE = "create"
        UPDATE = "update"
        UNCHANGED = "unchanged"

    row: int
    action: str
    member: Member
    values: dict[str, str]
    contact: Contact | None = None
    changed: list[str] = field(default_factory=list)

    @property
    def action_label(self) -> str:
        return {
            self.Action.CREATE: _("新規"),
            self.Action.UPDATE: _("更新"),
            self.Action.UNCHANGED: _("変更なし"),
        }[self.action]

    @property
    def changed_labels(self) -> list[str]:
        return [str(LABELS[name]) for name in self.changed]

    @property
    def is_inactive(self) -> bool:
        return self.contact is not None and not self.contact.is_active

    @property
    def role_label(self) -> str:
        role = self.values.get("role") or (self.contact.role if self.contact else "")
        return str(Contact.Role(role).label) if role else str(Contact.Role.STAFF.label)

    def cells(self) -> list[dict[str, Any]]:
        """The row as the preview table shows it: each column's new value, and for a changed
        one the value it replaces."""
        result = []
        for name in FIELDS[1:]:
            value = self.values.get(name)
            old = getattr(self.contact, name) if self.contact is not None else None
            if name == "role":
                value = self.role_label
                old = str(Contact.Role(old).label) if old else None
            elif value is None:
                value = old or ""
            result.append(
                {
                    "name": name,
                    "value": value,
                    "changed": name in self.changed,
                    "old": old if name in self.changed else None,
                }
            )
        return result

    def describe(self) -> str:
        """One line for the command's dry run."""
        text = _("%(row)d行目 %(action)s: %(member)s %(name)s <%(email)s>") % {
            "row": self.row,
            "action": self.action_label,
            "member": self.member.name,
            "name": self.values["name"],
            "email": self.values["email"],
        }
        if self.changed:
            text += _("（変更: %(fields)s）") % {"fields": "、".join(self.changed_labels)}
        if self.is_inactive:
            text += _("（無効の担当者）")
        return text


@dataclass
class ImportPlan:
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    applied: bool = False
    outdated: bool = False

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def created(self) -> int:
        return self.count(RowPlan.Action.CREATE)

    @property
    def updated(self) -> int:
        return self.count(RowPlan.Action.UPDATE)

    @property
    def unchanged(self) -> int:
        return self.count(RowPlan.Action.UNCHANGED)

    @property
    def has_changes(self) -> bool:
        return self.created + self.updated > 0

    def summary(self) -> str:
        return _("新規 %(created)d件、更新 %(updated)d件、変更なし %(unchanged)d件") % {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }

    def fingerprint(self) -> str:
        """What applying this plan would do. The admin's confirm step checks it has not moved."""
        payload = [
            [r.row, r.action, r.member.pk, r.contact.pk if r.contact else None, r.values]
            for r in self.rows
        ]
        return hashlib.sha256(
            json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest()


# --- reading the file ----------------------------------------------------------------------


def read_rows(data: bytes, filename: str = "") -> Iterator[tuple[int, list[str]]]:
    """(row number as the spreadsheet shows it, cells as text) for each row of the file. Every
    reader of uploaded rows (contacts, members, 調査票) takes the bounds of spreadsheets.py."""
    check_size(data)
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        yield from _read_xlsx(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _(
                "古い Excel 形式（.xls）は読めません。Excel で「.xlsx」または「CSV」形式で"
                "保存し直してください。"
            )
        )
    else:
        yield from _read_csv(data)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(
                _(
                    "Unicode テキストとして読めないファイルです。CSV か Excel で保存し直してください。"
                )
            ) from None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        _("文字コードを判別できません。UTF-8 または Shift_JIS の CSV で保存してください。")
    )


def _read_csv(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # A record may span lines (a line break inside quotes); Excel shows it as one row.
        for number, cells in enumerate(reader, start=1):
            if number > MAX_ROWS:
                raise too_many_rows()
            yield number, cells
    except csv.Error as exc:
        raise ImportFileError(_("CSV を読めません（%(error)s）。") % {"error": exc}) from None


def _read_xlsx(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """Through the shared safe reader: bounded size, rows and columns; XML via defusedxml."""
    for number, values in read_xlsx_rows(data):
        yield number, [_cell_text(value) for value in values]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header_key(cell: str) -> str:
    text = unicodedata.normalize("NFKC", cell).lower()
    for mark in REQUIRED_MARKS:
        text = text.replace(mark, "")
    return "".join(text.split())


def _find_header(
    rows: Iterator[tuple[int, list[str]]], plan: ImportPlan
) -> tuple[int, dict[str, int]] | None:
    """The header row and the position of each known column in it: the first row with a
    known column, within the first few rows (a title may sit above it), else the first row."""
    first: tuple[int, list[str]] | None = None
    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        first = first or (number, cells)
        if any(_header_key(cell) in HEADER_MAP for cell in cells):
            return number, _read_header(number, cells, plan)
        if number >= HEADER_SEARCH_ROWS:
            break
    if first is None:
        return None
    return first[0], _read_header(first[0], first[1], plan)


def _read_header(number: int, cells: list[str], plan: ImportPlan) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = HEADER_MAP.get(_header_key(cell))
        if name is None:
            if cell.strip():
                plan.ignored_columns.append(cell.strip())
            continue
        if name in positions:
            plan.errors.append(
                RowError(
                    number,
                    name,
                    _("同じ項目の列が2つあります（「%(a)s」と「%(b)s」）。")
                    % {"a": cells[positions[name]].strip(), "b": cell.strip()},
                )
            )
            continue
        positions[name] = index
    plan.columns = [name for name in FIELDS if name in positions]
    for name in REQUIRED:
        if name not in positions:
            plan.errors.append(RowError(number, name, _("必須の列がありません。")))
    return positions


# --- checking each row ---------------------------------------------------------------------


class _Lookup:
    """Local governments and members by code, each looked up once per file."""

    def __init__(self) -> None:
        self.governments: dict[str, LocalGovernment | None] = {}
        self.found: dict[str, LocalGovernment | ValidationError] = {}

    def government(self, code: str) -> LocalGovernment | None:
        if code not in self.governments:
            self.governments[code] = (
                LocalGovernment.objects.select_related("prefecture", "member")
                .filter(code=code)
                .first()
            )
        return self.governments[code]

    def find(self, raw: str) -> LocalGovernment:
        key = unicodedata.normalize("NFKC", raw).strip()
        if key not in self.found:
            try:
                self.found[key] = self._find(raw)
            except ValidationError as exc:
                self.found[key] = exc
        result = self.found[key]
        if isinstance(result, ValidationError):
            raise result
        return result

    def _find(self, raw: str) -> LocalGovernment:
        """find_local_government, plus the 6-digit code whose leading zero a spreadsheet
        dropped (011002 read as 11002), which would otherwise pass as a 5-digit code."""
        digits = unicodedata.normalize("NFKC", raw).strip()
        if len(digits) == 5 and digits.isdigit() and digits[0] != "0":
            padded = "0" + digits
            if check_digit(padded[:5]) == padded[5] and (lost := self.government(padded)):
                plain = self.government(digits + check_digit(digits))
                if plain is None:
                    return lost
                raise ValidationError(
                    _(
                        "団体コード「%(raw)s」は %(a)s（%(a_name)s）とも %(b)s（%(b_name)s）とも"
                        "読めます。6桁で入力してください。"
                    )
                    % {
                        "raw": digits,
                        "a": lost.code,
                        "a_name": lost.full_name,
                        "b": plain.code,
                        "b_name": plain.full_name,
                    }
                )
        government = self.government(normalise_code(raw))
        if government is None:
            return services.find_local_government(raw)  # which says why not
        return government

    def member(self, government: LocalGovernment) -> Member:
        member = getattr(government, "member", None)
        if member is not None and member.status == Member.Status.LEFT:
            raise ValidationError(
                _("団体コード「%(code)s」の%(name)sは退会しています（%(date)s）。")
                % {
                    "code": government.code,
                    "name": government.full_name,
                    "date": wareki(member.left_on, weekday=False) if member.left_on else "",
                }
            )
        if member is None:
            raise ValidationError(
                _("団体コード「%(code)s」の%(name)sは会員ではありません。")
                % {"code": government.code, "name": government.full_name}
            )
        member.local_government = government
        return member


def _unformula(value: str) -> str:
    """Our CSV export guards a leading =, +, - or @ with an apostrophe; take it off again."""
    if value.startswith("'") and value[1:2] in FORMULA_PREFIXES:
        return value[1:]
    return value


def _clean_row(
    number: int, cells: list[str], positions: dict[str, int], lookup: _Lookup
) -> tuple[Member | None, dict[str, str], list[RowError]]:
    raw = {
        name: _unformula(cells[index]) if index < len(cells) else ""
        for name, index in positions.items()
    }
    errors: list[RowError] = []
    values: dict[str, str] = {}
    member: Member | None = None

    def fail(name: str, exc: ValidationError) -> None:
        errors.extend(RowError(number, name, message) for message in exc.messages)

    try:
        member = lookup.member(lookup.find(raw["code"]))
    except ValidationError as exc:
        fail("code", exc)
    for name in FIELDS[1:]:
        if name not in raw:
            continue
        try:
            services.refuse_control_characters({name: raw[name]})
            if name == "email":
                values[name] = services.normalise_email(raw[name])
            elif name == "role":
                # An empty cell leaves the role as it is (a new contact is 担当者).
                if services.normalise_text(raw[name]):
                    values[name] = services.parse_role(raw[name])
            elif name == "kana":
                values[name] = services.normalise_kana(raw[name])
            else:
                values[name] = services.normalise_text(raw[name])
        except ValidationError as exc:
            fail(name, exc)
            continue
        if name == "name" and not values[name]:
            errors.append(RowError(number, name, _("氏名が空です。")))
        limit = MAX_LENGTHS.get(name)
        if limit and name in values and len(values[name]) > limit:
            errors.append(
                RowError(
                    number,
                    name,
                    _("%(limit)d文字以内で入力してください（%(length)d文字あります）。")
                    % {"limit": limit, "length": len(values[name])},
                )
            )
    return member, values, errors


def plan_import(data: bytes, *, filename: str = "") -> ImportPlan:
    """Read the file and say, row by row, what importing it would do. Writes nothing."""
    plan = ImportPlan()
    try:
        rows = read_rows(data, filename)
        header = _find_header(rows, plan)
        if header is None:
            plan.errors.append(RowError(None, "", _("ファイルに見出し行がありません。")))
            return plan
        if plan.errors:
            return plan
        positions = header[1]
        lookup = _Lookup()
        cleaned: list[tuple[int, Member, dict[str, str]]] = []
        first_seen: dict[tuple[int, str], int] = {}
        for number, cells in rows:
            if not any(cell.strip() for cell in cells):
                continue
            member, values, errors = _clean_row(number, cells, positions, lookup)
            plan.errors.extend(errors)
            if member is None or errors:
                continue
            key = (member.pk, values["email"])
            if key in first_seen:
                plan.errors.append(
                    RowError(
                        number,
                        "email",
                        _("%(email)s は%(row)d行目と重複しています（%(member)s）。")
                        % {"email": values["email"], "row": first_seen[key], "member": member.name},
                    )
                )
                continue
            first_seen[key] = number
            cleaned.append((number, member, values))
    except ImportFileError as exc:
        plan.errors.append(RowError(None, "", str(exc)))
        return plan
    if not cleaned and not plan.errors:
        plan.errors.append(RowError(None, "", _("取り込む行がありません。")))
    existing = {
        (contact.member_id, contact.email): contact
        for contact in Contact.objects.filter(
            member_id__in={item[1].pk for item in cleaned},
            email__in={item[2]["email"] for item in cleaned},
        )
    }
    for number, member, values in cleaned:
        contact = existing.get((member.pk, values["email"]))
        if contact is None:
            plan.rows.append(RowPlan(number, RowPlan.Action.CREATE, member, values))
            continue
        contact.member = member
        changed = [name for name, value in values.items() if getattr(contact, name) != value]
        action = RowPlan.Action.UPDATE if changed else RowPlan.Action.UNCHANGED
        plan.rows.append(RowPlan(number, action, member, values, contact, changed))
    return plan


def import_contacts(
    data: bytes,
    *,
    filename: str = "",
    by: User | None = None,
    dry_run: bool = False,
    expected: str | None = None,
) -> ImportPlan:
    """Import the contacts in DATA, all or nothing. With EXPECTED (a plan's fingerprint from a
    preview), import only if the plan is still exactly what was previewed; otherwise return
    the new plan marked outdated and write nothing."""
    if dry_run:
        return plan_import(data, filename=filename)
    try:
        with transaction.atomic():
            plan = plan_import(data, filename=filename)
            if plan.errors:
                return plan
            if expected is not None and plan.fingerprint() != expected:
                plan.outdated = True
                return plan
            # Hold the members still while we write: a concurrent import of the same
            # municipality waits here instead of racing us for the same addresses.
            list(
                Member.objects.select_for_update()
                .filter(pk__in={row.member.pk for row in plan.rows})
                .values_list("pk", flat=True)
            )
            for row in plan.rows:
                _apply(row, by=by)
    except _RowFailed as failure:
        plan.errors.append(failure.error)
        return plan
    plan.applied = True
    return plan


class _RowFailed(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def _apply(row: RowPlan, *, by: User | None) -> None:
    try:
        if row.action == RowPlan.Action.CREATE:
            services.add_contact(row.member, by=by, **row.values)
        elif row.action == RowPlan.Action.UPDATE and row.contact is not None:
            services.update_contact(
                row.contact, by=by, **{name: row.values[name] for name in row.changed}
            )
    except ValidationError as exc:
        # Someone changed the registry between our check and our write; roll it all back.
        name = "email" if hasattr(exc, "error_dict") else ""
        raise _RowFailed(RowError(row.row, name, " ".join(exc.messages))) from exc
