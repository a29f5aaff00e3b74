#!/usr/bin/env python
"""Benchmark: a 照会 to every municipality, each figure beside its baseline in the same run.

    .venv/bin/python bench/inquiry_send.py                                  # SQLite (var/bench-inquiries/)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/renkei .venv/bin/python bench/inquiry_send.py

Every current municipality of the registry (about 1,740) becomes a member with a coordinator
and a staff member.

  1. send: send_inquiry() (the audience fixed, one reply and answer set per member),
     announce_inquiry() (one bulletin naming each coordinator) and the bulletin's snapshot
     (one Delivery per address) — what the secretariat's 送信 and the worker pay before the
     pipeline sends; the baseline snapshots an ordinary list bulletin to the same people
     (all members, coordinators only), the pipeline's own floor.
  2. count: summary() and export_xlsx() over every member's submitted answer; the baseline
     reads the same answers with one bare query (values_list), the floor of any aggregate.
The bench uses its own database (<name>_bench_inquiries on PostgreSQL, dropped and re-created;
a file under var/bench-inquiries/ on SQLite). The last line is one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.own_database import use_own_database  # noqa: E402


def setup(var: Path) -> str:
    # The worker is not what is measured: tasks queued on commit go nowhere.
    os.environ["CELERY_BROKER_URL"] = f"filesystem://{var}/broker"
    return use_own_database(var, "bench_inquiries", registry=True)


def make_members() -> int:
    from association import services
    from association.models import LocalGovernment

    count = 0
    for lg in LocalGovernment.objects.current().municipalities().order_by("code"):
        member = services.admit_member(lg, joined_on=dt.date(2011, 7, 1))
        services.add_contact(
            member, name="佐藤 美咲", email=f"c@{lg.code}.example.jp", role="coordinator"
        )
        services.add_contact(member, name="鈴木 健太", email=f"s@{lg.code}.example.jp")
        count += 1
    return count


def make_inquiry():  # type: ignore[no-untyped-def]
    from events.workdays import is_working_day
    from inquiries import services
    from inquiries.models import Inquiry
    from tests.inquiries.conftest import add_questions

    day = dt.date.today() + dt.timedelta(days=14)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    inquiry = services.save_inquiry(
        Inquiry(
            title="令和8年度 自殺対策計画の策定状況について",
            body="ご多用のところ恐れ入りますが、**期限まで**にご回答ください。",
            all_members=True,
            deadline=day,
        )
    )
    add_questions(inquiry.question_set)
    return inquiry


def bench_send(inquiry) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from inquiries import services
    from mailing import services as mailing
    from mailing.models import Bulletin, MailingList

    started = time.perf_counter()
    services.send_inquiry(inquiry)
    opened = time.perf_counter()
    named = services.announce_inquiry(inquiry.pk)
    announced = time.perf_counter()
    (request,) = Bulletin.objects.filter(addressed=True)
    snapshotted = mailing.snapshot_audience(request.pk)
    done = time.perf_counter()
    # The baseline: the same people as an ordinary list's audience (every member's
    # coordinator), snapshotted by the same INSERT … SELECT from the list's rule.
    coordinators = MailingList.objects.create(
        name="取りまとめ担当",
        slug="bench-coordinators",
        all_members=True,
        contact_roles=["coordinator"],
    )
    bulletin = mailing.save_bulletin(
        None, mailing_list=coordinators, subject=request.subject, body=request.body
    )
    mailing.start_bulletin(bulletin)
    base_start = time.perf_counter()
    base_rows = mailing.snapshot_audience(bulletin.pk)
    base_done = time.perf_counter()
    assert named == snapshotted == base_rows, (named, snapshotted, base_rows)
    return {
        "messages": named,
        "open_s": opened - started,
        "announce_s": announced - opened,
        "snapshot_s": done - announced,
        "send_total_s": done - started,
        "baseline_list_snapshot_s": base_done - base_start,
    }


def bench_count(inquiry) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from django.db import transaction

    from inquiries import services
    from inquiries.models import Reply
    from questions.models import Answer
    from tests.inquiries.conftest import answers

    values = answers(inquiry)
    with transaction.atomic():
        for reply in Reply.objects.filter(inquiry=inquiry).select_related("answer_set"):
            services.questions.save_answers(reply.answer_set, values)
        Reply.objects.filter(inquiry=inquiry).update(status=Reply.Status.SUBMITTED)
    started = time.perf_counter()
    summary = services.summary(inquiry)
    summarised = time.perf_counter()
    data = services.export_xlsx(inquiry)
    exported = time.perf_counter()
    rows = list(
        Answer.objects.filter(answer_set__reply__inquiry=inquiry).values_list(
            "answer_set_id", "question_id", "value"
        )
    )
    floor = time.perf_counter()
    assert summary[0].answered == Reply.objects.filter(inquiry=inquiry).count()
    return {
        "answers": len(rows),
        "summary_s": summarised - started,
        "export_s": exported - summarised,
        "export_bytes": len(data),
        "baseline_read_s": floor - exported,
    }


def main() -> None:
    var = BASE_DIR / "var" / "bench-inquiries"
    vendor = setup(var)
    members = make_members()
    inquiry = make_inquiry()
    send = bench_send(inquiry)
    count = bench_count(inquiry)
    print(f"{vendor}: {members} members, {send['messages']} coordinators named")
    print(
        f"  send   open {send['open_s']:.2f} s + announce {send['announce_s']:.2f} s"
        f" + snapshot {send['snapshot_s']:.2f} s; baseline list snapshot of the same people:"
        f" {send['baseline_list_snapshot_s']:.2f} s"
        f" (snapshot {send['snapshot_s'] / send['baseline_list_snapshot_s']:.2f}x)"
    )
    print(
        f"  count  summary {count['summary_s']:.2f} s, export {count['export_s']:.2f} s"
        f" ({count['export_bytes'] // 1024} KB) over {count['answers']} answers;"
        f" baseline bare read {count['baseline_read_s']:.2f} s"
    )
    print(json.dumps({"vendor": vendor, "members": members, **send, **count}))


if __name__ == "__main__":
    main()
