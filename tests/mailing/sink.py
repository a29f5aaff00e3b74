"""A local SMTP sink (aiosmtpd) that counts what it accepts and can answer 4xx/5xx on RCPT.
Used by the fault tests and by bench/send.py; it stands for the provider's SMTP server."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller

MESSAGE_ID_RE = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class SinkHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: Counter[str] = Counter()  # address -> messages accepted
        self.attempts: Counter[str] = Counter()  # address -> RCPT commands seen
        self.message_ids: list[str] = []
        # address -> answers to give to its next RCPT commands, in order (then "250").
        self.scripted: dict[str, list[str]] = {}
        # address -> an answer given every time (a permanent refusal).
        self.always: dict[str, str] = {}
        self.last_accepted_at = 0.0
        self.accepted_at: list[float] = []
        # Every accepted message as it came: (recipients, MAIL FROM options, raw bytes). Kept
        # only when asked (keep_raw), so the benchmark's sink stays small.
        self.keep_raw = False
        self.raw: list[tuple[list[str], list[str], bytes]] = []
        # Seconds to wait before answering each DATA: a slow relay, so that a test can act
        # while a sender holds claimed rows it has not sent yet.
        self.data_delay = 0.0
        # An answer to every MAIL FROM (a relay that refuses our sender address), or "".
        self.refuse_mail = ""
        # Close the connection at every Nth MAIL FROM (a relay dropping idle or busy
        # connections before any data), and at DATA for these addresses, once each.
        self.drop_mail_every = 0
        self.drop_in_data: set[str] = set()
        self.mails = 0
        self.dropped = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any
    ) -> str:
        if self.refuse_mail:
            return self.refuse_mail
        with self.lock:
            self.mails += 1
            drop = bool(self.drop_mail_every) and self.mails % self.drop_mail_every == 0
            self.dropped += drop
        if drop:
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            self.attempts[address] += 1
            if address in self.always:
                return self.always[address]
            queue = self.scripted.get(address)
            if queue:
                return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio
        import time

        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self.lock:
            dropped = set(envelope.rcpt_tos) & self.drop_in_data
            self.drop_in_data -= dropped
        if dropped:
            server.transport.close()
            return "421 4.4.2 Connection dropped"

        match = MESSAGE_ID_RE.search(envelope.content or b"")
        with self.lock:
            for address in envelope.rcpt_tos:
                self.accepted[address] += 1
            if match:
                self.message_ids.append(match.group(1).decode())
            if self.keep_raw:
                content = envelope.original_content or envelope.content or b""
                self.raw.append(
                    (list(envelope.rcpt_tos), list(envelope.mail_options), bytes(content))
                )
            self.last_accepted_at = time.time()
            self.accepted_at.append(self.last_accepted_at)
        return "250 Message accepted for delivery"

    def total(self) -> int:
        with self.lock:
            return sum(self.accepted.values())

    def duplicates(self) -> int:
        with self.lock:
            return sum(n - 1 for n in self.accepted.values() if n > 1)


class Sink:
    def __init__(self, port: int = 0) -> None:
        self.handler = SinkHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port or _free_port())

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
