"""Fault tests: real worker processes, a real broker, the test database and a local SMTP sink.
Each ends with every address accepted at the sink at least once and duplicates within what was
in flight when the fault hit."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import psutil
import pytest
from django.db import connection, connections

from mailing import services
from mailing.models import Bulletin, Delivery

from ..workers import WorkerProcess, purge_queues
from .helpers import (
    BeatProcess,
    apply_fast_settings,
    bulletin_sent,
    make_contacts,
    smtp_env,
    wait_until,
)
from .sink import Sink

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sink():
    with Sink() as running:
        yield running


@pytest.fixture
def processes():
    started: list = []
    yield started
    for process in reversed(started):
        process.stop()


def _bulletin(mailing_list) -> Bulletin:
    return services.save_bulletin(
        None,
        mailing_list=mailing_list,
        subject="障害試験",
        body="{{ 氏名 }} 様\n\nhttps://renkei.example.jp/x",
    )


def _workers(processes, env, count=2):
    """COUNT workers on the bulletins queue, and one for housekeeping (the sweeper runs on the
    transactional queue, as in production)."""
    workers = [WorkerProcess(queues=("bulletins",), **env) for _ in range(count)]
    housekeeping = WorkerProcess(queues=("transactional", "default"), **env)
    processes.extend([*workers, housekeeping])
    for worker in [*workers, housekeeping]:
        worker.wait_ready()
    return workers


def _in_flight() -> int:
    return Delivery.objects.filter(status=Delivery.Status.SENDING).count()


def _assert_everyone_received(sink, addresses, *, max_duplicates):
    accepted = sink.handler.accepted
    missing = [a for a in addresses if accepted[a] == 0]
    assert missing == [], f"{len(missing)} addresses missing"
    assert sink.handler.duplicates() <= max_duplicates


@pytest.mark.parametrize("target", ["child", "main"])
def test_it_loses_nothing_when_a_worker_is_killed_mid_send(
    target, settings, tmp_path, sink, processes, all_members_list
):
    apply_fast_settings(settings, sink.port)
    addresses = [c.email for c in make_contacts(5000)]
    purge_queues()
    env = smtp_env(sink.port)
    victim, _survivor = _workers(processes, env)
    processes.append(BeatProcess(tmp_path, **env))
    bulletin = _bulletin(all_members_list)

    services.start_bulletin(bulletin)
    wait_until(lambda: sink.handler.total() >= 1000, 120, "the first 1,000 messages")
    if target == "child":
        os.kill(psutil.Process(victim.proc.pid).children()[0].pid, signal.SIGKILL)
    else:
        victim.kill(signal.SIGKILL)
    in_flight = _in_flight()

    wait_until(bulletin_sent(bulletin), 240, "the bulletin to finish")
    _assert_everyone_received(sink, addresses, max_duplicates=in_flight)
    assert sink.handler.total() < 5000 + in_flight + 1
    assert Delivery.objects.filter(bulletin=bulletin, status=Delivery.Status.SENT).count() == 5000


def test_it_sends_temporary_refusals_later_and_fails_permanent_ones_once(
    settings, tmp_path, sink, processes, all_members_list
):
    apply_fast_settings(settings, sink.port)
    addresses = [c.email for c in make_contacts(300)]
    temporary = addresses[::10]
    permanent = addresses[5:55:10]
    for address in temporary:
        sink.handler.scripted[address] = ["451 4.7.1 Try again later"] * 2
    for address in permanent:
        sink.handler.always[address] = "550 5.1.1 No such user here"
    purge_queues()
    env = smtp_env(sink.port)
    _workers(processes, env, count=1)
    processes.append(BeatProcess(tmp_path, **env))
    bulletin = _bulletin(all_members_list)

    services.start_bulletin(bulletin)

    wait_until(bulletin_sent(bulletin), 120, "the bulletin to finish")
    handler = sink.handler
    assert [(handler.accepted[a], handler.attempts[a]) for a in temporary] == [(1, 3)] * len(
        temporary
    )
    assert [(handler.accepted[a], handler.attempts[a]) for a in permanent] == [(0, 1)] * 5
    others = set(addresses) - set(temporary) - set(permanent)
    assert {handler.accepted[a] for a in others} == {1}
    failed = Delivery.objects.filter(bulletin=bulletin, status=Delivery.Status.FAILED)
    assert sorted(failed.values_list("email", flat=True)) == sorted(permanent)
    assert all("550" in d.error for d in failed)
    progress = services.bulletin_progress(bulletin)
    assert progress.sent == 295 and progress.failed == 5


def test_it_sends_once_when_started_twice_at_once(settings, sink, processes, all_members_list):
    apply_fast_settings(settings, sink.port)
    addresses = [c.email for c in make_contacts(1000)]
    purge_queues()
    _workers(processes, smtp_env(sink.port))
    bulletin = _bulletin(all_members_list)
    barrier = threading.Barrier(2)

    def start() -> None:
        try:
            barrier.wait()
            services.start_bulletin(Bulletin.objects.get(pk=bulletin.pk))
            services.snapshot_audience(bulletin.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    wait_until(bulletin_sent(bulletin), 120, "the bulletin to finish")
    _assert_everyone_received(sink, addresses, max_duplicates=0)
    assert sink.handler.total() == 1000
    assert Delivery.objects.filter(bulletin=bulletin).count() == 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: _accepts(port), 10, "redis-server to listen")
    return proc


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def test_it_finishes_when_redis_restarts_mid_send(
    settings, tmp_path, sink, processes, all_members_list
):
    """A private Redis (broker, rate limit) is stopped and started again while sending; the
    bulletin is started by beat through that broker, as a scheduled one would be."""
    from django.utils import timezone

    apply_fast_settings(settings, sink.port)
    addresses = [c.email for c in make_contacts(2000)]
    port = _free_port()
    redis = _redis(port)
    url = f"redis://127.0.0.1:{port}/0"
    env = smtp_env(sink.port, CELERY_BROKER_URL=url, REDIS_URL=url, MAILING_RATE_PER_SECOND="5000")
    try:
        _workers(processes, env)
        processes.append(BeatProcess(tmp_path, **env))
        bulletin = _bulletin(all_members_list)
        services.schedule_bulletin(bulletin, at=timezone.now())

        wait_until(lambda: sink.handler.total() >= 300, 120, "the first messages")
        redis.kill()
        redis.wait(5)
        in_flight = _in_flight()
        time.sleep(3)
        redis = _redis(port)

        wait_until(bulletin_sent(bulletin), 180, "the bulletin to finish")
        _assert_everyone_received(sink, addresses, max_duplicates=in_flight)
    finally:
        redis.kill()
        redis.wait(5)


def test_it_finishes_when_the_database_is_unreachable_for_a_while(
    settings, tmp_path, sink, processes, all_members_list
):
    apply_fast_settings(settings, sink.port)
    addresses = [c.email for c in make_contacts(2000)]
    purge_queues()
    env = smtp_env(sink.port)
    _workers(processes, env)
    processes.append(BeatProcess(tmp_path, **env))
    bulletin = _bulletin(all_members_list)

    services.start_bulletin(bulletin)
    wait_until(lambda: sink.handler.total() >= 300, 120, "the first messages")
    in_flight = _database_outage(seconds=5)

    wait_until(bulletin_sent(bulletin), 180, "the bulletin to finish")
    # In flight: what was claimed when the outage began, plus at most one chunk claimed between
    # that count and the cut.
    _assert_everyone_received(
        sink, addresses, max_duplicates=in_flight + settings.MAILING_CHUNK_SIZE
    )


def _database_outage(seconds: float) -> int:
    """PostgreSQL: refuse connections to the test database and cut the open ones. SQLite: hold
    the write lock (the file cannot be taken away from open connections)."""
    in_flight = _in_flight()
    if connection.vendor == "postgresql":
        import psycopg

        name = connection.settings_dict["NAME"]
        connection.close()
        admin_url = f"host=127.0.0.1 port=5432 user={connection.settings_dict['USER'] or 'postgres'} dbname=postgres"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            time.sleep(seconds)
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    else:
        lock = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        lock.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        lock.rollback()
        lock.close()
    return in_flight
