"""JIS X 8341-3:2016 AA on the portal's own doors: the login (asking for a code, typing it),
the portal home, the mail preferences and the unsubscribe link (before and after pressing the
button), in real Chromium with the pinned axe-core, at a desktop and a phone width."""

from __future__ import annotations

import re

import pytest

from mailing.models import MailingList
from mailing.tokens import link_tokens
from tests.events.test_accessibility import violations
from tests.login_code import newest_login_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 375])
def test_the_portal_pages_have_no_wcag_aa_violations(
    page, celery_worker, registry, alice, bob, outbox, width
):
    mailing_list = MailingList.objects.create(
        name="全会員",
        slug="all",
        all_members=True,
        description="会員団体の担当者全員への配信です。",
    )
    token = link_tokens(mailing_list.pk, [alice.email])[alice.email]
    page.set_viewport_size({"width": width, "height": 900})
    found = {}

    page.goto("/portal/")
    page.wait_for_url(re.compile(r"/accounts/login/code/"))
    found["login: ask for a code"] = violations(page)
    page.get_by_label("メールアドレス").fill(alice.email)
    page.get_by_role("button", name="確認コードを受け取る").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    found["login: type the code"] = violations(page)
    page.get_by_label("確認コード").fill("WRONG1")
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_load_state()
    found["login: a wrong code"] = violations(page)

    page.get_by_label("確認コード").fill(newest_login_code(outbox, alice.email))
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/|/trainings/"))

    page.goto("/portal/")
    found["portal home"] = violations(page)
    page.goto("/portal/m/131237/")
    found["member home"] = violations(page)
    page.goto("/mail/preferences/")
    found["mail preferences"] = violations(page)

    page.goto(f"/u/{token}")
    assert page.locator("#state").get_attribute("data-state") == "subscribed"
    found["unsubscribe: confirm"] = violations(page)
    page.get_by_role("button", name="配信を停止する").click()
    page.wait_for_load_state()
    assert page.locator("#state").get_attribute("data-state") == "opted-out"
    found["unsubscribe: done"] = violations(page)

    assert found == {k: [] for k in found}
