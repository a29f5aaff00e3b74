"""In Chromium: the secretariat logs in to the day's work, opens the 年度 report from it,
narrows it to a block and downloads that as Excel; the sending bulletin's progress is live."""

from __future__ import annotations

import io
import os
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

from association.demo import SECRETARIAT_USERNAME, load_demo_data, secretariat_password
from association.models import Block, User
from association.nendo import nendo_label, nendo_of
from mailing import services as mailing
from mailing.models import MailingList

from ..door import second_factor_device, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    keep = os.environ.get("RENKEI_SCREENSHOTS")  # a folder to look at them afterwards
    if keep:
        page.screenshot(path=str(Path(keep) / f"office-{name}.png"), full_page=True)


def test_the_secretariat_goes_from_the_days_work_to_the_nendo_report(page, registry, tmp_path):
    load_demo_data()
    the_list = MailingList.objects.create(name="全会員", slug="all-members", all_members=True)
    bulletin = mailing.save_bulletin(None, mailing_list=the_list, subject="今日の会報", body="本文")
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)

    device = second_factor_device(User.objects.get(username=SECRETARIAT_USERNAME))
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(SECRETARIAT_USERNAME)
    page.locator("#id_password").fill(secretariat_password())
    page.locator("#id_otp_token").fill(totp_code(device))
    page.locator("input[type=submit]").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("今日の仕事")
    expect(page.get_by_role("heading", name="メールの送信")).to_be_visible()
    expect(page.get_by_role("heading", name="研修会", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="会員名簿", exact=True)).to_be_visible()
    row = page.locator("tr", has_text="今日の会報")
    expect(row).to_contain_text("送信中")
    # The progress cell is filled in from the bulletin's progress endpoint.
    expect(row.locator("[data-progress-url]")).to_contain_text(" / ")
    expect(page.get_by_role("link", name="会員団体").first).to_be_visible()  # model lists
    _shot(page, tmp_path, "dashboard")

    label = nendo_label(nendo_of())
    page.get_by_role("link", name=f"{label}の報告（研修参加・会報配信）").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{label}の報告")
    expect(page.locator("svg.chart")).to_be_visible()
    kanto = Block.objects.get(name="関東")
    page.get_by_label("ブロック", exact=True).select_option(str(kanto.pk))
    page.get_by_role("button", name="表示する").click()
    expect(page.get_by_label("ブロック", exact=True)).to_have_value(str(kanto.pk))
    _shot(page, tmp_path, "report")
    with page.expect_download() as download:
        page.get_by_role("link", name="この条件でExcelに書き出す").click()
    path = download.value.path()
    assert download.value.suggested_filename == f"{label}報告_関東.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(path).read_bytes()))
    blocks = [row[3].value for row in book["会員別"].iter_rows(min_row=2)]
    assert blocks and set(blocks) == {"関東"}


def test_the_secretariat_downloads_a_trainings_attendance_sheet(page, registry, tmp_path):
    import datetime as dt

    from django.utils import timezone
    from pypdf import PdfReader

    from association.models import Contact
    from events import services as events
    from events.models import Training

    load_demo_data()
    start = (timezone.localtime() + dt.timedelta(days=40)).replace(hour=13, minute=30, second=0)
    training = events.save_training(
        Training(
            kind=Training.Kind.NATIONAL,
            title="全体研修会（出欠表の確認）",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=3),
            capacity=50,
            per_member_limit=5,
            status=Training.Status.PUBLISHED,
        )
    )
    people = list(Contact.objects.active().order_by("pk")[:3])
    for contact in people:
        events.register_for_training(training, contact=contact)

    device = second_factor_device(User.objects.get(username=SECRETARIAT_USERNAME))
    page.goto(f"/admin/login/?next=/admin/events/training/{training.pk}/change/")
    page.locator("#id_username").fill(SECRETARIAT_USERNAME)
    page.locator("#id_password").fill(secretariat_password())
    page.locator("#id_otp_token").fill(totp_code(device))
    page.locator("input[type=submit]").click()
    expect(page.get_by_role("link", name="出欠表（PDF）")).to_be_visible()
    _shot(page, tmp_path, "training-papers")
    # WeasyPrint lays the PDF out before the download starts: seconds on a busy machine.
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("link", name="出欠表（PDF）").click(timeout=60_000)
    assert download.value.suggested_filename == "出欠表_全体研修会（出欠表の確認）.pdf"
    reader = PdfReader(download.value.path())
    text = "".join(p.extract_text() for p in reader.pages)
    assert all(contact.name in text for contact in people)
    assert "1 / 1 ページ" in text
