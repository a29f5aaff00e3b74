import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_staff_member_logs_in_with_a_mailed_code_and_sees_the_portal(
    page, celery_worker, alice, bob, outbox
):
    page.goto("/portal/")
    # Anonymous: the portal sends us to the code request page.
    page.get_by_label("メールアドレス").fill(alice.email)
    page.get_by_role("button", name="コードを要求").click()

    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    # The page answered before the mail went: a real worker sends it through the postbox.
    celery_worker.wait_for(lambda: bool(outbox.to(alice.email)))
    mail = outbox.to(alice.email)[-1]
    match = re.search(r"確認コード：(\S+)", mail.text)
    assert match, mail.text
    code = match.group(1)
    page.get_by_label("コード").fill(code)
    page.get_by_role("button", name="確認する").click()

    page.wait_for_url(re.compile(r"/portal/m/131237/"))
    heading = page.get_by_role("heading", level=1)
    assert "東京都江戸川区" in heading.inner_text()
    body = page.locator("main").inner_text()
    assert bob.name in body
    assert "担当者を追加" in body  # alice is the coordinator
