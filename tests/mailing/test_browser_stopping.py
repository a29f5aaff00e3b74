"""In Chromium, with real workers and the local SMTP sink: a relay that refuses the sender
address makes the test send say so, the bulletin stops by itself after its first deliveries
and every admin page shows it; once fixed, 失敗した宛先に再送 goes on; 一時停止 shows
一時停止中 once the worker has stopped, and 再開 finishes the bulletin, everyone once.
Screenshots go to $SHOTS_DIR when it is set."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from mailing import audience, services
from mailing.models import Bulletin, Delivery

from ..workers import WorkerProcess, purge_queues
from .helpers import smtp_env, wait_until
from .sink import Sink
from .test_browser_bulletin import _log_in_to_the_admin

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _shot(page, name: str) -> None:
    folder = os.environ.get("SHOTS_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def sink():
    with Sink() as running:
        yield running


@pytest.fixture
def workers(sink):
    purge_queues()
    env: dict[str, Any] = smtp_env(sink.port, MAILING_SENDERS="1", MAILING_CHUNK_SIZE="10")
    started = [
        WorkerProcess(queues=("bulletins",), **env),
        WorkerProcess(queues=("transactional", "default"), **env),
    ]
    try:
        for worker in started:
            worker.wait_ready()
        yield started
    finally:
        for worker in started:
            worker.stop()


def test_a_refused_sender_stops_the_bulletin_visibly_and_it_resumes_once_fixed(
    page,
    partners_list,
    sink,
    workers,
):
    recipients = audience.recipients(partners_list).count()
    bulletin = services.save_bulletin(
        None,
        mailing_list=partners_list,
        subject="全体研修会のご案内",
        body="{{ 団体名 }} {{ 氏名 }} 様\n\n令和8年度 全体研修会のご案内です。",
    )
    sink.handler.refuse_mail = "553 5.7.1 Sender address rejected: not owned by user"
    _log_in_to_the_admin(page, f"/admin/mailing/bulletin/{bulletin.pk}/change/")
    page.wait_for_url(re.compile(r"/change/"))

    # The test send says what the relay said, in Japanese, once the worker knows.
    page.get_by_role("button", name=re.compile("自分にテスト送信")).click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("送れませんでした", timeout=30_000)
    expect(result).to_contain_text("送信元アドレスを拒否しました（553 5.7.1")
    _shot(page, "1-test-send-refused")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="今すぐ送信").click()
    progress = page.locator("#bulletin-progress")
    expect(progress.locator("[data-field=status_label]")).to_have_text(
        "エラーで停止", timeout=60_000
    )
    stopped = page.locator("#bulletin-stopped")
    expect(stopped).to_contain_text("553 5.7.1")
    expect(page.locator("#stopped-bulletins")).to_contain_text("全体研修会のご案内")
    _shot(page, "2-stopped-by-itself")
    assert sink.handler.total() == 0
    page.goto("/admin/")
    expect(page.locator("#stopped-bulletins")).to_contain_text("送信エラーで止まった配信があります")
    _shot(page, "3-banner-on-the-admin-home")

    # Fixed: a test send goes through, then the failed and waiting deliveries go, slowly
    # enough to pause on the way.
    sink.handler.refuse_mail = ""
    sink.handler.data_delay = 0.15
    page.locator("#stopped-bulletins a").click()
    page.get_by_role("button", name=re.compile("自分にテスト送信")).first.click()
    expect(page.locator("#test-result")).to_contain_text("配信業者が受け付けました", timeout=30_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="失敗した宛先に再送").click()
    expect(page.locator(".messagelist")).to_contain_text("件と、まだ送っていない宛先への送信")
    wait_until(lambda: sink.handler.total() >= 5, 30, "the first messages after the fix")

    page.get_by_role("button", name="一時停止").click()
    expect(progress.locator("[data-field=status_label]")).to_have_text("一時停止中", timeout=15_000)
    assert Delivery.objects.filter(bulletin=bulletin, status=Delivery.Status.SENDING).count() == 0
    expect(page.get_by_role("button", name="再開")).to_be_visible()
    _shot(page, "4-paused")
    held = sink.handler.total()
    assert 0 < held < recipients

    sink.handler.data_delay = 0.0
    page.get_by_role("button", name="再開").click()
    expect(progress.locator("[data-field=status_label]")).to_have_text("送信済み", timeout=60_000)
    expect(page.locator("#bulletin-report")).to_be_visible()
    _shot(page, "5-sent-after-resume")
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SENT
    # The secretariat's own test copies came through the same relay.
    everyone = [c.email for c in audience.recipients(partners_list)]
    assert [a for a in everyone if sink.handler.accepted[a] != 1] == []
    expect(page.locator("#stopped-bulletins")).to_have_count(0)
