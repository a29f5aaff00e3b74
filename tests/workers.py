"""Real Celery worker processes for tests.

A worker runs as a separate process (`celery -A config worker`) against the same broker as the
test process and against the test database, so tests that use it need committed data:
mark them `@pytest.mark.django_db(transaction=True)` (the `celery_worker` fixture does).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
ALL_QUEUES = ("transactional", "default", "bulletins")


def test_database_env() -> dict[str, str]:
    """Environment that points a child process at the database this test is using."""
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(db["NAME"]), "DATABASE_URL": ""}
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"}


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(test_database_env())
    env["OUTBOX_DIR"] = str(settings.OUTBOX_DIR)
    env["EMAIL_BACKEND"] = settings.EMAIL_BACKEND
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def purge_queues(queues: tuple[str, ...] = ALL_QUEUES) -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            # A queue that was never declared has nothing to purge.
            with contextlib.suppress(Exception):
                channel.queue_purge(queue)


class WorkerProcess:
    """One `celery worker` (main process plus its prefork children)."""

    def __init__(
        self, *, queues: tuple[str, ...] = ALL_QUEUES, concurrency: int = 1, **env: str
    ) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.lines: list[str] = []
        self._ready = threading.Event()
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(queues),
            "-c",
            str(concurrency),
            "-n",
            self.name,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=BASE_DIR,
            env=child_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if " ready." in line:
                self._ready.set()

    def wait_ready(self, timeout: float = 60) -> None:
        if not self._ready.wait(timeout):
            self.stop()
            raise AssertionError("the Celery worker did not start:\n" + self.log())

    def log(self) -> str:
        return "\n".join(self.lines[-80:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the main process only (its children notice and exit on their own)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.1
    ) -> None:
        """Wait until PREDICATE (usually a database query) holds, failing with the worker log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                raise AssertionError("the Celery worker exited:\n" + self.log())
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s; worker log:\n{self.log()}")


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[WorkerProcess]:
    """A real worker on every queue, against the test database and this test's outbox."""
    purge_queues()
    worker = WorkerProcess()
    worker.wait_ready()
    try:
        yield worker
    finally:
        worker.stop()
