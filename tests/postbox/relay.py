"""A local relay for the postbox tests: the aiosmtpd sink of the mailing tests, able to refuse
every RCPT for a while (a relay out of storage) and to stall on chosen addresses (a slow
relay, or a worker caught mid-send)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiosmtpd.controller import Controller

from ..mailing.sink import Sink, SinkHandler, _free_port

STORAGE = "452 4.3.1 Insufficient system storage"
# Fast clocks: a silent claim is taken back after 3 s, beat looks every second, retries from 1 s.
FAST = {
    "POSTBOX_RETRY_SECONDS": "1",
    "POSTBOX_RETRY_MAX_SECONDS": "4",
    "POSTBOX_CLAIM_TIMEOUT": "3",
    "POSTBOX_SWEEP_SECONDS": "1",
    "POSTBOX_MAX_ATTEMPTS": "20",
}
NO_SUCH_USER = "550 5.1.1 No such user here"


class RelayHandler(SinkHandler):
    def __init__(self) -> None:
        super().__init__()
        self.refuse_until = 0.0  # every RCPT answers STORAGE until then (time.time())
        self.refuse_for = 0.0  # ... or for this long from the first RCPT on
        self.stall: dict[str, float] = {}  # address -> seconds to wait before answering RCPT
        self.stall_all = 0.0
        self.rcpt_started: dict[str, float] = {}
        self.contents: dict[str, list[bytes]] = {}  # address -> the raw messages accepted

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            if self.refuse_for and not self.rcpt_started:
                self.refuse_until = time.time() + self.refuse_for
            self.rcpt_started.setdefault(address, time.time())
            wait = self.stall.get(address, self.stall_all)
            refusing = time.time() < self.refuse_until
        if wait:
            await asyncio.sleep(wait)
        if refusing:
            with self.lock:
                self.attempts[address] += 1
            return STORAGE
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for address in envelope.rcpt_tos:
                self.contents.setdefault(address, []).append(envelope.content or b"")
        return await super().handle_DATA(server, session, envelope)


def smtp_env(port: int, **extra: str) -> dict[str, Any]:
    """The environment of a worker (or beat) that sends to the relay on PORT."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_TIMEOUT": "20",
        **FAST,
        **extra,
    }


class Relay(Sink):
    def __init__(self, port: int = 0) -> None:
        self.handler = RelayHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port or _free_port())

    def __enter__(self) -> Relay:
        self.controller.start()
        return self

    def go_down(self) -> None:
        self._port = self.port
        self.controller.stop()

    def come_back(self) -> None:
        """Listen again on the same port, keeping the counts (a stopped controller's loop is
        closed, so a new controller serves the same handler)."""
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self._port)
        self.controller.start()
