"""A member's story on its admin page: agreements, contacts, trainings by 年度, bulletins
received and the latest of its history, each read through the apps' own models and helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q

from association.history import HistoryLine, member_history
from association.models import Agreement, Member
from events.models import Registration
from mailing.models import Delivery

from .reports import BOUNCED, REACHED, Counts, _aggregates, _counts_of


@dataclass
class NendoLine:
    nendo: int
    counts: Counts
    titles: list[str]


@dataclass
class BulletinLine:
    subject: str
    started_at: Any
    reached: bool
    bounced: bool
    pk: int


@dataclass
class Story:
    agreements: list[Agreement]
    contacts_active: int
    coordinators: int
    nendos: list[NendoLine]
    bulletins: list[BulletinLine]
    bulletins_reached: int
    history: list[HistoryLine]


def member_story(member: Member, *, show_people: bool) -> Story:
    """MEMBER's story in six queries whatever its size: agreements, its contacts' roles, its
    registrations grouped by training, its deliveries grouped by bulletin (the latest ten),
    the bulletins that reached it, and its history."""
    agreements = list(Agreement.objects.filter(local_government_id=member.local_government_id))
    contacts = member.contacts.active().aggregate(
        n=Count("pk"), coordinators=Count("pk", filter=Q(role="coordinator"))
    )
    per_training = (
        Registration.objects.filter(member=member)
        .values("training_id", "training__nendo", "training__title", "training__starts_at")
        .annotate(**_aggregates())
        .order_by("training__starts_at", "training_id")
    )
    per_nendo: dict[int, Counts] = {}
    titles: dict[int, list[str]] = {}
    for row in per_training:
        nendo = row["training__nendo"]
        counts = _counts_of(row)
        per_nendo.setdefault(nendo, Counts()).add(counts)
        if counts.attended:
            titles.setdefault(nendo, []).append(row["training__title"])
    deliveries = (
        Delivery.objects.filter(member=member)
        .values("bulletin_id", "bulletin__sent_subject", "bulletin__subject")
        .annotate(
            started=Max("bulletin__started_at"),
            reached=Count("pk", filter=Q(status__in=REACHED)),
            bounced=Count("pk", filter=Q(status__in=BOUNCED)),
        )
        .order_by("-started", "-bulletin_id")
    )
    bulletins = [
        BulletinLine(
            subject=row["bulletin__sent_subject"] or row["bulletin__subject"],
            started_at=row["started"],
            reached=row["reached"] > 0,
            bounced=row["bounced"] > 0,
            pk=row["bulletin_id"],
        )
        for row in deliveries[:10]
    ]
    reached = (
        Delivery.objects.filter(member=member, status__in=REACHED)
        .values("bulletin_id")
        .distinct()
        .count()
    )
    return Story(
        agreements=agreements,
        contacts_active=contacts["n"],
        coordinators=contacts["coordinators"],
        nendos=[
            NendoLine(nendo=n, counts=per_nendo[n], titles=titles.get(n, []))
            for n in sorted(per_nendo, reverse=True)
        ],
        bulletins=bulletins,
        bulletins_reached=reached,
        history=member_history(member, show_people=show_people, limit=10),
    )
