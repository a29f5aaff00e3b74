"""A send-rate limit per provider account that holds across every worker process.

Fixed one-second windows: each sender adds what it is about to send to the window's counter
and waits for the next window when the counter would pass the limit. In Redis when Redis is
configured (shared by every machine); otherwise in a small file under VAR_DIR guarded by an
exclusive lock (the embedded setup runs on one machine).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings


def messages_per_second() -> int:
    return int(getattr(settings, "MAILING_RATE_PER_SECOND", 0) or 0)


class RateLimiter:
    def __init__(self, key: str, rate: int) -> None:
        self.key = key
        self.rate = rate
        self._redis: Any = None
        url = redis_url()
        if url:
            import redis

            self._redis = redis.Redis.from_url(url)

    def acquire(self, count: int = 1) -> float:
        """Block until COUNT sends fit under the limit; return the seconds waited."""
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        while count > 0:
            take = min(count, self.rate)
            window = int(time.time())
            if self._take(window, take):
                count -= take
                continue
            pause = window + 1 - time.time()
            if pause > 0:
                time.sleep(pause)
                waited += pause
        return waited

    def _take(self, window: int, take: int) -> bool:
        if self._redis is not None:
            import redis

            name = f"renkei:mailing:rate:{self.key}:{window}"
            try:
                pipe = self._redis.pipeline()
                pipe.incrby(name, take)
                pipe.expire(name, 5)
                used, _ok = pipe.execute()
            except redis.RedisError:
                # Redis restarting: wait for the next window rather than send unmetered.
                return False
            return int(used) <= self.rate
        return self._take_file(window, take)

    def _take_file(self, window: int, take: int) -> bool:
        directory = Path(settings.VAR_DIR) / "ratelimit"
        directory.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() else "_" for c in self.key)
        fd = os.open(directory / safe, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0).decode() or "0 0"
            stored_window, used = (int(x) for x in raw.split())
            if stored_window != window:
                used = 0
            if used + take > self.rate and used > 0:
                return False
            data = f"{window} {used + take}".encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            return True
        finally:
            os.close(fd)


def redis_url() -> str:
    """Redis when the deployment has it: REDIS_URL, else a Redis broker."""
    url = getattr(settings, "REDIS_URL", "") or ""
    if url:
        return url
    broker = getattr(settings, "CELERY_BROKER_URL", "") or ""
    return broker if broker.startswith(("redis://", "rediss://")) else ""
