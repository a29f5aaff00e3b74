"""In Chromium: after a bulletin, the provider reports a hard bounce for one recipient and a
soft one for another; the secretariat reads in the report which failed and which only had a
temporary error, and opens the deliveries with 一時的エラー."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect

from association.models import User

from ..door import second_factor_device, totp_code
from .provider_events import (
    post,
    postmark_bounce,
    receive_events_from,
    record_provider_id,
    send_bulletin,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple 8"


def _shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    keep = os.environ.get("RENKEI_SCREENSHOTS")  # a folder to look at them afterwards
    if keep:
        page.screenshot(path=str(Path(keep) / f"events-{name}.png"), full_page=True)


def test_the_report_tells_a_hard_bounce_from_a_temporary_error(
    page, settings, all_members_list, alice, charlie, tmp_path
):
    deliveries = {d.email: d for d in send_bulletin(all_members_list)}
    receive_events_from(settings, "postmark")
    hard = postmark_bounce(alice.email, message_id="pm-alice", event_id=1)
    soft = postmark_bounce(charlie.email, kind="SoftBounce", message_id="pm-charlie", event_id=2)
    for address, event in ((alice.email, hard), (charlie.email, soft)):
        record_provider_id(deliveries[address], event)
        assert post(Client(), event).status_code == 200

    root = User.objects.create_superuser("root", "root@npo.example.jp", PASSWORD)
    device = second_factor_device(root)
    bulletin_id = deliveries[alice.email].bulletin_id
    page.goto(f"/admin/login/?next=/admin/mailing/bulletin/{bulletin_id}/change/")
    page.locator("#id_username").fill("root")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_otp_token").fill(totp_code(device))
    page.locator("input[type=submit]").click()

    report = page.locator("#bulletin-report")
    expect(report).to_contain_text("失敗・不達 1 件")
    expect(report).to_contain_text(alice.email)
    expect(report.locator("#temporary")).to_have_text("一時的エラー 1 件")
    expect(report).to_contain_text("配信停止にはしていません")
    _shot(page, tmp_path, "report")

    report.get_by_role("link", name="一時的エラーのあった配信先を見る").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(charlie.email)
    expect(rows).to_contain_text("送信済み")
    expect(rows).to_contain_text("あり（1回）")
    _shot(page, tmp_path, "deliveries")
