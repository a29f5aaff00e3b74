"""In Chromium, as municipality staff: the bulletin archive found by the katakana or half-width
spelling of a word (published 照会 results beside it), and the 参加履歴 from the portal home
with a certificate from four 年度 ago; both pages with zero WCAG 2.0/2.1 A and AA violations
(axe-core) at 1280 and 375 px. Screenshots go to the test's folder, or to RENKEI_SCREENSHOTS."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from events import services as events
from events.models import Registration, Training
from inquiries import services as inquiries
from inquiries.models import Inquiry
from mailing import services as mailing
from mailing.models import MailingList
from tests.events.test_accessibility import violations
from tests.inquiries.conftest import add_questions, working_day_after

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, contact, outbox) -> None:  # type: ignore[no-untyped-def]
    """As tests.events.test_browser.log_in, but picking the code mail out of the others the
    worker is still sending to the same address (the 照会's, the bulletin's)."""
    page.goto("/portal/")
    page.get_by_label("メールアドレス").fill(contact.email)
    page.get_by_role("button", name="確認コードを受け取る").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    deadline = time.monotonic() + 30
    code = None
    while code is None and time.monotonic() < deadline:
        found = [re.search(r"確認コード：(\S+)", m.text) for m in outbox.to(contact.email)]
        code = next((m.group(1) for m in reversed(found) if m), None)
        time.sleep(0.1)
    assert code is not None
    page.get_by_label("確認コード").fill(code)
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/"))


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    keep = os.environ.get("RENKEI_SCREENSHOTS")  # a folder to look at them afterwards
    if keep:
        page.screenshot(path=str(Path(keep) / f"portal-{name}.png"), full_page=True)


@pytest.fixture
def portal_world(alice, bob, charlie, kanto_list):
    """A sent bulletin on 関東, a published 照会 result, and trainings four 年度 ago and last
    年度 that 江戸川区's staff attended."""
    bulletin = mailing.save_bulletin(
        None,
        mailing_list=kanto_list,
        subject="ゲートキーパー養成研修のご案内",
        body="髙橋講師による講演です。\n\n会場はさいたま市です。",
    )
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)
    while mailing.drain_bulletin(bulletin.pk):
        pass
    inquiry = inquiries.save_inquiry(
        Inquiry(
            title="令和8年度 自殺対策計画の策定状況について",
            purpose="総会資料にまとめるため",
            body="ご回答をお願いします。",
            all_members=True,
            deadline=working_day_after(14),
        )
    )
    add_questions(inquiry.question_set)
    inquiry = inquiries.send_inquiry(inquiry)
    inquiry.published = True
    inquiries.save_inquiry(inquiry)
    zone = timezone.get_current_timezone()
    for title, start in [
        ("令和4年度 全体研修会", dt.datetime(2022, 7, 8, 13, 30, tzinfo=zone)),
        ("令和7年度 関東ブロック研修会", dt.datetime(2025, 11, 20, 13, 0, tzinfo=zone)),
    ]:
        training = events.save_training(
            Training(
                kind=Training.Kind.NATIONAL,
                title=title,
                starts_at=start,
                ends_at=start + dt.timedelta(hours=3),
                capacity=50,
                per_member_limit=10,
                status=Training.Status.PUBLISHED,
            )
        )
        before = start - dt.timedelta(days=30)
        rows = [
            events.register_for_training(training, contact=c, now=before)
            for c in (alice, bob, charlie)
        ]
        events.mark_attendance(
            rows, attendance=Registration.Attendance.ATTENDED, now=training.ends_at
        )
    return {"bulletin": bulletin, "inquiry": inquiry}


@pytest.fixture
def kanto_list(registry) -> MailingList:
    from association.models import Block

    mailing_list = MailingList.objects.create(name="関東ブロック", slug="kanto")
    mailing_list.blocks.add(Block.objects.get(name="関東"))
    return mailing_list


def test_staff_search_the_archive_and_take_an_old_certificate_from_their_history(
    page, celery_worker, portal_world, bob, outbox, tmp_path
):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, bob, outbox)
    page.goto("/mail/archive/")
    page.get_by_label("キーワード").fill("ｹﾞｰﾄｷｰﾊﾟｰ 高橋")  # half-width kana; 髙 in the text
    page.get_by_role("button", name="検索").click()
    main = page.locator("main")
    expect(main.get_by_role("link", name="ゲートキーパー養成研修のご案内")).to_be_visible()
    _shot(page, tmp_path, "archive-search")
    page.get_by_label("キーワード").fill("")
    page.get_by_role("button", name="検索").click()
    expect(main.get_by_role("heading", name="照会の集計結果")).to_be_visible()
    expect(main.get_by_role("link", name=portal_world["inquiry"].title, exact=True)).to_be_visible()
    _shot(page, tmp_path, "archive-with-results")

    page.goto("/portal/m/131237/")
    page.get_by_role("link", name="参加履歴と参加証明書").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("参加履歴")
    expect(main.get_by_role("heading", name="令和4年度")).to_be_visible()
    expect(main).not_to_contain_text("佐藤 美咲")  # a plain staff member sees their own only
    _shot(page, tmp_path, "history-staff")
    old = main.locator("tr", has_text="令和4年度 全体研修会")
    with page.expect_download() as download:
        old.get_by_role("link", name="参加証明書（PDF）").click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("width", [1280, 375])
def test_the_archive_and_history_pages_have_no_wcag_aa_violations(
    page, celery_worker, portal_world, alice, outbox, tmp_path, width
):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, alice, outbox)  # a coordinator: the history has a column more
    found = {}
    for name, path in [
        ("archive", "/mail/archive/"),
        ("archive-search", "/mail/archive/?q=%E3%82%B2%E3%83%BC%E3%83%88"),
        ("archive-nothing", "/mail/archive/?q=%E8%A9%B2%E5%BD%93%E3%81%AA%E3%81%97"),
        ("history", "/papers/m/131237/history/"),
    ]:
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        found[name] = violations(page)
        _shot(page, tmp_path, f"{name}-{width}")
    assert found == {k: [] for k in found}
