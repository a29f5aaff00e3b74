"""The local outbox: an email backend that writes one .eml file per message under
settings.OUTBOX_DIR, DEBUG-only pages that list (a page at a time, reading only that page's
headers) and show what was sent, and the housekeeping that keeps it bounded."""

from __future__ import annotations

import email
import email.policy
import os
import time
import uuid
from datetime import datetime
from email.message import EmailMessage as ParsedMessage
from email.parser import BytesHeaderParser
from functools import cached_property
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

ENVELOPE = b"X-Envelope-To: "
PER_PAGE = 50


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list[EmailMessage]) -> int:  # type: ignore[override]
        directory = Path(settings.OUTBOX_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
            name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            data = message.message().as_bytes()
            envelope = ", ".join(message.recipients())
            tmp = directory / f".{name}.tmp"
            # Write then rename, so that a reader never sees half a message.
            tmp.write_bytes(ENVELOPE + f"{envelope}\n".encode() + data)
            os.replace(tmp, directory / name)
            sent += 1
        return sent


class OutboxItem:
    """One message of the outbox, read only as far as asked: the listing reads the headers of
    the page's files (up to the blank line), the detail page parses the whole message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.stem

    @cached_property
    def headers(self) -> ParsedMessage:
        lines = []
        with self.path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    break
                lines.append(line)
        parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(b"".join(lines))
        return parsed  # type: ignore[return-value]

    @cached_property
    def message(self) -> ParsedMessage:
        with self.path.open("rb") as fh:
            parsed = email.message_from_binary_file(fh, policy=email.policy.default)
        return parsed  # type: ignore[return-value]

    @cached_property
    def sent_at(self) -> datetime:
        mtime = self.path.stat().st_mtime
        return datetime.fromtimestamp(mtime, tz=timezone.get_current_timezone())

    @property
    def subject(self) -> str:
        # Django folds a long Japanese subject right after "Subject:", which leaves a space.
        return str(self.headers.get("Subject", "")).strip()

    @property
    def to(self) -> str:
        """The recipient's address (a bulletin's To also carries the name: 氏名 様)."""
        header = self.headers.get("To")
        addresses = getattr(header, "addresses", ())
        return ", ".join(a.addr_spec for a in addresses) if addresses else str(header or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    @property
    def attachments(self) -> list[str]:
        return [part.get_filename() or "" for part in self.message.iter_attachments()]


def _paths(directory: Path) -> list[Path]:
    """The outbox's messages, newest first: a file's name starts with its UTC time stamp."""
    if not directory.is_dir():
        return []
    names = [
        entry.name
        for entry in os.scandir(directory)
        if entry.name.endswith(".eml") and not entry.name.startswith(".")
    ]
    return [directory / name for name in sorted(names, reverse=True)]


def _envelope(path: Path) -> str:
    """The recipients written on the file's first line, without parsing the message."""
    try:
        with path.open("rb") as fh:
            first = fh.readline(4096)
    except FileNotFoundError:  # pruned meanwhile
        return ""
    if not first.startswith(ENVELOPE):
        return ""
    return first[len(ENVELOPE) :].decode("utf-8", "replace").strip()


def read_outbox(directory: Path | None = None) -> list[OutboxItem]:
    """The messages in the outbox, newest first (each read when asked)."""
    return [OutboxItem(path) for path in _paths(Path(directory or settings.OUTBOX_DIR))]


def read_item(path: Path) -> OutboxItem:
    return OutboxItem(path)


def prune_outbox(
    directory: Path | None = None,
    *,
    now: float | None = None,
    keep_days: float | None = None,
    keep_count: int | None = None,
) -> int:
    """Housekeeping: delete messages older than OUTBOX_KEEP_DAYS and all but the newest
    OUTBOX_KEEP_COUNT (a bulletin to 3,000 people writes 3,000 files), and half-written files
    a crash left behind. Returns the number of files deleted."""
    directory = Path(directory or settings.OUTBOX_DIR)
    now = time.time() if now is None else now
    days = float(getattr(settings, "OUTBOX_KEEP_DAYS", 7) if keep_days is None else keep_days)
    count = int(getattr(settings, "OUTBOX_KEEP_COUNT", 1000) if keep_count is None else keep_count)
    paths = _paths(directory)
    doomed = paths[max(count, 0) :]
    cutoff = now - days * 86400
    for path in paths[: max(count, 0)]:
        try:
            if path.stat().st_mtime < cutoff:
                doomed.append(path)
        except FileNotFoundError:
            continue
    if directory.is_dir():
        for entry in os.scandir(directory):
            if entry.name.endswith(".tmp") and entry.stat().st_mtime < now - 3600:
                doomed.append(Path(entry.path))
    deleted = 0
    for path in doomed:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted += 1
    return deleted


def _require_debug(request: HttpRequest) -> None:
    """The outbox holds every login code: shown only with DEBUG on, and only to a superuser
    who passed the admin's second factor (config/urls.py never mounts it in production)."""
    if not settings.DEBUG:
        raise Http404
    user = request.user
    verified = getattr(user, "is_verified", None)
    if not (user.is_active and user.is_superuser and callable(verified) and verified()):
        raise Http404


def outbox_list(request: HttpRequest) -> HttpResponse:
    _require_debug(request)
    paths = _paths(Path(settings.OUTBOX_DIR))
    query = request.GET.get("to", "").strip().lower()
    if query:
        paths = [path for path in paths if query in _envelope(path).lower()]
    page = Paginator(paths, PER_PAGE).get_page(request.GET.get("page"))
    ctx = {
        "page": page,
        "items": [OutboxItem(path) for path in page.object_list],
        "query": query,
        "query_string": urlencode({"to": query}) if query else "",
    }
    return render(request, "dev/outbox_list.html", ctx)


def outbox_detail(request: HttpRequest, name: str) -> HttpResponse:
    _require_debug(request)
    path = Path(settings.OUTBOX_DIR) / f"{name}.eml"
    if "/" in name or name.startswith(".") or not path.is_file():
        raise Http404
    item = OutboxItem(path)
    headers = list(item.message.items())
    return render(request, "dev/outbox_detail.html", {"item": item, "headers": headers})
