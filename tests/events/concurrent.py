"""Registrations from real, separate processes against the test database.

Each child is spawned (not forked), sets up Django on the environment of tests/workers.py, and
waits for a common start time before acting, so the requests really arrive at once."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Iterable
from typing import Any

from tests.workers import child_env


def _init(env: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()


def _act(job: tuple[str, int, int, float, float]) -> tuple[str, int, str]:
    action, training_id, target_id, start_at, jitter = job
    from django.db import close_old_connections

    from association.models import Contact
    from events import services
    from events.models import Registration, Training

    delay = start_at - time.time() + random.uniform(0, jitter)
    if delay > 0:
        time.sleep(delay)
    close_old_connections()
    try:
        if action == "register":
            training = Training.objects.get(pk=training_id)
            contact = Contact.objects.select_related("member").get(pk=target_id)
            registration = services.register_for_training(training, contact=contact)
            return (action, target_id, registration.status)
        if action == "cancel":
            registration = Registration.objects.select_related("training", "contact").get(
                pk=target_id
            )
            return (action, target_id, services.cancel_registration(registration).status)
        if action == "to_waiting":
            registration = Registration.objects.select_related("training").get(pk=target_id)
            promoted = services.move_to_waiting_list(
                registration, at_head=target_id % 2 == 0, reason="同時の移動", by=None
            )
            return (action, target_id, f"moved:{len(promoted)}")
        if action == "promote":
            training = Training.objects.get(pk=training_id)
            promoted = services.promote_waiting_list(training)
            return (action, target_id, f"promoted:{len(promoted)}")
        raise ValueError(action)
    except Exception as exc:
        return (action, target_id, f"error:{type(exc).__name__}:{exc}")


class Crowd:
    """PROCESSES spawned processes that act together: `run()` starts every job at one moment
    (after a random delay of up to JITTER seconds each) and returns the results in job order."""

    def __init__(self, processes: int = 16) -> None:
        self.processes = processes
        ctx = multiprocessing.get_context("spawn")
        self.pool = ctx.Pool(processes, initializer=_init, initargs=(child_env(),))
        # Wait until every child has set Django up.
        self.pool.map(time.sleep, [0.05] * processes, chunksize=1)

    def run(
        self, jobs: Iterable[tuple[str, int, int]], *, jitter: float = 0.02
    ) -> list[tuple[str, int, str]]:
        start_at = time.time() + 0.3
        work: list[Any] = [(a, t, x, start_at, jitter) for a, t, x in jobs]
        return self.pool.map(_act, work, chunksize=1)

    def close(self) -> None:
        self.pool.close()
        self.pool.join()

    def __enter__(self) -> Crowd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
