"""Helpers for the mailing tests that run real processes: a beat process, a registry of many
contacts made through the registry services, and the environment for SMTP workers."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from association import services as registry
from association.models import Contact, LocalGovernment
from mailing.models import Bulletin

from ..workers import BASE_DIR, child_env

# Fast clocks for tests: a dead worker's claim is released after 3 s, retries start after 1 s.
FAST = {
    "MAILING_CLAIM_TIMEOUT": "3",
    "MAILING_STALL_SECONDS": "2",
    "MAILING_SWEEP_SECONDS": "1",
    "MAILING_SCHEDULE_SECONDS": "1",
    "MAILING_RETRY_SECONDS": "1",
    "MAILING_DRAIN_SECONDS": "20",
}


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        **FAST,
        **extra,
    }


def apply_fast_settings(settings, port: int | None = None) -> None:
    for key, value in FAST.items():
        setattr(settings, key, int(value))
    if port is not None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port


def make_contacts(count: int, *, per_member: int = 5) -> list[Contact]:
    """COUNT contacts spread over members, made through the registry services."""
    contacts: list[Contact] = []
    governments = LocalGovernment.objects.municipalities().current().order_by("code")
    for government in governments.iterator():
        if len(contacts) >= count:
            break
        member = registry.admit_member(government)
        for i in range(min(per_member, count - len(contacts))):
            contacts.append(
                registry.add_contact(
                    member,
                    name=f"担当 {i + 1}",
                    email=f"staff{i + 1}@lg{government.code}.example.jp",
                    department="保健福祉課",
                )
            )
    return contacts


class BeatProcess:
    """`celery beat` with the mailing sweeper every second."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-s",
                str(tmp_path / "beat-schedule"),
                "--max-interval",
                "1",
                "-l",
                "WARNING",
            ],
            cwd=BASE_DIR,
            env=child_env(**(FAST | env)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def bulletin_sent(bulletin: Bulletin) -> Callable[[], bool]:
    def check() -> bool:
        bulletin.refresh_from_db(fields=["status"])
        return bulletin.status == Bulletin.Status.SENT

    return check
