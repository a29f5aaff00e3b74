#!/usr/bin/env python
"""Benchmark: a bulletin to N recipients through the real pipeline.

    .venv/bin/python bench/send.py --recipients 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/renkei CELERY_BROKER_URL=redis://127.0.0.1:6379/4 \
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/send.py --recipients 100000

In one run, against PostgreSQL + Redis with two Celery workers (one process each):
  1. the pipeline to a local SMTP sink (aiosmtpd, its own process): messages/s from "send"
     (start_bulletin) to the last message accepted, and the peak RSS of a worker (main process
     plus its child);
  2. the bare limit: the same building (mailing.builder.Composer) and SMTP sending in two plain
     processes, no database, no Celery; the pipeline's ratio to it;
  3. the batch provider path: anymail's Brevo backend against a loopback fake of Brevo's
     /v3/smtp/email API that refuses more than 1,000 messageVersions per call;
  4. the audience snapshot of N contacts on SQLite and on PostgreSQL (and the second snapshot,
     which must create 0 rows).
The sink counts what it accepted: `missing` and `duplicates`. The last line is one JSON object.

The bench uses its own database (<DATABASE_URL's name>_bench_send, dropped and re-created) and
its own directory var/bench-send/ (SQLite file, filesystem broker for the SQLite part). The
audience is bulk-inserted (100,000 contacts through the registry services would take minutes);
everything after that goes through mailing.services and real workers.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

BODY = """いつもお世話になっております。{{ 団体名 }} {{ 所属 }} {{ 氏名 }} 様

令和8年度 全体研修会のご案内です。

- 日時: 令和8年7月10日（金）13:30〜16:30
- 会場: オンライン（お申込みの方にURLをお送りします）
- 申込: https://renkei.example.jp/trainings/42/

資料は https://renkei.example.jp/files/2026-zentai.pdf に掲載しています。
"""
BREVO_MAX_VERSIONS = 1000
# The environment as given, before a run points DATABASE_URL and friends at the bench's own.
GIVEN_ENV = dict(os.environ)


# --- small helpers ---------------------------------------------------------------------------


def var_dir() -> Path:
    base = Path(GIVEN_ENV.get("RENKEI_VAR_DIR", BASE_DIR / "var"))
    path = base / "bench-send"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


# --- the SMTP sink, in its own process ----------------------------------------------------------


def _sink_main(port: int, conn: Any) -> None:
    from tests.mailing.sink import Sink

    with Sink(port) as sink:
        conn.send("ready")
        while True:
            command = conn.recv()
            handler = sink.handler
            if command == "stats":
                with handler.lock:
                    conn.send(
                        {
                            "total": sum(handler.accepted.values()),
                            "distinct": len(handler.accepted),
                            "last": handler.last_accepted_at,
                        }
                    )
            elif command == "addresses":
                with handler.lock:
                    conn.send(dict(handler.accepted))
            elif command == "reset":
                with handler.lock:
                    handler.accepted.clear()
                    handler.attempts.clear()
                    handler.message_ids.clear()
                conn.send("ok")
            else:
                conn.send("bye")
                return


class SinkProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.get_context("spawn").Process(
            target=_sink_main, args=(self.port, child), daemon=True
        )
        self.proc.start()
        assert self.conn.recv() == "ready"

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.proc.join(5)


# --- the fake Brevo API, in its own process -----------------------------------------------------


def _brevo_main(port: int, counters: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            data = json.loads(self.rfile.read(length))
            if self.path.rstrip("/") != "/v3/smtp/email" or not self.headers.get("api-key"):
                return self._answer(401, {"code": "unauthorized", "message": "Key not found"})
            versions = data.get("messageVersions") or [{"to": data.get("to", [])}]
            if len(versions) > BREVO_MAX_VERSIONS:
                with counters.get_lock():
                    counters[2] += 1
                return self._answer(
                    400,
                    {
                        "code": "invalid_parameter",
                        "message": f"messageVersions: max {BREVO_MAX_VERSIONS} allowed",
                    },
                )
            with counters.get_lock():
                counters[0] += 1
                counters[1] += len(versions)
            ids = [f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>" for _ in versions]
            if "messageVersions" in data:
                return self._answer(201, {"messageIds": ids})
            return self._answer(201, {"messageId": ids[0]})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# --- worker processes ---------------------------------------------------------------------------


class Worker:
    def __init__(self, env: dict[str, str], name: str) -> None:
        self.log = open(var_dir() / f"{name}.log", "w")  # noqa: SIM115 (kept open while running)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "bulletins",
                "-c",
                "1",
                "-n",
                f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def rss_mb(self) -> float:
        import psutil

        try:
            main = psutil.Process(self.proc.pid)
            return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)]) / 2**20
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


class RssSampler(threading.Thread):
    def __init__(self, workers: list[Worker]) -> None:
        super().__init__(daemon=True)
        self.workers = workers
        self.peak = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            for worker in self.workers:
                self.peak = max(self.peak, worker.rss_mb())
            time.sleep(0.5)


# --- Django side ------------------------------------------------------------------------------


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def build_database(recipients: int) -> None:
    """Migrate, load the registry, and bulk-insert RECIPIENTS contacts over the members."""
    import datetime as dt
    import io

    from django.core.management import call_command

    from association.models import Contact, LocalGovernment, Member
    from mailing.models import MailingList

    call_command("migrate", "--noinput", verbosity=0)
    call_command("load_local_governments", stdout=io.StringIO())
    governments = list(LocalGovernment.objects.municipalities().current().order_by("code"))
    per_member = math.ceil(recipients / len(governments))
    needed = math.ceil(recipients / per_member)
    Member.objects.bulk_create(
        [
            Member(local_government=lg, kind="member", joined_on=dt.date(2020, 4, 1))
            for lg in governments[:needed]
        ],
        batch_size=2000,
    )
    contacts: list[Contact] = []
    for member in Member.objects.order_by("local_government_id"):
        for i in range(per_member):
            if len(contacts) == recipients:
                break
            contacts.append(
                Contact(
                    member=member,
                    name=f"担当 {i + 1:02d}",
                    kana=f"たんとう {i + 1:02d}",
                    department="保健福祉部 健康推進課",
                    email=f"staff{i + 1}@lg{member.local_government_id}.example.jp",
                    role="coordinator" if i == 0 else "staff",
                )
            )
    Contact.objects.bulk_create(contacts, batch_size=5000)
    MailingList.objects.create(
        name="全会員", slug="all-members", all_members=True, description="ベンチマーク用"
    )


def new_bulletin(subject: str) -> Any:
    from mailing import services
    from mailing.models import MailingList

    return services.save_bulletin(
        None, mailing_list=MailingList.objects.get(slug="all-members"), subject=subject, body=BODY
    )


def time_snapshots() -> tuple[float, int]:
    """Seconds for the first snapshot of a started bulletin, and rows made by the second."""
    from django.db import transaction

    from mailing import services
    from mailing.models import Bulletin

    bulletin = new_bulletin("スナップショット計測")
    # Started without its tasks: this measures the snapshot alone (queued tasks are dropped).
    with transaction.atomic():
        Bulletin.objects.filter(pk=bulletin.pk).update(status=Bulletin.Status.SENDING)
    started = time.perf_counter()
    services.snapshot_audience(bulletin.pk)
    seconds = time.perf_counter() - started
    again = services.snapshot_audience(bulletin.pk)
    services.cancel_bulletin(bulletin)
    return seconds, again


# --- roles --------------------------------------------------------------------------------------


def role_snapshot_sqlite(recipients: int) -> None:
    """Child process: the snapshot on SQLite, in its own var directory and broker."""
    directory = var_dir() / "sqlite"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    env = {
        "RENKEI_VAR_DIR": str(directory),
        "DATABASE_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
        "REDIS_URL": "",
    }
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"):
        os.environ.pop(key, None)
    setup_django({"RENKEI_VAR_DIR": env["RENKEI_VAR_DIR"]})
    build_database(recipients)
    seconds, again = time_snapshots()
    print(json.dumps({"snapshot_s": seconds, "resnapshot_rows": again}))


def role_bare(count: int, port: int, start_at: float) -> None:
    """Child process: render and send COUNT messages over one SMTP connection with the
    pipeline's own per-recipient code (mailing.sending.Transport), but no DB and no Celery."""
    setup_django(
        {
            "DATABASE_URL": "",
            "CELERY_BROKER_URL": "filesystem://",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
        }
    )
    from mailing.models import Bulletin, MailingList
    from mailing.sending import Composer, Recipient, Transport

    mailing_list = MailingList(
        pk=1, name="全会員", slug="all-members", description="ベンチマーク用"
    )
    bulletin = Bulletin(pk=1, mailing_list=mailing_list, subject="全体研修会のご案内", body=BODY)
    pid = os.getpid()
    while time.time() < start_at:
        time.sleep(0.01)
    started = time.time()
    transport = Transport("django.core.mail.backends.smtp.EmailBackend")
    transport.open()
    composer = Composer(bulletin, mailing_list)
    sent = 0
    for i in range(count):
        recipient = Recipient(
            email=f"bare{i}@p{pid}.example.jp",
            name=f"担当 {i}",
            organisation="東京都江戸川区",
            department="保健福祉部 健康推進課",
            delivery_id=i + 1,
            # The pipeline reads each recipient's link token from the database; here it is given.
            token=secrets.token_urlsafe(16),
        )
        sent += transport.send_one(composer, recipient).kind == "sent"
    transport.close()
    print(json.dumps({"seconds": time.time() - started, "count": sent}))


def postgres_urls() -> tuple[str, str]:
    base = GIVEN_ENV.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/renkei"
    parsed = urlparse(base)
    name = (parsed.path.lstrip("/") or "renkei") + "_bench_send"
    return parsed._replace(path=f"/{name}").geturl(), name


def recreate_postgres(url: str, name: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--recipients",
        type=int,
        nargs="+",
        default=[20000],
        help="one or more sizes, e.g. --recipients 20000 100000",
    )
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--bare-count", type=int, default=0, help="messages per bare process")
    args = parser.parse_args()
    if args.role == "snapshot-sqlite":
        return role_snapshot_sqlite(args.recipients[0])
    if args.role == "bare":
        return role_bare(args.recipients[0], args.port, args.start_at)
    runs = {str(n): run(n, args) for n in args.recipients}
    # One JSON object: the largest run's figures at the top level, every run under "runs".
    largest = runs[str(max(args.recipients))]
    summary = {**largest, "runs": runs} if len(runs) > 1 else largest
    if len(runs) > 1:
        summary["worker_peak_rss_mb_by_n"] = {n: r["worker_peak_rss_mb"] for n, r in runs.items()}
    log(json.dumps(summary, ensure_ascii=False))


def run(n: int, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"recipients": n}
    broker = GIVEN_ENV.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/4"
    redis_url = GIVEN_ENV.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
    pg_url, pg_name = postgres_urls()
    bench_var = var_dir() / "postgresql"
    shutil.rmtree(bench_var, ignore_errors=True)
    bench_var.mkdir(parents=True)

    log(f"== SQLite snapshot of {n:,} contacts")
    out = subprocess.run(
        [sys.executable, __file__, "--role", "snapshot-sqlite", "--recipients", str(n)],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    sqlite = json.loads(out.stdout.strip().splitlines()[-1])
    figures["snapshot_s_sqlite"] = round(sqlite["snapshot_s"], 2)
    log(
        f"   {sqlite['snapshot_s']:.2f} s; second snapshot created {sqlite['resnapshot_rows']} rows"
    )

    log(f"== PostgreSQL database {pg_name}: {n:,} contacts")
    from django.apps import apps

    if apps.ready:  # a previous size's run still holds connections to the bench database
        from django.db import connections

        connections.close_all()
    recreate_postgres(pg_url, pg_name)
    env = {
        "RENKEI_VAR_DIR": str(bench_var),
        "DATABASE_URL": pg_url,
        "CELERY_BROKER_URL": broker,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    setup_django(env)
    build_database(n)
    seconds, again = time_snapshots()
    figures["snapshot_s_postgresql"] = round(seconds, 2)
    figures["resnapshot_rows"] = again + sqlite["resnapshot_rows"]
    log(f"   snapshot {seconds:.2f} s; second snapshot created {again} rows")

    from config.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("bulletins")

    sink = SinkProcess()
    try:
        # The machine is shared: measure the bare limit before and after the pipeline and keep
        # the better figure, so that the ratio is not flattered by a quiet moment.
        before = bare_limit(n, sink, args.bare_count)
        sink.ask("reset")
        figures |= pipeline(n, env, sink)
        after = bare_limit(n, sink, args.bare_count)
        figures["bare_limit_runs"] = [before, after]
        figures["bare_limit_msgs_per_s"] = max(before, after)
    finally:
        sink.stop()
    figures["ratio_to_limit"] = round(
        figures["pipeline_msgs_per_s"] / figures["bare_limit_msgs_per_s"], 3
    )
    figures |= batch_path(n, env)
    log("   " + json.dumps(figures, ensure_ascii=False))
    return figures


def worker_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    full = dict(os.environ)
    full.update(env)
    full.update(extra)
    full["PYTHONUNBUFFERED"] = "1"
    return {k: v for k, v in full.items() if v != ""}


def pipeline(n: int, env: dict[str, str], sink: SinkProcess) -> dict[str, Any]:
    from mailing import services

    log("== pipeline: two workers → SMTP sink")
    extra = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "MAILING_SENDERS": "2",
    }
    workers = [Worker(worker_env(env, **extra), f"smtp{i}") for i in range(2)]
    sampler = RssSampler(workers)
    try:
        time.sleep(4)  # let both workers connect
        sampler.start()
        bulletin = new_bulletin("全体研修会のご案内")
        started = time.time()
        services.start_bulletin(bulletin)
        wait_until(lambda: sink.ask("stats")["distinct"] >= n, 60 + n / 20, "every message")
        last = sink.ask("stats")["last"]
        time.sleep(1)  # anything sent twice arrives now
    finally:
        sampler.running = False
        for worker in workers:
            worker.stop()
    accepted = sink.ask("addresses")
    from mailing.models import Delivery

    expected = set(Delivery.objects.filter(bulletin=bulletin).values_list("email", flat=True))
    elapsed = last - started
    figures = {
        "pipeline_msgs_per_s": round(n / elapsed, 1),
        "pipeline_seconds": round(elapsed, 2),
        "worker_peak_rss_mb": round(sampler.peak, 1),
        "missing": len(expected - set(accepted)),
        "duplicates": sum(count - 1 for count in accepted.values() if count > 1),
    }
    log(
        f"   {n:,} messages in {elapsed:.1f} s = {figures['pipeline_msgs_per_s']} msgs/s; "
        f"worker peak RSS {sampler.peak:.0f} MB; missing {figures['missing']}, "
        f"duplicates {figures['duplicates']}"
    )
    return figures


def bare_limit(n: int, sink: SinkProcess, per_process: int) -> float:
    log("== bare limit: the same rendering and SMTP in two plain processes")
    sink.ask("reset")
    count = per_process or min(n // 2, 10000)
    start_at = time.time() + 3
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                "bare",
                "--recipients",
                str(count),
                "--port",
                str(sink.port),
                "--start-at",
                str(start_at),
            ],
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    seconds = max(o["seconds"] for o in outputs)
    sent = sum(o["count"] for o in outputs)
    rate = sent / seconds
    log(f"   {sent:,} messages in {seconds:.1f} s = {rate:.1f} msgs/s")
    return round(rate, 1)


def batch_path(n: int, env: dict[str, str]) -> dict[str, Any]:
    from mailing import services
    from mailing.models import Bulletin

    log("== batch provider path: anymail Brevo backend → loopback fake API")
    port = free_port()
    counters = multiprocessing.Array("l", 3)  # calls, recipients, refused calls
    server = multiprocessing.Process(target=_brevo_main, args=(port, counters), daemon=True)
    server.start()
    extra = {
        "MAILING_EMAIL_BACKEND": "anymail.backends.brevo.EmailBackend",
        "ANYMAIL_BREVO_API_KEY": "xkeysib-bench",
        "ANYMAIL_BREVO_API_URL": f"http://127.0.0.1:{port}/v3/",
        "MAILING_SENDERS": "2",
    }
    workers = [Worker(worker_env(env, **extra), f"batch{i}") for i in range(2)]
    try:
        time.sleep(4)
        bulletin = new_bulletin("全体研修会のご案内（一括送信）")
        started = time.time()
        services.start_bulletin(bulletin)

        def done() -> bool:
            bulletin.refresh_from_db(fields=["status"])
            return bulletin.status == Bulletin.Status.SENT

        wait_until(done, 60 + n / 200, "the batch bulletin")
        elapsed = time.time() - started
    finally:
        for worker in workers:
            worker.stop()
        server.terminate()
    progress = services.bulletin_progress(bulletin)
    figures = {
        "batch_recipients_per_s": round(counters[1] / elapsed, 1),
        "batch_api_calls": counters[0],
        "batch_refused_calls": counters[2],
        "batch_sent": progress.sent,
    }
    log(
        f"   {counters[1]:,} recipients in {counters[0]} calls, {elapsed:.1f} s = "
        f"{figures['batch_recipients_per_s']} recipients/s; {counters[2]} calls over the limit"
    )
    return figures


if __name__ == "__main__":
    main()
