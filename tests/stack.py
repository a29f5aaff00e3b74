"""`make run` as a person starts it, for tests: the whole embedded stack (gunicorn, the Celery
worker, beat; SQLite and the filesystem broker) in a fresh var/ directory of its own, and small
steps run inside that stack's database (`python -m tests.stack <step> JSON`)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
# The stack runs on its embedded defaults, whatever this test run uses.
NOT_INHERITED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "SQLITE_PATH",
    "OUTBOX_DIR",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "PYTEST_XDIST_WORKER",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MakeRun:
    """`make run HOST=127.0.0.1 PORT=<free>` with RENKEI_VAR_DIR=VAR: returns once the banner
    is printed (which waits until the web server answers)."""

    def __init__(self, var: Path, *, timeout: float = 420) -> None:
        self.var = var
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        self.env.update(RENKEI_VAR_DIR=str(var), HOST="127.0.0.1", PORT=str(self.port))
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.log_path = var.parent / f"{var.name}-make-run.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            ["make", "run"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while "停止: Ctrl-C" not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("make run did not start:\n" + self.log()[-4000:])
            time.sleep(0.5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def step(self, name: str, **args: Any) -> Any:
        """Run STEP inside the stack's database (a separate process, as a command would)."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.stack", name, json.dumps(args)],
            cwd=BASE_DIR,
            env={**self.env, "DJANGO_SETTINGS_MODULE": "config.settings"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise AssertionError(f"step {name} failed:\n{done.stdout}\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        """Ctrl-C, as a person stops it; then whatever is left."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


# --- steps, run inside the stack ---------------------------------------------------------------


def prepare_burst(members: int, per_member: int, capacity: int, limit: int) -> dict[str, Any]:
    """A published national training and MEMBERS new members with PER_MEMBER staff each, every
    one logged in (a session made as login() makes it)."""
    import datetime as dt
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from association import services as registry
    from association.backends import PASSWORD_BACKEND
    from association.models import LocalGovernment, Member
    from events import services as events
    from events.models import Training

    start = (timezone.localtime() + dt.timedelta(days=40)).replace(hour=13, minute=30)
    training = events.save_training(
        Training(
            kind=Training.Kind.NATIONAL,
            title="令和8年度 全体研修会（負荷試験）",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=3),
            venue_name="江戸川区総合文化センター",
            capacity=capacity,
            per_member_limit=limit,
            status=Training.Status.PUBLISHED,
            nendo=0,
        )
    )
    taken = Member.objects.values_list("local_government_id", flat=True)
    governments = (
        LocalGovernment.objects.municipalities()
        .current()
        .exclude(code__in=taken)
        .order_by("code")[:members]
    )
    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
    people = []
    for government in governments:
        member = registry.admit_member(government)
        for k in range(per_member):
            contact = registry.add_contact(
                member,
                name=f"負荷 {government.code}-{k + 1}",
                email=f"burst{k + 1}@lg{government.code}.example.jp",
            )
            assert contact.user is not None
            store = SessionStore()
            store[SESSION_KEY] = str(contact.user.pk)
            store[BACKEND_SESSION_KEY] = PASSWORD_BACKEND
            store[HASH_SESSION_KEY] = contact.user.get_session_auth_hash()
            store.create()
            people.append(
                {
                    "contact": contact.pk,
                    "member": member.pk,
                    "code": government.code,
                    "session": store.session_key,
                }
            )
    return {"training": training.pk, "people": people}


def registrations(training: int) -> dict[str, Any]:
    from events.models import Registration

    rows = Registration.objects.filter(training_id=training).order_by("id")
    return {
        "rows": [
            {"id": r.pk, "contact": r.contact_id, "member": r.member_id, "status": r.status}
            for r in rows
        ]
    }


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "prepare_burst": prepare_burst,
    "registrations": registrations,
}

if __name__ == "__main__":
    import django

    django.setup()
    step, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(STEPS[step](**args)))
