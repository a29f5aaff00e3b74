#!/usr/bin/env python
"""Benchmark: mail to one person through the postbox, each figure beside its baseline.

    .venv/bin/python bench/postbox_mail.py                       # SQLite (var/bench-postbox/)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/renkei CELERY_BROKER_URL=redis://127.0.0.1:6379/4 \
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/postbox_mail.py

  1. queue: N acts, each one transaction that queues one message with queue_mail (validation,
     the row, the sender woken on commit) — what a registration or a code request pays; the
     baseline is the same transactions writing the same row with a bare ORM create.
  2. send: the N queued messages sent by postbox.services.send_due_mail (claims, a mark before
     each send, one UPDATE per outcome) to a local SMTP sink in its own process; the baseline
     is the same messages built and sent by Django's SMTP backend over one connection, no
     database (the bare limit of this machine and sink).
The sink counts what it accepted. The bench uses its own database (<name>_bench_postbox on
PostgreSQL, dropped and re-created; a file under var/bench-postbox/ on SQLite). The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.own_database import use_own_database  # noqa: E402

TEXT = "佐藤 美咲 様\n\n令和8年度 全体研修会への参加が確定しました。\n\nhttps://renkei.example.jp/trainings/42/\n"


def sink_process(port_queue: Any, stop: Any) -> None:
    from tests.mailing.sink import Sink

    with Sink() as sink:
        port_queue.put(sink.port)
        while not stop.is_set():
            time.sleep(0.1)
        port_queue.put(sink.handler.total())


def bench_queue(n: int) -> dict[str, float]:
    from django.db import transaction

    from postbox.models import OutgoingMail
    from postbox.services import queue_mail

    def one(i: int) -> None:
        queue_mail(
            to=f"staff{i}@lg{100000 + i}.example.jp",
            subject="【市区町村会】研修会 参加確定のお知らせ",
            text=TEXT,
            kind=OutgoingMail.Kind.TRAINING_NOTICE,
            attachments=[("training.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")],
            contact_id=i + 1,
            reference=f"events.notice:{i}",
        )

    def bare(i: int) -> None:
        OutgoingMail.objects.create(
            to=f"base{i}@lg{100000 + i}.example.jp",
            subject="【市区町村会】研修会 参加確定のお知らせ",
            text=TEXT,
            kind=OutgoingMail.Kind.TRAINING_NOTICE,
            contact_id=i + 1,
            status=OutgoingMail.Status.CANCELLED,  # not for the send part
        )

    figures = {}
    for label, act in (("baseline", bare), ("queue_mail", one)):
        began = time.perf_counter()
        for i in range(n):
            with transaction.atomic():
                act(i)
        figures[label] = (time.perf_counter() - began) / n * 1e6
    return {"queue_us": figures["queue_mail"], "baseline_us": figures["baseline"]}


def bench_send(n: int, port: int) -> dict[str, float]:
    from django.conf import settings
    from django.core.mail import get_connection

    from postbox import services
    from postbox.models import OutgoingMail
    from postbox.transport import build_message

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.POSTBOX_DRAIN_SECONDS = 3600
    mails = list(OutgoingMail.objects.filter(status=OutgoingMail.Status.QUEUED).order_by("id"))
    began = time.perf_counter()
    connection = get_connection()
    connection.open()
    for mail in mails:
        connection.send_messages([build_message(mail, connection=connection)])
    connection.close()
    baseline = time.perf_counter() - began
    began = time.perf_counter()
    services.send_due_mail()
    postbox = time.perf_counter() - began
    sent = OutgoingMail.objects.filter(status=OutgoingMail.Status.SENT).count()
    return {
        "send_per_s": sent / postbox,
        "baseline_per_s": len(mails) / baseline,
        "sent": sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    var = Path(os.environ.get("RENKEI_VAR_DIR", BASE_DIR / "var")) / "bench-postbox"
    vendor = use_own_database(var, "bench_postbox")
    ctx = multiprocessing.get_context("spawn")
    ports, stop = ctx.Queue(), ctx.Event()
    sink = ctx.Process(target=sink_process, args=(ports, stop))
    sink.start()
    port = ports.get(timeout=30)
    try:
        queued = bench_queue(args.messages)
        print(
            f"queue ({vendor}, {args.messages} acts): queue_mail {queued['queue_us']:.0f} µs per "
            f"act, baseline (bare ORM row) {queued['baseline_us']:.0f} µs",
            flush=True,
        )
        sent = bench_send(args.messages, port)
        print(
            f"send ({vendor}, {args.messages} messages): postbox {sent['send_per_s']:.0f}/s, "
            f"baseline (Django SMTP, no database) {sent['baseline_per_s']:.0f}/s, "
            f"ratio {sent['send_per_s'] / sent['baseline_per_s']:.2f}",
            flush=True,
        )
    finally:
        stop.set()
        accepted = ports.get(timeout=30)
        sink.join(10)
    summary = {
        "vendor": vendor,
        "messages": args.messages,
        **{k: round(v, 1) for k, v in queued.items()},
        **{k: round(v, 1) for k, v in sent.items()},
        "sink_accepted": accepted,
        "missing_or_duplicate": accepted - 2 * args.messages,
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
