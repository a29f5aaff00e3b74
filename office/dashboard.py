"""The secretariat's home page: what needs doing today, each line linking to where it is done.

It reads the other apps through their query helpers and owns no rule. Every section is one or
two queries, bounded whatever the data size (tests/office/test_dashboard.py counts them): lists
are cut at LIMIT rows and say when there are more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from association.models import Agreement, Contact
from association.nendo import nendo_of
from association.privacy import can_see_personal_data
from events.models import Registration, Training
from mailing import services as mailing
from mailing.models import Bulletin, Delivery, Suppression, tallied_deliveries
from postbox import services as postbox

# The report page's permissions (office.views); the link shows only to those who may open it.
REPORT_PERMISSIONS = ("events.view_registration", "mailing.view_bulletin")
LIMIT = 8
WEEK = dt.timedelta(days=7)
RECENT = dt.timedelta(days=14)


@dataclass
class Section:
    """A list of at most LIMIT rows, and whether more were cut (with the link to them all)."""

    rows: list[Any]
    more: bool = False
    url: str = ""

    @classmethod
    def of(cls, rows: Any, url: str = "") -> Section:
        items = list(rows[: LIMIT + 1])
        return cls(rows=items[:LIMIT], more=len(items) > LIMIT, url=url)


@dataclass
class Dashboard:
    today: dt.date
    trainings: Section
    deadlines: list[Training]
    attendance: Section
    bulletins: Section
    bulletin_failures: Section
    failed_mail: Section
    failed_mail_count: int
    suppressions: Section
    unreachable: Section
    unconfirmed_count: int
    unconfirmed_url: str
    agreements: Section
    sees_people: bool
    sees_reports: bool
    nendo: int
    notes: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not any(
            (
                self.deadlines,
                self.attendance.rows,
                self.bulletins.rows,
                self.bulletin_failures.rows,
                self.failed_mail_count,
                self.suppressions.rows,
                self.unreachable.rows,
                self.agreements.rows,
            )
        )


def _changelist(name: str, **query: Any) -> str:
    url = reverse(f"admin:{name}_changelist")
    if query:
        from urllib.parse import urlencode

        url += "?" + urlencode(query)
    return url


def upcoming_trainings(now: dt.datetime) -> Section:
    """Trainings not over yet, soonest first, with seats taken and the waiting list."""
    trainings = (
        Training.objects.filter(
            ends_at__gte=now,
            status__in=[Training.Status.PUBLISHED, Training.Status.CLOSED, Training.Status.DRAFT],
        )
        .with_counts()
        .select_related("block")
        .order_by("starts_at", "id")
    )
    return Section.of(trainings, _changelist("events_training"))


def registration_deadlines(trainings: list[Training], now: dt.datetime) -> list[Training]:
    """Of the upcoming trainings, those taking registrations whose deadline falls within a
    week (the deadline rule is the training's own)."""
    return [
        t
        for t in trainings
        if t.status == Training.Status.PUBLISHED and now <= t.registration_closes_at <= now + WEEK
    ]


def attendance_to_record(now: dt.datetime) -> Section:
    """Trainings that have ended with confirmed registrations whose attendance is unknown."""
    unknown = Registration.objects.filter(
        training=OuterRef("pk"),
        status=Registration.Status.CONFIRMED,
        attendance=Registration.Attendance.UNKNOWN,
    ).order_by()
    count = unknown.values("training").annotate(n=Count("pk")).values("n")
    # Which trainings on the index (training, status, …); how many only for the rows shown.
    trainings = (
        Training.objects.filter(ends_at__lt=now, ends_at__gte=now - dt.timedelta(days=90))
        .exclude(status=Training.Status.CANCELLED)
        .filter(Exists(unknown))
        .annotate(unknown_count=Subquery(count, output_field=IntegerField()))
        .order_by("-ends_at", "-id")
    )
    return Section.of(trainings)


ACTIVE_BULLETINS = (Bulletin.Status.SENDING, Bulletin.Status.PAUSED, Bulletin.Status.SCHEDULED)


def active_bulletins() -> Section:
    """Bulletins sending (their progress is polled live), paused, or scheduled."""
    order: dict[str, int] = {s.value: i for i, s in enumerate(ACTIVE_BULLETINS)}
    bulletins = sorted(
        Bulletin.objects.filter(status__in=ACTIVE_BULLETINS)
        .select_related("mailing_list")
        .order_by("scheduled_at", "id")[: LIMIT + 1],
        key=lambda b: order[b.status],
    )
    return Section.of(bulletins, _changelist("mailing_bulletin"))


FAILED_DELIVERIES = (Delivery.Status.FAILED, Delivery.Status.BOUNCED, Delivery.Status.COMPLAINED)


def bulletin_failures(now: dt.datetime) -> Section:
    """Bulletins started in the last two weeks some of whose messages failed or bounced."""
    bulletins = (
        Bulletin.objects.filter(started_at__gte=now - RECENT)
        .annotate(failed_count=tallied_deliveries(FAILED_DELIVERIES))
        .filter(failed_count__gt=0)
        .select_related("mailing_list")
        .order_by("-started_at", "-id")
    )
    return Section.of(bulletins)


def recent_suppressions(now: dt.datetime) -> Section:
    """Addresses suppressed by a hard bounce or a complaint in the last two weeks."""
    rows = Suppression.objects.filter(
        created_at__gte=now - RECENT,
        reason__in=[Suppression.Reason.HARD_BOUNCE, Suppression.Reason.COMPLAINT],
    ).order_by("-created_at", "-id")
    return Section.of(rows, _changelist("mailing_suppression"))


def unreachable_members() -> Section:
    """Active members with no active contact whose address is not suppressed (mailing's
    rule)."""
    members = mailing.members_without_reachable_contact().order_by("local_government_id")
    return Section.of(members, _changelist("association_member"))


def unconfirmed_contacts(today: dt.date) -> int:
    """Active contacts whose record nobody has touched since this 年度's 1 April, when staff
    move (人事異動): the ones to check with their municipality."""
    return Contact.objects.portal().not_checked_since_april(today).count()


def build(request: Any, *, now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    today = timezone.localdate(now)
    trainings = upcoming_trainings(now)
    failed_mail = postbox.failed_recently(now=now)
    nendo = nendo_of(today)
    return Dashboard(
        today=today,
        nendo=nendo,
        trainings=trainings,
        deadlines=registration_deadlines(trainings.rows, now),
        attendance=attendance_to_record(now),
        bulletins=active_bulletins(),
        bulletin_failures=bulletin_failures(now),
        failed_mail=Section.of(failed_mail, _changelist("postbox_failedmail")),
        failed_mail_count=failed_mail.count(),
        suppressions=recent_suppressions(now),
        unreachable=unreachable_members(),
        unconfirmed_count=unconfirmed_contacts(today),
        unconfirmed_url=_changelist("association_contact", is_active__exact="1", checked="no"),
        agreements=Section.of(
            Agreement.objects.expiring(today).select_related("local_government__prefecture"),
            _changelist("association_agreement"),
        ),
        sees_people=can_see_personal_data(request.user),
        sees_reports=request.user.has_perms(REPORT_PERMISSIONS),
    )
