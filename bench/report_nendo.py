#!/usr/bin/env python
"""Benchmark: the 年度 report of every municipality as a member, each figure beside baselines.

    .venv/bin/python bench/report_nendo.py                    # SQLite (var/bench-report/)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/renkei .venv/bin/python bench/report_nendo.py

Data, made through the services: the 1,741 municipalities as members with one contact each,
TRAININGS trainings in 2026年度 with REGISTRATIONS registrations each (attendance marked),
and one bulletin to everyone sent through the outbox.
  1. report: office.reports.build_report(2026) — every table of the page;
  2. xlsx: the same report written as the .xlsx the page and manage.py report_nendo give;
  baselines in the same run: "floor", reading the registrations and members the report
  counts as plain rows (no counting at all), and "naive", the per-member table counted with
  one query per member (what a report written row by row would cost).
The bench uses its own database (<name>_bench_report on PostgreSQL, dropped and re-created; a
file under var/bench-report/ on SQLite). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.own_database import use_own_database  # noqa: E402


def setup(var: Path) -> str:
    os.environ["EMAIL_BACKEND"] = "mailing.outbox.OutboxBackend"
    return use_own_database(var, "bench_report", registry=True)


def make_data(trainings: int, registrations: int) -> dict[str, int]:
    from django.utils import timezone

    from association import services as association
    from association.models import Contact, LocalGovernment
    from events import services as events
    from events.models import Registration, Training
    from mailing import services as mailing
    from mailing.models import MailingList

    contacts: list[Contact] = []
    for government in LocalGovernment.objects.municipalities().current().order_by("code"):
        member = association.admit_member(government, joined_on=dt.date(2011, 7, 1))
        contacts.append(
            association.add_contact(
                member,
                name=f"職員 {government.code}",
                email=f"staff@lg{government.code}.example.jp",
            )
        )
    zone = timezone.get_current_timezone()
    for t in range(trainings):
        start = dt.datetime(2026, 5, 1, 13, 30, tzinfo=zone) + dt.timedelta(days=20 * t)
        training = events.save_training(
            Training(
                kind=Training.Kind.NATIONAL,
                title=f"研修会 {t + 1}",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=3),
                capacity=registrations,
                per_member_limit=3,
                status=Training.Status.PUBLISHED,
                venue_name="会場",
            )
        )
        offset = (t * 97) % len(contacts)
        chosen = (contacts[offset:] + contacts[:offset])[:registrations]
        made = [
            events.register_for_training(training, contact=c, now=start - dt.timedelta(days=30))
            for c in chosen
        ]
        events.mark_attendance(made[::2], attendance=Registration.Attendance.ATTENDED)
        events.mark_attendance(made[1::4], attendance=Registration.Attendance.ABSENT)
    the_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    bulletin = mailing.save_bulletin(None, mailing_list=the_list, subject="お知らせ", body="本文")
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)
    while mailing.drain_bulletin(bulletin.pk):
        pass
    return {
        "members": len(contacts),
        "trainings": trainings,
        "registrations": Registration.objects.count(),
    }


def timed(action: Any, repeat: int) -> float:
    """Median seconds of REPEAT runs of ACTION."""
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def floor() -> None:
    from association.models import Member
    from events.models import Registration

    list(Registration.objects.filter(training__nendo=2026).values_list("member_id", "status"))
    list(Member.objects.with_registry())


def naive() -> None:
    from association.models import Member
    from events.models import Registration

    for member in Member.objects.with_registry():
        mine = Registration.objects.filter(member=member, training__nendo=2026)
        mine.filter(status="confirmed").count()
        mine.filter(status="confirmed", attendance="attended").count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--trainings", type=int, default=10)
    parser.add_argument("--registrations", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    var = BASE_DIR / "var" / "bench-report"
    vendor = setup(var)
    began = time.perf_counter()
    data = make_data(args.trainings, args.registrations)
    print(f"data: {data} on {vendor} in {time.perf_counter() - began:.1f} s", flush=True)

    from office.reports import build_report
    from office.workbook import report_workbook

    report = build_report(2026)
    assert len(report.members) == data["members"], (len(report.members), data)
    figures = {
        "report_s": timed(lambda: build_report(2026), args.repeat),
        "report_and_xlsx_s": timed(lambda: report_workbook(build_report(2026)), args.repeat),
        "floor_s": timed(floor, args.repeat),
        "naive_s": timed(naive, max(1, args.repeat // 2)),
    }
    for name, value in figures.items():
        print(f"{name:>18}: {value * 1000:9.1f} ms")
    print(
        f"report = {figures['report_s'] / figures['floor_s']:.1f} × floor, "
        f"naive = {figures['naive_s'] / figures['report_s']:.1f} × report; "
        f"limit 5 s: {'ok' if figures['report_and_xlsx_s'] < 5 else 'OVER'}"
    )
    print(json.dumps({"vendor": vendor, **data, **{k: round(v, 4) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
