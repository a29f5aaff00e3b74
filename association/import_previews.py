"""Uploaded contact files waiting for their preview to be confirmed (association.admin_import).
They hold personal data: each is deleted when its import is confirmed or refused, and every
file is deleted at most an hour after upload by the periodic sweep (beat runs
association.remove_stale_import_previews every SWEEP_SECONDS), whether anyone comes back or
not. Written under umask 077 (config/settings.py): only Renkei's account reads them."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from django.conf import settings

SWEEP_SECONDS = 5 * 60
# A preview is good for this long; with the sweep's period, no file outlives an hour.
MAX_AGE_SECONDS = 60 * 60 - SWEEP_SECONDS


def directory() -> Path:
    return Path(settings.VAR_DIR) / "contact-imports"


def store(data: bytes, suffix: str) -> str:
    """Keep DATA for the confirm step; returns the name its signed token carries."""
    folder = directory()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale()
    name = secrets.token_hex(16) + suffix
    (folder / name).write_bytes(data)
    return name


def path_of(name: str) -> Path:
    return directory() / Path(name).name  # a name from a token, never a path


def remove(name: str) -> None:
    path_of(name).unlink(missing_ok=True)


def remove_stale(*, now: float | None = None) -> int:
    """Delete the previews older than MAX_AGE_SECONDS; returns how many."""
    folder = directory()
    if not folder.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - MAX_AGE_SECONDS
    removed = 0
    for old in folder.iterdir():
        if old.is_file() and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
            removed += 1
    return removed
