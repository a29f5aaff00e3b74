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
NO_SUCH_USER = "550 5.1.1 No such user here"


class RelayHandler(SinkHandler):
    def __init__(self) -> None:
        super().__init__()
        self.refuse_until = 0.0  # every RCPT answers STORAGE until then (time.time())
        self.stall: dict[str, float] = {}  # address -> seconds to wait before answering RCPT
        self.stall_all = 0.0
        self.rcpt_started: dict[str, float] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
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


class Relay(Sink):
    def __init__(self, port: int = 0) -> None:
        self.handler = RelayHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port or _free_port())

    def __enter__(self) -> Relay:
        self.controller.start()
        return self
