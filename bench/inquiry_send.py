#!/usr/bin/env python
"""Benchmark: a 照会 to every municipality, each figure beside its baseline in the same run.

    .venv/bin/python bench/inquiry_send.py                                  # SQLite (var/bench-inquiries/)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/renkei .venv/bin/python bench/inquiry_send.py

Every current municipality of the registry (about 1,740) becomes a member with a coordinator
and a staff member.

  1. send: send_inquiry() (the audience fixed, one reply and answer set per member) and
     announce_inquiry() (the request mail rendered and queued for each coordinator) — what the
     secretariat's 送信 and the worker pay; the baseline queues the same number of messages of
     the same size with postbox.queue_mail in one transaction (the postbox's own floor).
  2. count: summary() and export_xlsx() over every member's submitted answer; the baseline
     reads the same answers with one bare query (values_list), the floor of any aggregate.
The bench uses its own database (<name>_bench_inquiries on PostgreSQL, dropped and re-created;
a file under var/bench-inquiries/ on SQLite). The last line is one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def setup(var: Path) -> str:
    os.environ["RENKEI_VAR_DIR"] = str(var)
    url = os.environ.get("DATABASE_URL", "")
    if url:
        import psycopg

        parsed = urlparse(url)
        name = f"{parsed.path.lstrip('/') or 'renkei'}_bench_inquiries"
        admin = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = parsed._replace(path=f"/{name}").geturl()
    else:
        os.environ["SQLITE_PATH"] = str(var / "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The worker is not what is measured: tasks queued on commit go nowhere.
    os.environ["CELERY_BROKER_URL"] = f"filesystem://{var}/broker"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_local_governments", verbosity=0)
    from django.db import connection

    return connection.vendor


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
    from django.db import transaction

    from inquiries import services
    from postbox.models import OutgoingMail
    from postbox.services import queue_mail

    started = time.perf_counter()
    services.send_inquiry(inquiry)
    opened = time.perf_counter()
    queued = services.announce_inquiry(inquiry.pk)
    done = time.perf_counter()
    sample = OutgoingMail.objects.filter(kind=OutgoingMail.Kind.INQUIRY).first()
    assert sample is not None
    base_start = time.perf_counter()
    with transaction.atomic():
        for n in range(queued):
            queue_mail(
                to=f"b{n}@bench.example.jp",
                subject=sample.subject,
                text=sample.text,
                html=sample.html,
                kind=OutgoingMail.Kind.OTHER,
            )
    base_done = time.perf_counter()
    return {
        "messages": queued,
        "open_s": opened - started,
        "announce_s": done - opened,
        "send_total_s": done - started,
        "baseline_queue_s": base_done - base_start,
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
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    vendor = setup(var)
    members = make_members()
    inquiry = make_inquiry()
    send = bench_send(inquiry)
    count = bench_count(inquiry)
    print(f"{vendor}: {members} members, {send['messages']} request mails")
    print(
        f"  send   open {send['open_s']:.2f} s + announce {send['announce_s']:.2f} s"
        f" = {send['send_total_s']:.2f} s; baseline queue_mail x{send['messages']}:"
        f" {send['baseline_queue_s']:.2f} s ({send['send_total_s'] / send['baseline_queue_s']:.2f}x)"
    )
    print(
        f"  count  summary {count['summary_s']:.2f} s, export {count['export_s']:.2f} s"
        f" ({count['export_bytes'] // 1024} KB) over {count['answers']} answers;"
        f" baseline bare read {count['baseline_read_s']:.2f} s"
    )
    print(json.dumps({"vendor": vendor, "members": members, **send, **count}))


if __name__ == "__main__":
    main()
