"""With the Content-Security-Policy on (every environment runs it), the admin and the compose
page's scripts still work in Chromium, and the browser reports no violation."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from association.models import User
from mailing.models import MailingList
from tests.door import second_factor_device, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_admin_and_the_compose_page_work_under_the_csp(page, registry, alice, tmp_path):
    shots = Path(os.environ.get("RENKEI_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    MailingList.objects.create(name="全会員", slug="all", subject_prefix="【市区町村会】")
    root = User.objects.create_superuser("root", "root@npo.example.jp", "x-long-passphrase-7")
    device = second_factor_device(root)
    problems = []
    # Resource failures are counted by their responses (the browser's own favicon.ico probe
    # is no page's doing); every other console error, CSP reports included, is a problem.
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if (msg.type == "error" and "Failed to load resource" not in msg.text)
            or "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    response = page.goto("/admin/login/?next=/admin/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    page.locator("#id_username").fill("root")
    page.locator("#id_password").fill("x-long-passphrase-7")
    page.locator("#id_otp_token").fill(totp_code(device))
    page.screenshot(path=str(shots / "admin-1-login.png"))
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/$"))

    # The changelist's action bar is the admin's own script (actions.js).
    page.goto("/admin/association/contact/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("1")
    page.screenshot(path=str(shots / "admin-2-changelist.png"))

    # The compose page: the full subject with the list's prefix follows what is typed.
    page.goto("/admin/mailing/bulletin/add/")
    page.get_by_label("件名").fill("研修会のご案内")
    expect(page.locator("#full-subject")).to_have_text("【市区町村会】研修会のご案内")
    page.screenshot(path=str(shots / "admin-3-compose.png"))
    assert problems == []


def test_a_new_secretariat_member_sets_up_the_app_at_first_login_and_gets_in(page, db, tmp_path):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    shots = Path(os.environ.get("RENKEI_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    clerk = User.objects.create_user(
        "clerk", "clerk@npo.example.jp", "x-long-passphrase-7", is_staff=True
    )
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill("clerk")
    page.locator("#id_password").fill("x-long-passphrase-7")
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/enrol/$"))
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert len(secret) == 32
    page.screenshot(path=str(shots / "admin-4-enrol.png"), full_page=True)
    device = TOTPDevice.objects.get(user=clerk, confirmed=False)
    page.get_by_label("認証アプリに表示された6桁の数字").fill(totp_code(device))
    page.get_by_role("button", name="設定する").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.screenshot(path=str(shots / "admin-5-recovery-codes.png"), full_page=True)
    page.get_by_role("link", name="控えました。管理画面へ進む").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    assert "サイト管理" in page.content() or "管理メニュー" in page.content()
