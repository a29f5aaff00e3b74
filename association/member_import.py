"""Bring an existing roster in: members (and their partnership agreements) from the Excel or
CSV a secretariat already keeps, and the member list exported so that it imports back unchanged.

The same rules as the contact import (association.importing): the same safe reader, header
found under a title, row and column errors in Japanese, a dry-run plan, and all or nothing,
written through association.services.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .importing import (
    FORMULA_PREFIXES,
    HEADER_SEARCH_ROWS,
    ImportFileError,
    RowError,
    _header_key,
    _Lookup,
    _unformula,
    read_rows,
)
from .models import Agreement, Block, LocalGovernment, Member, User
from .nendo import parse_date, wareki

FIELDS = ("code", "kind", "joined_on", "block", "agreed_on", "hashtag")
LABELS = {
    "code": gettext_lazy("団体コード"),
    "kind": gettext_lazy("会員種別"),
    "joined_on": gettext_lazy("入会日"),
    "block": gettext_lazy("ブロック"),
    "agreed_on": gettext_lazy("連携協定日"),
    "hashtag": gettext_lazy("ハッシュタグ"),
}
HEADER_WORDS = {
    "code": ["団体コード", "自治体コード", "地方公共団体コード", "全国地方公共団体コード", "code"],
    "kind": ["会員種別", "種別", "kind"],
    "joined_on": ["入会日", "入会年月日", "加入日", "joinedon"],
    "block": ["ブロック", "ブロック(個別指定)", "block"],
    "agreed_on": ["連携協定日", "協定締結日", "協定日", "連携協定締結日", "agreedon"],
    "hashtag": ["ハッシュタグ", "タグ", "hashtag"],
}
HEADER_MAP = {word.lower(): key for key, words in HEADER_WORDS.items() for word in words}
KINDS = {
    "会員": Member.Kind.MEMBER,
    "正会員": Member.Kind.MEMBER,
    "member": Member.Kind.MEMBER,
    "特別会員": Member.Kind.SPECIAL,
    "special": Member.Kind.SPECIAL,
}
HASHTAG_LENGTH = Agreement._meta.get_field("hashtag").max_length or 60


def _error(row: int | None, name: str, message: str) -> RowError:
    return RowError(row, str(LABELS.get(name, name)) if name else "", message)


@dataclass
class MemberRow:
    class Action:
        CREATE = "create"
        UPDATE = "update"
        UNCHANGED = "unchanged"

    row: int
    action: str
    government: LocalGovernment
    kind: str
    joined_on: Any
    block: Block | None
    agreed_on: Any = None
    hashtag: str = ""
    member: Member | None = None
    changed: list[str] = field(default_factory=list)
    new_agreement: bool = False

    @property
    def action_label(self) -> str:
        return {
            self.Action.CREATE: _("新規"),
            self.Action.UPDATE: _("更新"),
            self.Action.UNCHANGED: _("変更なし"),
        }[self.action]

    def describe(self) -> str:
        text = _("%(row)d行目 %(action)s: %(name)s（%(kind)s、入会 %(joined)s）") % {
            "row": self.row,
            "action": self.action_label,
            "name": self.government.full_name,
            "kind": Member.Kind(self.kind).label,
            "joined": wareki(self.joined_on, weekday=False),
        }
        if self.changed:
            text += _("（変更: %(fields)s）") % {
                "fields": "、".join(str(LABELS[name]) for name in self.changed)
            }
        if self.new_agreement:
            text += _("（連携協定 %(date)s を登録）") % {
                "date": wareki(self.agreed_on, weekday=False)
            }
        return text


@dataclass
class MemberImportPlan:
    rows: list[MemberRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    applied: bool = False
    outdated: bool = False

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def agreements(self) -> int:
        return sum(1 for row in self.rows if row.new_agreement)

    @property
    def has_changes(self) -> bool:
        return any(r.action != MemberRow.Action.UNCHANGED or r.new_agreement for r in self.rows)

    def summary(self) -> str:
        return _(
            "新規 %(created)d団体、更新 %(updated)d団体、変更なし %(unchanged)d団体、"
            "連携協定の登録 %(agreements)d件"
        ) % {
            "created": self.count(MemberRow.Action.CREATE),
            "updated": self.count(MemberRow.Action.UPDATE),
            "unchanged": self.count(MemberRow.Action.UNCHANGED),
            "agreements": self.agreements,
        }

    def fingerprint(self) -> str:
        payload = [
            [
                r.row,
                r.action,
                r.government.code,
                r.kind,
                str(r.joined_on),
                r.block.pk if r.block else None,
                str(r.agreed_on),
                r.hashtag,
                r.changed,
                r.new_agreement,
            ]
            for r in self.rows
        ]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _find_header(rows: Any, plan: MemberImportPlan) -> tuple[int, dict[str, int]] | None:
    first = None
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


def _read_header(number: int, cells: list[str], plan: MemberImportPlan) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = HEADER_MAP.get(_header_key(cell))
        if name is None:
            if cell.strip():
                plan.ignored_columns.append(cell.strip())
            continue
        if name in positions:
            plan.errors.append(_error(number, name, _("同じ項目の列が2つあります。")))
            continue
        positions[name] = index
    if "code" not in positions:
        plan.errors.append(_error(number, "code", _("必須の列がありません。")))
    return positions


def _date(value: str) -> Any:
    """A date cell: as people type it, or as Excel stores it (2026-04-01 00:00:00)."""
    text = unicodedata.normalize("NFKC", value).strip()
    if len(text) == 19 and text.endswith(" 00:00:00"):
        text = text[:10]
    try:
        return parse_date(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _clean(
    number: int,
    cells: list[str],
    positions: dict[str, int],
    lookup: _Lookup,
    blocks: dict[str, Block],
    today: Any,
) -> tuple[MemberRow | None, list[RowError]]:
    raw = {
        name: _unformula(cells[index]).strip() if index < len(cells) else ""
        for name, index in positions.items()
    }
    errors: list[RowError] = []
    government = None
    try:
        government = lookup.find(raw["code"])
    except ValidationError as exc:
        errors += [_error(number, "code", m) for m in exc.messages]
    member = getattr(government, "member", None) if government is not None else None
    kind_text = services.normalise_text(raw.get("kind", ""))
    kind = member.kind if member is not None else Member.Kind.MEMBER
    if kind_text:
        if kind_text.lower() not in KINDS:
            errors.append(
                _error(
                    number,
                    "kind",
                    _("「%(v)s」は会員種別にありません（会員／特別会員）。")
                    % {"v": kind_text[:20]},
                )
            )
        else:
            kind = KINDS[kind_text.lower()]
    joined_on = member.joined_on if member is not None else today
    if raw.get("joined_on"):
        try:
            joined_on = _date(raw["joined_on"])
        except ValidationError as exc:
            errors += [_error(number, "joined_on", m) for m in exc.messages]
    block = member.block_override if member is not None else None
    if "block" in raw:
        name = services.normalise_text(raw["block"])
        if not name:
            block = None
        elif name not in blocks:
            errors.append(
                _error(
                    number,
                    "block",
                    _("ブロック「%(v)s」はありません（%(names)s）。")
                    % {"v": name[:20], "names": "、".join(blocks)},
                )
            )
        else:
            block = blocks[name]
    agreed_on = None
    if raw.get("agreed_on"):
        try:
            agreed_on = _date(raw["agreed_on"])
        except ValidationError as exc:
            errors += [_error(number, "agreed_on", m) for m in exc.messages]
    hashtag = services.normalise_text(raw.get("hashtag", ""))
    if len(hashtag) > HASHTAG_LENGTH:
        errors.append(
            _error(
                number,
                "hashtag",
                _("%(limit)d文字以内で入力してください（%(length)d文字あります）。")
                % {"limit": HASHTAG_LENGTH, "length": len(hashtag)},
            )
        )
    if hashtag and agreed_on is None:
        errors.append(_error(number, "agreed_on", _("ハッシュタグには連携協定日が必要です。")))
    if member is not None and member.status == Member.Status.LEFT:
        errors.append(
            _error(
                number,
                "code",
                _("%(name)sは退会しています。再入会は会員団体の画面から手続きしてください。")
                % {"name": member.name},
            )
        )
    if errors or government is None:
        return None, errors
    row = MemberRow(
        number,
        MemberRow.Action.CREATE,
        government,
        kind,
        joined_on,
        block,
        agreed_on,
        hashtag,
        member,
    )
    if member is not None and member.status == Member.Status.ACTIVE:
        row.changed = [
            name
            for name, old, new in (
                ("kind", member.kind, kind),
                ("block", member.block_override_id, block.pk if block else None),
            )
            if old != new
        ]
        row.action = MemberRow.Action.UPDATE if row.changed else MemberRow.Action.UNCHANGED
    return row, errors


def plan_member_import(data: bytes, *, filename: str = "", today: Any = None) -> MemberImportPlan:
    """Read the file and say, row by row, what importing it would do. Writes nothing."""
    from django.utils import timezone

    today = today or timezone.localdate()
    plan = MemberImportPlan()
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
        blocks = {b.name: b for b in Block.objects.all()}
        seen: dict[str, int] = {}
        for number, cells in rows:
            if not any(cell.strip() for cell in cells):
                continue
            row, errors = _clean(number, cells, positions, lookup, blocks, today)
            plan.errors += errors
            if row is None:
                continue
            if row.government.code in seen:
                plan.errors.append(
                    _error(
                        number,
                        "code",
                        _("%(name)sは%(row)d行目と重複しています。")
                        % {"name": row.government.full_name, "row": seen[row.government.code]},
                    )
                )
                continue
            seen[row.government.code] = number
            plan.rows.append(row)
    except ImportFileError as exc:
        plan.errors.append(RowError(None, "", str(exc)))
        return plan
    if not plan.rows and not plan.errors:
        plan.errors.append(RowError(None, "", _("取り込む行がありません。")))
    existing = set(
        Agreement.objects.filter(
            local_government__in=[r.government for r in plan.rows if r.agreed_on]
        ).values_list("local_government_id", "signed_on")
    )
    for row in plan.rows:
        row.new_agreement = (
            bool(row.agreed_on) and (row.government.code, row.agreed_on) not in existing
        )
    return plan


def import_members(
    data: bytes,
    *,
    filename: str = "",
    by: User | None = None,
    dry_run: bool = False,
    expected: str | None = None,
) -> MemberImportPlan:
    """Import the members in DATA, all or nothing (see importing.import_contacts)."""
    if dry_run:
        return plan_member_import(data, filename=filename)
    try:
        with transaction.atomic():
            plan = plan_member_import(data, filename=filename)
            if plan.errors:
                return plan
            if expected is not None and plan.fingerprint() != expected:
                plan.outdated = True
                return plan
            for row in plan.rows:
                _apply(row, by=by)
    except _Failed as failure:
        plan.errors.append(failure.error)
        return plan
    plan.applied = True
    return plan


class _Failed(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def _apply(row: MemberRow, *, by: User | None) -> None:
    try:
        member = row.member
        if row.action == MemberRow.Action.CREATE:
            member = services.admit_member(
                row.government,
                kind=row.kind,
                joined_on=row.joined_on,
                by=by,
                note=_("名簿の取込"),
            )
        assert member is not None
        if "kind" in row.changed:
            services.change_member_kind(member, kind=row.kind, by=by)
        if row.action == MemberRow.Action.CREATE or "block" in row.changed:
            services.set_block_override(member, block=row.block, by=by)
        if row.new_agreement:
            services.record_agreement(
                row.government, signed_on=row.agreed_on, hashtag=row.hashtag, by=by
            )
    except ValidationError as exc:
        raise _Failed(RowError(row.row, "", " ".join(exc.messages))) from exc


# --- the member list, exported so that it imports back unchanged -----------------------------

EXPORT_HEADERS = (
    gettext_lazy("団体コード"),
    gettext_lazy("団体名"),
    gettext_lazy("会員種別"),
    gettext_lazy("入会日"),
    gettext_lazy("ブロック"),
    gettext_lazy("連携協定日"),
    gettext_lazy("ハッシュタグ"),
    gettext_lazy("状態"),
    gettext_lazy("有効な担当者数"),
)


def export_rows(members: Iterable[Member] | None = None) -> list[list[str]]:
    """One row per member: the import's columns (ブロック is the member's own override, empty
    when it follows its prefecture; the agreement is the latest), then 状態 and the number of
    active contacts, which the import ignores."""
    if members is None:
        members = (
            Member.objects.with_registry()
            .exclude(status=Member.Status.GUEST)
            .annotate(active_contacts=Count("contacts", filter=Q(contacts__is_active=True)))
            .order_by("local_government_id")
        )
    latest: dict[str, Agreement] = {}
    for signed in Agreement.objects.order_by("signed_on", "id"):
        latest[signed.local_government_id] = signed
    result = []
    for member in members:
        agreement = latest.get(member.local_government_id)
        result.append(
            [
                member.local_government_id,
                member.name,
                str(member.get_kind_display()),
                member.joined_on.isoformat(),
                member.block_override.name if member.block_override else "",
                agreement.signed_on.isoformat() if agreement else "",
                agreement.hashtag if agreement else "",
                str(member.get_status_display()),
                str(getattr(member, "active_contacts", "")),
            ]
        )
    return result


def export_members_csv() -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(h) for h in EXPORT_HEADERS])
    for row in export_rows():
        writer.writerow(["'" + v if v.startswith(FORMULA_PREFIXES) else v for v in row])
    return buffer.getvalue().encode("utf-8-sig")
