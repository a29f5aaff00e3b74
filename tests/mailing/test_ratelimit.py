"""The per-provider rate limit holds across worker processes (Redis when configured, else a
locked file under VAR_DIR)."""

from collections import Counter
from typing import Any

import pytest

from mailing import services
from mailing.ratelimit import RateLimiter

from ..workers import WorkerProcess, purge_queues
from .helpers import apply_fast_settings, bulletin_sent, make_contacts, smtp_env, wait_until
from .sink import Sink

# A rate is measured in seconds of the wall clock: alone on the machine (make test runs it last).
pytestmark = pytest.mark.serial


def test_it_lets_no_more_than_the_rate_through_in_a_second(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    limiter = RateLimiter("test-provider", 5)

    waited = sum(limiter.acquire() for _ in range(12))

    assert waited >= 1.0  # 12 sends at 5/s need at least two window changes


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_holds_the_limit_across_two_workers(settings, all_members_list):
    with Sink() as sink:
        apply_fast_settings(settings, sink.port)
        make_contacts(60)
        purge_queues()
        env: dict[str, Any] = smtp_env(
            sink.port, MAILING_RATE_PER_SECOND="10", MAILING_PROVIDER_KEY="shared-test"
        )
        workers = [WorkerProcess(queues=("bulletins",), **env) for _ in range(2)]
        try:
            for worker in workers:
                worker.wait_ready()
            bulletin = services.save_bulletin(
                None, mailing_list=all_members_list, subject="速度制限", body="本文"
            )
            services.start_bulletin(bulletin)
            wait_until(bulletin_sent(bulletin), 60, "the bulletin")
        finally:
            for worker in workers:
                worker.stop()
        times = sorted(sink.handler.accepted_at)

    assert len(times) == 60
    # Unlimited, two workers send 60 messages in well under a second, and a limit of 10/s per
    # worker (20/s in all) in about 2 s. The shared limit needs six one-second windows; the
    # first may be entered just before it ends, so the span is a little over 4 s at the least
    # (4.2 s seen in CI): 3.5 s tells the shared limit from a per-worker one.
    assert times[-1] - times[0] >= 3.5
    per_second = Counter(int(t) for t in times)
    assert max(per_second.values()) <= 12
