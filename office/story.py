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
    agreements = list(Agreement.objects.filter(local_government_id=member.local_government_id))
    contacts = member.contacts.active().aggregate(
        n=Count("pk"), coordinators=Count("pk", filter=Q(role="coordinator"))
    )
    registrations = Registration.objects.filter(member=member)
    per_nendo = {
        row["training__nendo"]: _counts_of(row)
        for row in registrations.values("training__nendo").annotate(**_aggregates()).order_by()
    }
    titles: dict[int, list[str]] = {}
    attended = registrations.filter(
        status=Registration.Status.CONFIRMED, attendance=Registration.Attendance.ATTENDED
    ).values_list("training__nendo", "training__title")
    for nendo, title in attended.distinct().order_by("training__starts_at"):
        titles.setdefault(nendo, []).append(title)
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
