#!/usr/bin/env python
"""Benchmark: many registrations arriving at once for one training.

For each database (PostgreSQL and SQLite, in one run) this builds a fresh database with
members and staff, then
  1. the service path: ATTEMPTS calls of events.services.register_for_training() from
     PROCESSES separate processes, all released at the same moment;
  2. the HTTP path: the same number of POSTs to the portal's registration page, each from its
     own logged-in staff member, by CLIENTS concurrent clients against gunicorn on 127.0.0.1.
It checks the rules (confirmed == seats, no member over its limit, no errors, the waiting list
in arrival order) and prints the figures; the last line is one JSON object with every figure.

    .venv/bin/python bench/register.py                       # both databases
    .venv/bin/python bench/register.py --databases sqlite    # one
    BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/renkei_bench_register ...

The bench works in its own directory under var/ (database file, broker, secret key), so it
touches neither the development database nor a shared broker: mail tasks queued by the
registrations go to a filesystem broker there and are thrown away.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import queue
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
PER_MEMBER_STAFF = 5


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


# --- orchestration (no Django here) --------------------------------------------------------


def bench_env(database: str, args: argparse.Namespace) -> dict[str, str]:
    var_dir = Path(os.environ.get("RENKEI_VAR_DIR", BASE_DIR / "var")) / "bench-register"
    var_dir = var_dir / database
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    env = dict(os.environ)
    for key in ("DATABASE_URL", "SQLITE_PATH", "CELERY_BROKER_URL", "REDIS_URL", "DEBUG"):
        env.pop(key, None)
    env.update(
        {
            "RENKEI_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "ERROR",
        }
    )
    if database == "postgresql":
        env["DATABASE_URL"] = args.postgres_url
    return env


def orchestrate(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {}
    for database in args.databases.split(","):
        print(f"== {database}", flush=True)
        cmd = [sys.executable, __file__, "--child", database, *sys.argv[1:]]
        proc = subprocess.run(
            cmd, env=bench_env(database, args), cwd=BASE_DIR, stdout=subprocess.PIPE, text=True
        )
        lines = proc.stdout.strip().splitlines()
        for line in lines[:-1]:
            print(line, flush=True)
        try:
            results[database] = json.loads(lines[-1]) if lines else {"failed": True}
        except json.JSONDecodeError:
            print(lines[-1])
            results[database] = {"failed": True, "exit_code": proc.returncode}
    ok = all(
        r.get("confirmed") == args.seats
        and r.get("http_confirmed") == args.seats
        and r.get("limit_violations") == 0
        and r.get("errors") == 0
        and r.get("waitlist_in_arrival_order")
        for r in results.values()
    )
    print("rules held" if ok else "RULES BROKEN", flush=True)
    print(json.dumps(results, ensure_ascii=False, sort_keys=True))
    return 0 if ok else 1


# --- inside one database (Django set up) ----------------------------------------------------


def django_setup() -> None:
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def prepare_database(args: argparse.Namespace) -> tuple[list[int], str]:
    """A fresh database with members and staff; the ids of ATTEMPTS staff contacts."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        import psycopg

        name = settings.DATABASES["default"]["NAME"]
        if "bench" not in name:
            raise SystemExit(
                f"refusing to drop {name!r}: the bench's database needs 'bench' in its name"
            )
        params = settings.DATABASES["default"]
        connection.close()
        admin = psycopg.connect(
            host=params.get("HOST") or "127.0.0.1",
            port=params.get("PORT") or 5432,
            user=params.get("USER") or "postgres",
            password=params.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.close()
    call_command("migrate", verbosity=0)
    call_command("load_local_governments", verbosity=0, stdout=io.StringIO())

    from association import services as association
    from association.models import LocalGovernment

    members_needed = -(-args.attempts // PER_MEMBER_STAFF)
    governments = LocalGovernment.objects.municipalities().order_by("code")[:members_needed]
    contacts: list[int] = []
    for lg in governments:
        member = association.admit_member(lg)
        for k in range(PER_MEMBER_STAFF):
            contact = association.add_contact(
                member, name=f"職員 {lg.code}-{k}", email=f"staff{k}@lg{lg.code}.example.jp"
            )
            contacts.append(contact.pk)
    return contacts[: args.attempts], connection.vendor


def new_training(args: argparse.Namespace, title: str) -> int:
    import datetime as dt

    from django.utils import timezone

    from events import services
    from events.models import Training

    start = timezone.now() + dt.timedelta(days=40)
    training = services.save_training(
        Training(
            kind=Training.Kind.NATIONAL,
            nendo=0,
            title=title,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=3),
            capacity=args.seats,
            per_member_limit=args.limit,
            status=Training.Status.PUBLISHED,
            online_url="https://meet.example.jp/bench",
        )
    )
    return training.pk


def check_rules(training_id: int, args: argparse.Namespace) -> dict[str, Any]:
    from django.db.models import Count

    from events.models import Registration

    regs = Registration.objects.filter(training_id=training_id)
    confirmed = regs.filter(status="confirmed").count()
    per_member = regs.filter(status="confirmed").values("member").annotate(n=Count("id"))
    violations = sum(max(0, row["n"] - args.limit) for row in per_member)
    violations += max(0, confirmed - args.seats)
    duplicates = regs.count() - regs.values("contact").distinct().count()
    return {
        "confirmed": confirmed,
        "waitlisted": regs.filter(status="waitlisted").count(),
        "limit_violations": violations + duplicates,
        "waitlist_ids": list(
            regs.filter(status="waitlisted")
            .order_by("queue_position", "id")
            .values_list("contact_id", flat=True)
        ),
    }


def arrival_order_kept(waitlist: list[int], sent_by: dict[int, tuple[int, int]]) -> bool:
    """Each client sends its requests one after another, so on the waiting list a client's
    earlier request must come before its later one."""
    last: dict[int, int] = {}
    for contact_id in waitlist:
        client, seq = sent_by[contact_id]
        if seq < last.get(client, -1):
            return False
        last[client] = seq
    return True


# service path ---------------------------------------------------------------------------------


def _service_worker(
    training_id: int,
    warmup: tuple[int, int],
    contact_ids: list[int],
    ready: Any,
    go: Any,
    out: Any,
    finished: Any,
) -> None:
    django_setup()
    from association.models import Contact
    from events import services
    from events.models import Training

    training = Training.objects.get(pk=training_id)
    contacts = {
        c.pk: c for c in Contact.objects.select_related("member").filter(pk__in=contact_ids)
    }
    # One registration for a training of its own before the clock starts, as the HTTP path
    # warms its workers: lazy imports and first connections are not what is measured.
    warm_training, warm_contact = warmup
    services.register_for_training(
        Training.objects.get(pk=warm_training),
        contact=Contact.objects.select_related("member").get(pk=warm_contact),
    )
    ready.put(os.getpid())
    go.wait()
    records = []
    for contact_id in contact_ids:
        t0 = time.perf_counter()
        started = time.time()
        try:
            registration = services.register_for_training(training, contact=contacts[contact_id])
            outcome = registration.status
        except Exception as exc:
            outcome = f"error: {type(exc).__name__}: {exc}"
        records.append((contact_id, started, time.time(), time.perf_counter() - t0, outcome))
    out.put(records)
    # Stay until every process is done: an interpreter's exit costs CPU that the processes
    # still registering would otherwise share.
    finished.wait()


def serial_baseline(args: argparse.Namespace, contacts: list[int]) -> float:
    """The baseline: the same registrations one after another in this one process, for a
    training of their own (no concurrency, no waiting for the lock)."""
    from association.models import Contact
    from events import services
    from events.models import Training

    training = Training.objects.get(pk=new_training(args, "ベンチマーク（逐次）"))
    people = list(Contact.objects.select_related("member").filter(pk__in=contacts))
    random.shuffle(people)
    services.register_for_training(training, contact=people[0])  # warm, as the others are
    started = time.perf_counter()
    for person in people[1:]:
        services.register_for_training(training, contact=person)
    return round((len(people) - 1) / (time.perf_counter() - started), 1)


def service_path(args: argparse.Namespace, contacts: list[int]) -> dict[str, Any]:
    from django.db import connections

    training_id = new_training(args, "ベンチマーク（サービス）")
    warm_training = new_training(args, "ベンチマーク（準備運動）")
    connections.close_all()
    ctx = multiprocessing.get_context("spawn")
    ready, out, go, finished = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
    attempts = random.sample(contacts, len(contacts))
    chunks = [attempts[i :: args.processes] for i in range(args.processes)]
    procs = [
        ctx.Process(
            target=_service_worker,
            args=(training_id, (warm_training, chunk[0]), chunk, ready, go, out, finished),
        )
        for chunk in chunks
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    records = [r for _ in procs for r in out.get(timeout=600)]
    finished.set()
    for proc in procs:
        proc.join(30)
    begin = min(r[1] for r in records)
    end = max(r[2] for r in records)
    latencies = [r[3] * 1000 for r in records]
    errors = [r[4] for r in records if r[4].startswith("error")]
    sent_by = {cid: (i, seq) for i, chunk in enumerate(chunks) for seq, cid in enumerate(chunk)}
    rules = check_rules(training_id, args)
    return {
        "attempts": len(records),
        "confirmed": rules["confirmed"],
        "waitlisted": rules["waitlisted"],
        "limit_violations": rules["limit_violations"],
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
        "locked_errors": sum("locked" in e for e in errors),
        "waitlist_in_arrival_order": arrival_order_kept(rules["waitlist_ids"], sent_by),
        "per_s": round(len(records) / (end - begin), 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "seconds": round(end - begin, 3),
    }


# HTTP path ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sessions_for(contacts: list[int]) -> dict[int, tuple[str, str]]:
    """A logged-in session per contact, made as login() would make it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from association.backends import PASSWORD_BACKEND
    from association.models import Contact

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

    out = {}
    for contact in Contact.objects.select_related("user", "member").filter(pk__in=contacts):
        assert contact.user is not None
        store = SessionStore()
        store[SESSION_KEY] = str(contact.user.pk)
        store[BACKEND_SESSION_KEY] = PASSWORD_BACKEND
        store[HASH_SESSION_KEY] = contact.user.get_session_auth_hash()
        store.create()
        out[contact.pk] = (str(store.session_key), contact.member.local_government_id)
    return out


def start_gunicorn(port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    log = Path(os.environ["RENKEI_VAR_DIR"]) / "gunicorn.log"
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.http_workers),
        "--worker-class",
        "sync",
        "--preload",
        "--error-logfile",
        str(log),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=BASE_DIR, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status < 500:
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("gunicorn did not start; see " + str(log))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def fetch(port: int, method: str, path: str, body: str = "", headers: Any = None) -> int:
    """One request on a connection of its own; the status, or 0 if the connection failed."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body or None, headers or {})
        response = conn.getresponse()
        response.read()
        conn.close()
    except OSError:
        return 0
    return response.status


def post_registration(port: int, session: tuple[str, str], training_id: int) -> int:
    """One registration through the portal page, as a logged-in browser posts it."""
    session_key, code = session
    csrf = secrets.token_hex(16)
    headers = {
        "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    path = f"/trainings/m/{code}/{training_id}/"
    return fetch(port, "POST", path, f"csrfmiddlewaretoken={csrf}", headers)


def get_anonymous(port: int, code: str, training_id: int) -> int:
    return fetch(port, "GET", f"/trainings/m/{code}/{training_id}/")


class Run:
    """What `drive` saw: per request (item, client, started, ended, seconds, status)."""

    def __init__(self) -> None:
        self.records: list[tuple[int, int, float, float, float, int]] = []
        self.sent_by: dict[int, tuple[int, int]] = {}
        self.client_cpu = 0.0

    def per_s(self) -> float:
        begin = min(r[2] for r in self.records)
        end = max(r[3] for r in self.records)
        return round(len(self.records) / (end - begin), 1)


def drive(clients: int, items: list[int], send: Any) -> Run:
    """CLIENTS threads released together, each sending one request after another (send(item)
    returns the HTTP status) until ITEMS run out."""
    work: queue.Queue[int] = queue.Queue()
    for item in items:
        work.put(item)
    run = Run()
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(index: int) -> None:
        barrier.wait()
        seq = 0
        while True:
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            started = time.time()
            t0 = time.perf_counter()
            status = send(item)
            elapsed = time.perf_counter() - t0
            with lock:
                run.records.append((item, index, started, time.time(), elapsed, status))
                run.sent_by[item] = (index, seq)
            seq += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.client_cpu = time.process_time() - cpu
    return run


def http_path(args: argparse.Namespace, contacts: list[int]) -> dict[str, Any]:
    from django.db import connections

    training_id = new_training(args, "ベンチマーク（HTTP）")
    warm_training = new_training(args, "ベンチマーク（HTTP準備運動）")
    sessions = sessions_for(contacts)
    connections.close_all()
    port = free_port()
    server = start_gunicorn(port, args)
    try:
        # Warm every worker as a running site is warm (imports, database connection, the
        # registration path): concurrent registrations for a training of their own, so that
        # each worker gets some.
        warmers = [
            threading.Thread(target=post_registration, args=(port, sessions[c], warm_training))
            for c in contacts[: args.http_workers * 4]
        ]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join()
        # The baseline: the web stack's floor, the same clients asking for the same page
        # without a login (the middleware, the URL, the redirect to the login; no database).
        floor = drive(
            args.clients,
            contacts,
            lambda contact_id: get_anonymous(port, sessions[contact_id][1], training_id),
        )
        attempts = random.sample(contacts, len(contacts))
        run = drive(
            args.clients,
            attempts,
            lambda contact_id: post_registration(port, sessions[contact_id], training_id),
        )
        records, sent_by, client_cpu = run.records, run.sent_by, run.client_cpu
    finally:
        stop(server)
    begin = min(r[2] for r in records)
    end = max(r[3] for r in records)
    latencies = [r[4] * 1000 for r in records]
    statuses: dict[int, int] = {}
    for r in records:
        statuses[r[5]] = statuses.get(r[5], 0) + 1
    rules = check_rules(training_id, args)
    return {
        "attempts": len(records),
        "confirmed": rules["confirmed"],
        "waitlisted": rules["waitlisted"],
        "limit_violations": rules["limit_violations"],
        "errors": sum(n for s, n in statuses.items() if s != 302),
        "server_errors_5xx": sum(n for s, n in statuses.items() if s >= 500 or s == 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "waitlist_in_arrival_order": arrival_order_kept(rules["waitlist_ids"], sent_by),
        "per_s": round(len(records) / (end - begin), 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "seconds": round(end - begin, 3),
        "client_cpu_ms_per_request": round(client_cpu * 1000 / len(records), 2),
        "floor_per_s": floor.per_s(),
        "ratio_to_floor": round(len(records) / (end - begin) / floor.per_s(), 3),
    }


def run_one(database: str, args: argparse.Namespace) -> None:
    django_setup()
    t0 = time.monotonic()
    contacts, vendor = prepare_database(args)
    print(
        f"  setup: {len(contacts)} staff of {len(contacts) // PER_MEMBER_STAFF} members "
        f"on {vendor} in {time.monotonic() - t0:.1f}s",
        flush=True,
    )
    serial = serial_baseline(args, contacts)
    service = service_path(args, contacts)
    service["serial_per_s"] = serial
    service["ratio_to_serial"] = round(service["per_s"] / serial, 3)
    print(
        f"  service ({args.processes} processes): {service['attempts']} attempts, "
        f"confirmed {service['confirmed']}, waitlisted {service['waitlisted']}, "
        f"limit violations {service['limit_violations']}, errors {service['errors']} "
        f"(database is locked: {service['locked_errors']}), "
        f"waitlist in arrival order: {service['waitlist_in_arrival_order']}, "
        f"{service['per_s']} registrations/s, p50 {service['p50_ms']} ms, "
        f"p95 {service['p95_ms']} ms; baseline, one process one after another: "
        f"{serial} registrations/s (ratio {service['ratio_to_serial']})",
        flush=True,
    )
    for sample in service["error_samples"]:
        print(f"    {sample}", flush=True)
    if "http" not in args.paths:
        print(json.dumps({"confirmed": service["confirmed"], "service_per_s": service["per_s"]}))
        return
    web = http_path(args, contacts)
    print(
        f"  http ({args.clients} clients, gunicorn {args.http_workers} workers): "
        f"{web['attempts']} requests, statuses {web['statuses']}, "
        f"confirmed {web['confirmed']}, waitlisted {web['waitlisted']}, "
        f"limit violations {web['limit_violations']}, 5xx {web['server_errors_5xx']}, "
        f"waitlist in arrival order: {web['waitlist_in_arrival_order']}, "
        f"{web['per_s']} requests/s, p50 {web['p50_ms']} ms, p95 {web['p95_ms']} ms "
        f"(the clients' own CPU: {web['client_cpu_ms_per_request']} ms a request); "
        f"baseline, the same page without a login: {web['floor_per_s']} requests/s "
        f"(ratio {web['ratio_to_floor']})",
        flush=True,
    )
    figures = {
        "confirmed": service["confirmed"],
        "http_confirmed": web["confirmed"],
        "waitlisted": service["waitlisted"],
        "limit_violations": service["limit_violations"] + web["limit_violations"],
        "errors": service["errors"] + web["errors"],
        "database_locked_errors": service["locked_errors"],
        "http_5xx": web["server_errors_5xx"],
        "waitlist_in_arrival_order": service["waitlist_in_arrival_order"]
        and web["waitlist_in_arrival_order"],
        "service_per_s": service["per_s"],
        "service_p50_ms": service["p50_ms"],
        "service_p95_ms": service["p95_ms"],
        "service_serial_per_s": service["serial_per_s"],
        "service_ratio_to_serial": service["ratio_to_serial"],
        "http_per_s": web["per_s"],
        "http_p50_ms": web["p50_ms"],
        "http_p95_ms": web["p95_ms"],
        "http_floor_per_s": web["floor_per_s"],
        "http_ratio_to_floor": web["ratio_to_floor"],
        "attempts": args.attempts,
        "seats": args.seats,
        "per_member_limit": args.limit,
        "processes": args.processes,
        "clients": args.clients,
    }
    print(json.dumps(figures))


def default_postgres_url() -> str:
    """BENCH_POSTGRES_URL, else the server of DATABASE_URL with a database of the bench's own."""
    if os.environ.get("BENCH_POSTGRES_URL"):
        return os.environ["BENCH_POSTGRES_URL"]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        base, _, name = url.rpartition("/")
        return f"{base}/{name.split('?')[0]}_bench_register"
    return "postgres://postgres@127.0.0.1:5432/renkei_bench_register"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--clients", type=int, default=50)
    # The page is CPU-bound (its waits on the database are ~2 ms): beyond cores + 1, workers
    # only add switching (measured here: 3 workers 258-270 requests/s, 5 workers 195-235).
    parser.add_argument("--http-workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument(
        "--postgres-url",
        default=default_postgres_url(),
        help="a database of its own: it is dropped and made anew (its name must contain 'bench')",
    )
    parser.add_argument("--paths", default="service,http", help="service,http (default both)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        run_one(arguments.child, arguments)
    else:
        sys.exit(orchestrate(arguments))
