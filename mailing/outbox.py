"""The local outbox: an email backend that writes one .eml file per message under
settings.OUTBOX_DIR, and DEBUG-only pages that list and show what was sent."""

from __future__ import annotations

import email
import email.policy
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as ParsedMessage
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


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
            tmp.write_bytes(f"X-Envelope-To: {envelope}\n".encode() + data)
            os.replace(tmp, directory / name)
            sent += 1
        return sent


@dataclass
class OutboxItem:
    name: str
    message: ParsedMessage
    sent_at: datetime

    @property
    def subject(self) -> str:
        # Django folds a long Japanese subject right after "Subject:", which leaves a space.
        return str(self.message.get("Subject", "")).strip()

    @property
    def to(self) -> str:
        """The recipient's address (a bulletin's To also carries the name: 氏名 様)."""
        header = self.message.get("To")
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


def read_outbox(directory: Path | None = None) -> list[OutboxItem]:
    """The messages in the outbox, newest first."""
    directory = Path(directory or settings.OUTBOX_DIR)
    if not directory.is_dir():
        return []
    items = []
    for path in sorted(directory.glob("*.eml"), reverse=True):
        items.append(read_item(path))
    return items


def read_item(path: Path) -> OutboxItem:
    with path.open("rb") as fh:
        message = email.message_from_binary_file(fh, policy=email.policy.default)
    sent_at = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.get_current_timezone())
    return OutboxItem(name=path.stem, message=message, sent_at=sent_at)  # type: ignore[arg-type]


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
    items = read_outbox()
    query = request.GET.get("to", "").strip().lower()
    if query:
        items = [item for item in items if query in item.to.lower()]
    return render(request, "dev/outbox_list.html", {"items": items[:200], "query": query})


def outbox_detail(request: HttpRequest, name: str) -> HttpResponse:
    _require_debug(request)
    path = Path(settings.OUTBOX_DIR) / f"{name}.eml"
    if "/" in name or not path.is_file():
        raise Http404
    item = read_item(path)
    headers = list(item.message.items())
    return render(request, "dev/outbox_detail.html", {"item": item, "headers": headers})
