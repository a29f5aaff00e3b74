"""Read queries for the portal pages: what a member sees of trainings, in a fixed number of
queries however many trainings and registrations there are."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from association.models import Member

from .models import Registration, Training


@dataclass
class RegistrationRow:
    registration: Registration
    place: int | None = None  # キャンセル待ち N 番目


@dataclass
class TrainingRow:
    training: Training
    seats_left: int
    waitlisted: int
    is_open: bool
    admitted: bool
    registrations: list[RegistrationRow] = field(default_factory=list)


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
        rows.append(
            TrainingRow(
                training=training,
                seats_left=max(training.capacity - confirmed, 0),
                waitlisted=getattr(training, "waitlisted_count", 0),
                is_open=training.is_open_at(now),
                admitted=training.admits(member, now),
                registrations=regs,
            )
        )
    return rows


def member_trainings(member: Member) -> list[TrainingRow]:
    trainings = list(
        Training.objects.listed().for_member(member).with_counts().select_related("block")
    )
    return training_rows(member, trainings)
