"""Read queries for the portal pages: what a member sees of trainings, in a fixed number of
queries however many trainings and registrations there are."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from association.models import Member

from .models import Registration, Training


@dataclass
class RegistrationRow:
    registration: Registration
    place: int | None = None  # キャンセル待ち N 番目


class Phase:
    """Where a training stands for one member: exactly one of these, never two at once."""

    BEFORE = "before"  # 受付前（M月D日から）
    OPEN = "open"  # 受付中
    FULL = "full"  # 満席（キャンセル待ちで受付中）
    CLOSED = "closed"  # 受付終了
    CALLED_OFF = "called_off"  # 中止
    NOT_FOR_US = "not_for_us"  # 対象外


def month_day(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    return _("%(month)d月%(day)d日") % {"month": local.month, "day": local.day}


@dataclass
class TrainingRow:
    training: Training
    seats_left: int
    waitlisted: int
    is_open: bool
    admitted: bool
    is_over: bool
    phase: str = Phase.CLOSED
    phase_label: str = ""
    member_confirmed: int = 0
    registrations: list[RegistrationRow] = field(default_factory=list)

    @property
    def member_at_limit(self) -> bool:
        return self.member_confirmed >= self.training.per_member_limit

    @property
    def member_limit_label(self) -> str:
        """Beside the seats left, when a colleague would wait however many seats are free."""
        if not self.member_at_limit or self.phase not in (Phase.OPEN, Phase.FULL):
            return ""
        return _("この団体の上限（%(limit)d名）に達しています") % {
            "limit": self.training.per_member_limit
        }


def phase_of(
    training: Training, member: Member, *, seats_left: int, now: dt.datetime
) -> tuple[str, str]:
    """The one status MEMBER sees for TRAINING, and its words."""
    if training.status == Training.Status.CANCELLED:
        return Phase.CALLED_OFF, _("中止")
    if training.status != Training.Status.PUBLISHED or now >= training.registration_closes_at:
        return Phase.CLOSED, _("受付終了")
    opens = training.opens_at if training.opens_at and now < training.opens_at else None
    if not training.admits(member, now):
        later = training.others_from
        if training.audience == Training.Audience.BLOCK_FIRST and later and later > now:
            opens = max(opens, later) if opens else later
        else:
            return Phase.NOT_FOR_US, _("対象外")
    if opens is not None:
        return Phase.BEFORE, _("受付前（%(day)sから）") % {"day": month_day(opens)}
    if seats_left <= 0:
        return Phase.FULL, _("満席（キャンセル待ちで受付中）")
    return Phase.OPEN, _("受付中")


def waitlist_places(training_ids: list[int]) -> dict[int, int]:
    """Waiting-list place of every waitlisted registration of these trainings."""
    places: dict[int, int] = {}
    counters: dict[int, int] = defaultdict(int)
    rows = (
        Registration.objects.waitlisted()
        .filter(training_id__in=training_ids)
        .values_list("id", "training_id")
    )
    for reg_id, training_id in rows:
        counters[training_id] += 1
        places[reg_id] = counters[training_id]
    return places


def training_rows(
    member: Member, trainings: list[Training], now: dt.datetime | None = None
) -> list[TrainingRow]:
    """TRAININGS must come from Training.objects.with_counts()."""
    now = now or timezone.now()
    ids = [t.pk for t in trainings]
    registrations = (
        Registration.objects.active()
        .filter(member=member, training_id__in=ids)
        .select_related("contact")
        .order_by("id")
    )
    by_training: dict[int, list[RegistrationRow]] = defaultdict(list)
    waitlisted_ids = []
    for registration in registrations:
        by_training[registration.training_id].append(RegistrationRow(registration))
        if registration.status == Registration.Status.WAITLISTED:
            waitlisted_ids.append(registration.training_id)
    places = waitlist_places(sorted(set(waitlisted_ids))) if waitlisted_ids else {}
    rows = []
    for training in trainings:
        regs = by_training[training.pk]
        for row in regs:
            row.place = places.get(row.registration.pk)
        confirmed = getattr(training, "confirmed_count", 0)
        seats_left = max(training.capacity - confirmed, 0)
        phase, label = phase_of(training, member, seats_left=seats_left, now=now)
        rows.append(
            TrainingRow(
                training=training,
                seats_left=seats_left,
                waitlisted=getattr(training, "waitlisted_count", 0),
                is_open=phase in (Phase.OPEN, Phase.FULL),
                admitted=training.admits(member, now),
                is_over=training.is_over_at(now),
                phase=phase,
                phase_label=label,
                member_confirmed=sum(r.registration.is_confirmed for r in regs),
                registrations=regs,
            )
        )
    return rows


def member_trainings(member: Member) -> list[TrainingRow]:
    trainings = list(
        Training.objects.listed().for_member(member).with_counts().select_related("block")
    )
    return training_rows(member, trainings)
