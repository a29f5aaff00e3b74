"""In Chromium: the secretariat finds the mail that could not be sent from the admin's home,
reads why, and opens one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from association import services as association
from association.demo import SECRETARIAT_USERNAME, load_demo_data, secretariat_password
from association.models import Contact, User
from postbox import services

from ..door import second_factor_device, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    keep = os.environ.get("RENKEI_SCREENSHOTS")  # a folder to look at them afterwards
    if keep:
        page.screenshot(path=str(Path(keep) / f"postbox-{name}.png"), full_page=True)


def test_the_secretariat_sees_which_mail_failed_and_why(page, registry, smtp, tmp_path):
    load_demo_data()
    sato = Contact.objects.get(email="m-sato@city.edogawa.example.jp")
    successor = association.hand_over_contact(
        sato, name="田中 翔", kana="たなか しょう", email="sho.tanaka@city.edogawa.example.jp"
    )
    smtp.handler.always[successor.email] = f"550 5.1.1 <{successor.email}>: User unknown"
    services.send_due_mail()

    device = second_factor_device(User.objects.get(username=SECRETARIAT_USERNAME))
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(SECRETARIAT_USERNAME)
    page.locator("#id_password").fill(secretariat_password())
    page.locator("#id_otp_token").fill(totp_code(device))
    page.locator("input[type=submit]").click()
    page.get_by_role("link", name="送信できなかったメール").first.click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("送信できなかったメール")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("担当者変更のお知らせ")
    expect(row).to_contain_text(successor.email)
    expect(row).to_contain_text("宛先のメールサーバーがこのアドレスを受け付けませんでした")
    _shot(page, tmp_path, "failed-list")

    row.locator("th a").click()
    main = page.locator("#content")
    expect(main).to_contain_text("550 5.1.1")
    expect(main).to_contain_text(
        "ご担当者様"
    )  # the welcome names no one (nothing typed in the portal)
    _shot(page, tmp_path, "failed-detail")
