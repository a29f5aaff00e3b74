"""Stopped means stopped: pause, cancel, an opt-out or an erasure reach senders that are
running (within a few messages), and a crash of every worker after 中止 or 一時停止 leaves the
bulletin as the secretariat left it. Real worker processes, a real broker, the test database
and the local SMTP sink."""

from __future__ import annotations

import signal
import time

import pytest

from association import services as registry
from mailing import services
from mailing.models import Bulletin, Delivery, Sender

from ..workers import WorkerProcess, purge_queues
from .helpers import (
    BeatProcess,
    apply_fast_settings,
    bulletin_sent,
    make_contacts,
    smtp_env,
    wait_until,
)
from .sink import Sink

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The claim timeout as in production: nothing here may wait for it.
SLOW_CLAIMS = {"MAILING_CLAIM_TIMEOUT": "120"}


@pytest.fixture
def sink():
    with Sink() as running:
        yield running


@pytest.fixture
def processes():
    started: list = []
    yield started
    for process in reversed(started):
        process.stop()


def _bulletin(mailing_list) -> Bulletin:
    return services.save_bulletin(
        None,
        mailing_list=mailing_list,
        subject="停止試験",
        body="{{ 氏名 }} 様\n\nhttps://renkei.example.jp/x",
    )


def _workers(processes, env, count=2) -> list[WorkerProcess]:
    workers = [WorkerProcess(queues=("bulletins",), **env) for _ in range(count)]
    processes.extend(workers)
    for worker in workers:
        worker.wait_ready()
    return workers


def _housekeeping(processes, tmp_path, env) -> None:
    """What production runs beside the senders: beat and a worker on the transactional queue
    (the sweeper's)."""
    worker = WorkerProcess(queues=("transactional", "default"), **env)
    processes.append(worker)
    worker.wait_ready()
    processes.append(BeatProcess(tmp_path, **env))


def _status(bulletin: Bulletin) -> str:
    bulletin.refresh_from_db(fields=["status"])
    return bulletin.status


def _holding() -> int:
    return Delivery.objects.filter(status=Delivery.Status.SENDING).count()


def _crash(processes) -> None:
    """kill -9 of every process of the stack, children included."""
    import os

    for process in processes:
        if process.proc.poll() is None:
            os.killpg(process.proc.pid, signal.SIGKILL)
    for process in processes:
        process.proc.wait(10)
    processes.clear()


def test_a_pause_stops_every_sender_within_seconds_and_resume_sends_the_rest_once(
    settings, tmp_path, sink, processes, all_members_list, admin_client
):
    apply_fast_settings(settings, sink.port)
    addresses = [c.email for c in make_contacts(5000)]
    purge_queues()
    env = smtp_env(sink.port, **SLOW_CLAIMS)
    senders = 2
    _workers(processes, env, count=senders)
    _housekeeping(processes, tmp_path, env)
    bulletin = _bulletin(all_members_list)
    progress_url = f"/admin/mailing/bulletin/{bulletin.pk}/progress/"

    services.start_bulletin(bulletin)
    wait_until(lambda: sink.handler.total() >= 1000, 120, "the first 1,000 messages")
    services.pause_bulletin(bulletin)
    at_pause = sink.handler.total()
    paused_at = time.monotonic()

    # 一時停止中 only once no sender holds a delivery, and that within the 3 s.
    wait_until(lambda: _status(bulletin) == Bulletin.Status.PAUSED, 3, "一時停止中")
    assert _holding() == 0
    assert admin_client.get(progress_url).json()["status_label"] == "一時停止中"
    time.sleep(max(0.0, 3 - (time.monotonic() - paused_at)))
    after_3s = sink.handler.total()
    time.sleep(2)
    assert sink.handler.total() == after_3s, "the sink's count still grows after 3 s"
    # In flight: what each sender had handed on since its last look at the state.
    print(
        f"accepted after the pause: {after_3s - at_pause} (bound {senders} × {settings.MAILING_CHECK_EVERY})"
    )
    assert after_3s - at_pause <= senders * settings.MAILING_CHECK_EVERY
    assert after_3s < 5000

    services.resume_bulletin(Bulletin.objects.get(pk=bulletin.pk))
    wait_until(bulletin_sent(bulletin), 240, "the bulletin to finish")
    accepted = sink.handler.accepted
    assert [a for a in addresses if accepted[a] == 0] == []
    print(f"duplicates after resume: {sink.handler.duplicates()}")
    assert sink.handler.duplicates() <= senders * settings.MAILING_CHECK_EVERY
    assert Delivery.objects.filter(bulletin=bulletin, status=Delivery.Status.SENT).count() == 5000


def _slow_start(settings, tmp_path, sink, processes, mailing_list, *, recipients, **extra):
    """A bulletin under way through a slow relay (0.1 s a message), with every sender holding
    claimed rows it has not sent yet."""
    apply_fast_settings(settings, sink.port)
    contacts = make_contacts(recipients)
    sink.handler.data_delay = 0.1
    purge_queues()
    env = smtp_env(sink.port, MAILING_CHUNK_SIZE="20", **(SLOW_CLAIMS | extra))
    _workers(processes, env)
    _housekeeping(processes, tmp_path, env)
    bulletin = _bulletin(mailing_list)
    services.start_bulletin(bulletin)
    wait_until(lambda: sink.handler.total() >= 3 and _holding() >= 30, 60, "claims in hand")
    return bulletin, contacts, env


def test_it_leaves_a_cancelled_bulletin_cancelled_after_kill_9_of_the_stack(
    settings, tmp_path, sink, processes, all_members_list
):
    bulletin, _contacts, env = _slow_start(
        settings, tmp_path, sink, processes, all_members_list, recipients=120
    )

    services.cancel_bulletin(bulletin)
    _crash(processes)
    held = _holding()
    sent_before = sink.handler.total()
    assert held > 0, "the crash came after the senders had handed their rows back"

    _workers(processes, env, count=1)
    _housekeeping(processes, tmp_path, env)
    restarted = time.monotonic()
    wait_until(lambda: _holding() == 0, 30, "the dead senders' claims to be released")
    released_after = time.monotonic() - restarted

    time.sleep(2)
    assert _status(bulletin) == Bulletin.Status.CANCELLED
    pending = Delivery.objects.filter(bulletin=bulletin, status__in=Delivery.PENDING)
    assert pending.count() == 0
    assert services.bulletin_progress(bulletin).waiting == 0
    assert Delivery.objects.filter(status=Delivery.Status.CANCELLED).count() >= held
    # Nothing was sent after the restart but what the relay had already taken.
    assert sink.handler.total() <= sent_before + 2
    # Far from the 120 s claim timeout: the senders' beats stopped with them.
    assert released_after < 30  # a loaded machine; still far from the 120 s
    assert Sender.objects.count() == 0


def test_it_keeps_a_paused_bulletin_paused_after_kill_9_and_resumes_it_once(
    settings, tmp_path, sink, processes, all_members_list
):
    bulletin, contacts, env = _slow_start(
        settings, tmp_path, sink, processes, all_members_list, recipients=120
    )

    services.pause_bulletin(bulletin)
    _crash(processes)
    held = _holding()
    assert held > 0, "the crash came after the senders had handed their rows back"

    sink.handler.data_delay = 0.0
    _workers(processes, env, count=1)
    _housekeeping(processes, tmp_path, env)
    wait_until(lambda: _status(bulletin) == Bulletin.Status.PAUSED, 30, "一時停止中")
    assert _holding() == 0
    waiting = sink.handler.total()
    time.sleep(2)
    assert sink.handler.total() <= waiting + 2, "a paused bulletin went on sending"
    assert Delivery.objects.filter(status=Delivery.Status.QUEUED).count() >= held

    services.resume_bulletin(Bulletin.objects.get(pk=bulletin.pk))
    wait_until(bulletin_sent(bulletin), 60, "the bulletin to finish")
    accepted = sink.handler.accepted
    assert [c.email for c in contacts if accepted[c.email] == 0] == []
    # At most what each sender had sent since it last recorded (it records before each look
    # at the state) went twice.
    assert sink.handler.duplicates() <= 2 * settings.MAILING_CHECK_EVERY


def test_an_opt_out_or_an_erasure_stops_a_message_already_claimed(
    settings, tmp_path, sink, processes, all_members_list
):
    bulletin, contacts, _env = _slow_start(
        settings, tmp_path, sink, processes, all_members_list, recipients=60
    )
    claimed = list(
        Delivery.objects.filter(bulletin=bulletin, status=Delivery.Status.SENDING)
        .order_by("-pk")
        .values_list("contact_id", flat=True)[:2]
    )
    leaving, erased = (c for c in contacts if c.pk in claimed)

    services.opt_out(all_members_list, leaving, source="link")
    registry.erase_contact(erased)

    wait_until(bulletin_sent(bulletin), 60, "the bulletin to finish")
    accepted = sink.handler.accepted
    assert accepted[leaving.email] == 0 and accepted[erased.email] == 0
    others = [c.email for c in contacts if c.pk not in claimed]
    assert [a for a in others if accepted[a] != 1] == []
    rows = {d.contact_id: d for d in Delivery.objects.filter(contact_id__in=claimed)}
    assert rows[leaving.pk].status == Delivery.Status.SKIPPED
    assert rows[erased.pk].status == Delivery.Status.CANCELLED


def test_a_scheduled_bulletin_starts_on_time_while_every_sender_is_busy(
    settings, tmp_path, sink, processes, all_members_list, kanto_list
):
    from django.utils import timezone

    # Each send task keeps its worker for 60 s: behind one, a start would wait that long.
    busy, _contacts, _env = _slow_start(
        settings,
        tmp_path,
        sink,
        processes,
        all_members_list,
        recipients=400,
        MAILING_DRAIN_SECONDS="60",
    )
    later = services.save_bulletin(None, mailing_list=kanto_list, subject="予約", body="本文")
    at = timezone.now()
    services.schedule_bulletin(later, at=at)

    wait_until(lambda: _status(later) == Bulletin.Status.SENDING, 40, "the scheduled start")
    later.refresh_from_db()
    # Beat looks every second; the start runs beside the sends, not behind them (a loaded
    # machine may take a few seconds more).
    assert later.started_at is not None
    assert (later.started_at - at).total_seconds() < 20
    assert _status(busy) == Bulletin.Status.SENDING and _holding() > 0
