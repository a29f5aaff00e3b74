"""The login as municipality staff use it, walked in Chromium with the Content-Security-Policy
on: ask for a code, read it in the mail the worker sent, resend, a wrong code, the portal,
another municipality's page (403) and a missing one (404), logout. Screenshots of each step
go to the test's folder, or to RENKEI_SCREENSHOTS when set (to look at them)."""

import os
import re
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shots(tmp_path):
    directory = Path(os.environ.get("RENKEI_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)

    def shot(page, name):
        page.screenshot(path=str(directory / f"login-{name}.png"), full_page=True)

    return shot


def _wait_for_code(outbox, email, count):
    deadline = time.monotonic() + 20
    while len(outbox.to(email)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    mails = outbox.to(email)
    assert len(mails) >= count, "no code mail"
    match = re.search(r"確認コード：(\S+)", mails[-1].text)
    assert match, mails[-1].text
    return mails[-1], match.group(1)


def test_a_staff_member_logs_in_with_a_mailed_code_as_staff_use_it(
    page, celery_worker, alice, bob, charlie, outbox, tmp_path
):
    shot = _shots(tmp_path)
    violations = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )

    page.goto("/portal/")
    # Anonymous: the portal sends us to the code request page, in Japanese.
    assert page.get_by_role("heading", level=1).inner_text() == "会員ポータルにログイン"
    assert "メールが届かないときは" in page.locator("main").inner_text()
    shot(page, "1-request")
    page.get_by_label("メールアドレス").fill(alice.email)
    page.get_by_role("button", name="確認コードを受け取る").click()

    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    main = page.locator("main").inner_text()
    expiry = re.search(r"(\d{1,2}時\d{2}分)まで有効", main)
    assert expiry, main
    assert "送信しました" not in main  # it does not claim a mail it may not have sent
    assert page.get_by_role("link", name=re.compile("キャンセル")).get_attribute("href") == (
        "/accounts/login/code/"
    )
    mail, first = _wait_for_code(outbox, alice.email, 1)
    assert mail.text.startswith("東京都江戸川区\n佐藤 美咲 様")
    assert f"{expiry.group(1)}まで有効" in mail.text
    shot(page, "2-confirm")

    page.get_by_role("button", name="コードを再送").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    _mail, second = _wait_for_code(outbox, alice.email, 2)
    assert second != first

    page.get_by_label("確認コード").fill(first)  # the first code no longer works
    page.get_by_role("button", name="ログイン", exact=True).click()
    assert "コードが違います" in page.locator("main").inner_text()
    shot(page, "3-wrong-code")

    page.get_by_label("確認コード").fill(second)
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/m/131237/"))
    assert "東京都江戸川区" in page.get_by_role("heading", level=1).inner_text()
    body = page.locator("main").inner_text()
    assert bob.name in body and "担当者を追加" in body  # alice is the coordinator
    shot(page, "4-portal")

    page.goto("/portal/m/131211/")  # 足立区: another municipality
    assert page.get_by_role("heading", level=1).inner_text() == "このページは表示できません"
    assert "この団体の情報を見る権限がありません" in page.locator("main").inner_text()
    assert charlie.email not in page.content()
    shot(page, "5-forbidden")

    page.goto("/portal/m/999999/")
    assert page.get_by_role("heading", level=1).inner_text() == "ページが見つかりません"
    shot(page, "6-not-found")

    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/"))
    assert "ログアウトしました" in page.locator(".messages").inner_text()
    shot(page, "7-logged-out")
    assert violations == []
