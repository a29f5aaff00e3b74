"""Bulletins sent by real Celery workers."""

import pytest

from mailing import services
from mailing.models import Bulletin, Delivery

from .helpers import BeatProcess, bulletin_sent, wait_until


@pytest.mark.django_db(transaction=True)
def test_it_sends_a_bulletin_through_a_real_worker(
    celery_worker, all_members_list, alice, bob, charlie, outbox
):
    bulletin = services.save_bulletin(
        None,
        mailing_list=all_members_list,
        subject="定例のお知らせ",
        body="{{ 団体名 }} ご担当者様",
    )

    services.start_bulletin(bulletin)

    celery_worker.wait_for(bulletin_sent(bulletin), timeout=60)
    assert sorted(m.to for m in outbox.messages()) == sorted(
        [alice.email, bob.email, charlie.email]
    )
    assert "東京都足立区 ご担当者様" in outbox.to(charlie.email)[0].text
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db(transaction=True)
def test_it_starts_a_scheduled_bulletin_from_beat(
    celery_worker, tmp_path, all_members_list, alice, outbox
):
    from django.utils import timezone

    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="予約配信", body="本文"
    )
    services.schedule_bulletin(bulletin, at=timezone.now())
    beat = BeatProcess(tmp_path)
    try:
        wait_until(bulletin_sent(bulletin), timeout=60, what="the scheduled bulletin")
    finally:
        beat.stop()
    assert len(outbox.to(alice.email)) == 1
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SENT
