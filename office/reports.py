"""年度 reports: participation in trainings and reach of bulletins for one 年度 (April–March).

Every figure is counted by the database in a few grouped queries (no query per member or per
training), so the report of 1,741 members and their trainings builds in well under a second
(bench/report_nendo.py). The screen (office.views), the .xlsx (office.workbook) and
`manage.py report_nendo` all read the same Report.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from association.models import Block, Member
from association.nendo import nendo_label, nendo_range
from events.models import Registration, Training
from mailing.models import Bulletin, Delivery

CONFIRMED = Registration.Status.CONFIRMED
ATTENDED = Registration.Attendance.ATTENDED
ABSENT = Registration.Attendance.ABSENT
REACHED = (Delivery.Status.SENT, Delivery.Status.DELIVERED)
BOUNCED = (Delivery.Status.BOUNCED, Delivery.Status.COMPLAINED)


@dataclass
class Counts:
    """Registrations of one group: 参加確定, 出席, 欠席, 取消 (persons), and the trainings at
    least one person attended."""

    registered: int = 0
    attended: int = 0
    absent: int = 0
    cancelled: int = 0
    trainings_attended: int = 0

    def add(self, other: Counts) -> None:
        self.registered += other.registered
        self.attended += other.attended
        self.absent += other.absent
        self.cancelled += other.cancelled
        self.trainings_attended += other.trainings_attended


@dataclass
class MemberRow:
    code: str
    name: str
    prefecture: str
    block: str
    block_order: tuple[int, int]
    counts: Counts


@dataclass
class GroupRow:
    name: str
    members: int
    members_taking_part: int
    counts: Counts


@dataclass
class TrainingRow:
    training: Training
    mode: str
    by_block: dict[str, Counts]
    total: Counts


@dataclass
class ListRow:
    name: str
    bulletins: int
    messages: int
    reached: int
    bounced: int
    failed: int
    members_reached: int


@dataclass
class Report:
    nendo: int
    block: Block | None
    trainings: list[TrainingRow]
    members: list[MemberRow]
    blocks: list[GroupRow]
    prefectures: list[GroupRow]
    lists: list[ListRow]
    members_reached: int
    blocks_in_order: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return nendo_label(self.nendo)

    @property
    def silent_members(self) -> list[MemberRow]:
        """Members that sent nobody to any training this 年度 (no confirmed registration)."""
        return [m for m in self.members if not m.counts.registered]


def training_mode(training: Training) -> str:
    """会場, オンライン or 会場・オンライン, from where the training takes place."""
    venue, online = training.has_venue, bool(training.online_url)
    if venue and online:
        return _("会場・オンライン")
    return _("オンライン") if online and not venue else _("会場")


def _counts_of(row: Mapping[str, Any]) -> Counts:
    return Counts(
        registered=row["registered"],
        attended=row["attended"],
        absent=row["absent"],
        cancelled=row["cancelled"],
        trainings_attended=row.get("trainings_attended", 0),
    )


def _aggregates() -> dict[str, Count]:
    confirmed = Q(status=CONFIRMED)
    return {
        "registered": Count("pk", filter=confirmed),
        "attended": Count("pk", filter=confirmed & Q(attendance=ATTENDED)),
        "absent": Count("pk", filter=confirmed & Q(attendance=ABSENT)),
        "cancelled": Count("pk", filter=Q(status=Registration.Status.CANCELLED)),
    }


def _member_block() -> Coalesce:
    """A registration's member's block: its override, else its prefecture's (Member.block)."""
    return Coalesce("member__block_override_id", "member__local_government__prefecture__block_id")


def _nendo_bounds(nendo: int) -> tuple[dt.datetime, dt.datetime]:
    start, end = nendo_range(nendo)
    zone = timezone.get_current_timezone()
    return (
        dt.datetime.combine(start, dt.time(), tzinfo=zone),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone),
    )


def build_report(nendo: int, *, block: Block | None = None) -> Report:
    """The report of NENDO; with BLOCK, only that block's members (and their registrations)."""
    blocks = list(Block.objects.order_by("sort_order", "id"))
    block_names = {b.pk: b.name for b in blocks}
    block_order = {b.pk: (b.sort_order, b.pk) for b in blocks}

    members = Member.objects.with_registry().filter(
        Q(status=Member.Status.ACTIVE) | Q(registrations__training__nendo=nendo)
    )
    if block is not None:
        members = members.in_block(block)
    members = members.distinct().order_by("local_government_id")

    trainings = list(
        Training.objects.filter(nendo=nendo)
        .exclude(status__in=[Training.Status.DRAFT, Training.Status.CANCELLED])
        .select_related("block")
        .order_by("starts_at", "id")
    )
    registrations = Registration.objects.filter(training__in=trainings)
    if block is not None:
        registrations = registrations.filter(member__in=Member.objects.in_block(block))

    per_member = {
        row["member_id"]: _counts_of(row)
        for row in registrations.values("member_id")
        .annotate(
            **_aggregates(),
            trainings_attended=Count(
                "training", distinct=True, filter=Q(status=CONFIRMED, attendance=ATTENDED)
            ),
        )
        .order_by()
    }

    per_training_block: dict[int, dict[str, Counts]] = defaultdict(dict)
    for row in (
        registrations.annotate(block_id=_member_block())
        .values("training_id", "block_id")
        .annotate(**_aggregates())
        .order_by()
    ):
        per_training_block[row["training_id"]][block_names[row["block_id"]]] = _counts_of(row)

    member_rows: list[MemberRow] = []
    for member in members:
        member_block_obj = member.block
        member_rows.append(
            MemberRow(
                code=member.local_government_id,
                name=member.name,
                prefecture=member.local_government.prefecture.name,
                block=member_block_obj.name,
                block_order=block_order[member_block_obj.pk],
                counts=per_member.get(member.pk, Counts()),
            )
        )

    training_rows = []
    for training in trainings:
        by_block = per_training_block.get(training.pk, {})
        total = Counts()
        for counts in by_block.values():
            total.add(counts)
        training_rows.append(
            TrainingRow(
                training=training, mode=training_mode(training), by_block=by_block, total=total
            )
        )

    lists, reached = mailing_by_list(nendo, block=block)
    return Report(
        nendo=nendo,
        block=block,
        trainings=training_rows,
        members=member_rows,
        blocks=_grouped(member_rows, key=lambda m: (m.block_order, m.block)),
        prefectures=_grouped(member_rows, key=lambda m: (m.code[:2], m.prefecture)),
        lists=lists,
        members_reached=reached,
        blocks_in_order=[b.name for b in blocks if block is None or b.pk == block.pk],
    )


def _grouped(
    rows: list[MemberRow], *, key: Callable[[MemberRow], tuple[Any, str]]
) -> list[GroupRow]:
    """Member rows summed per group; KEY gives a row's (sort key, group name)."""
    groups: dict[tuple[Any, str], GroupRow] = {}
    for row in rows:
        group = groups.setdefault(key(row), GroupRow(key(row)[1], 0, 0, Counts()))
        group.members += 1
        group.members_taking_part += 1 if row.counts.registered else 0
        group.counts.add(row.counts)
    return [groups[k] for k in sorted(groups)]


def mailing_by_list(nendo: int, *, block: Block | None = None) -> tuple[list[ListRow], int]:
    """Bulletins started in NENDO, per list: how many, messages, reached (sent or delivered),
    bounced or complained, failed, and members with at least one message reached. And the
    members reached by any list."""
    start, end = _nendo_bounds(nendo)
    bulletins = Bulletin.objects.filter(started_at__gte=start, started_at__lt=end)
    per_list = {
        row["mailing_list__name"]: row["n"]
        for row in bulletins.values("mailing_list__name").annotate(n=Count("pk")).order_by()
    }
    deliveries = Delivery.objects.filter(bulletin__in=bulletins)
    if block is not None:
        deliveries = deliveries.filter(member__in=Member.objects.in_block(block))
    rows = (
        deliveries.values("bulletin__mailing_list__name")
        .annotate(
            messages=Count("pk", filter=~Q(status=Delivery.Status.SKIPPED)),
            reached=Count("pk", filter=Q(status__in=REACHED)),
            bounced=Count("pk", filter=Q(status__in=BOUNCED)),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
            members_reached=Count("member", distinct=True, filter=Q(status__in=REACHED)),
        )
        .order_by("bulletin__mailing_list__name")
    )
    by_name = {row["bulletin__mailing_list__name"]: row for row in rows}
    result = []
    for name in sorted(per_list):
        row: Mapping[str, Any] = by_name.get(name, {})
        result.append(
            ListRow(
                name=name,
                bulletins=per_list[name],
                messages=row.get("messages", 0),
                reached=row.get("reached", 0),
                bounced=row.get("bounced", 0),
                failed=row.get("failed", 0),
                members_reached=row.get("members_reached", 0),
            )
        )
    reached = deliveries.filter(status__in=REACHED).values("member").distinct().count()
    return result, reached


def participation_by_block_and_nendo(nendos: list[int]) -> dict[int, dict[str, int]]:
    """Persons attended per block, for each of NENDOS (for the chart): one query."""
    names = dict(Block.objects.values_list("pk", "name"))
    result: dict[int, dict[str, int]] = {n: {} for n in nendos}
    rows = (
        Registration.objects.filter(
            training__nendo__in=nendos, status=CONFIRMED, attendance=ATTENDED
        )
        .exclude(training__status=Training.Status.CANCELLED)
        .annotate(block_id=_member_block())
        .values("training__nendo", "block_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        result[row["training__nendo"]][names[row["block_id"]]] = row["n"]
    return result
