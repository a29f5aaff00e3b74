"""In Chromium: the secretariat composes a bulletin in the admin, previews it, sends it to the
demo partner municipalities through a real Celery worker, watches the progress bar reach the
end, and one recipient unsubscribes by the link in the mail taken from the outbox."""

import re

import pytest
from playwright.sync_api import expect

from association.demo import (
    DEMO_COORDINATOR_EMAIL,
    SECRETARIAT_USERNAME,
    secretariat_password,
)
from association.models import Contact, User
from mailing import audience
from mailing.models import Bulletin, Subscription
from tests.door import second_factor_device, totp_code

from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BODY = """{{ 団体名 }} {{ 氏名 }} 様

令和8年度 全体研修会の資料を掲載しました。

- 日時: 令和8年5月20日（水）13:30〜
- 資料: https://renkei.example.jp/files/2026-zentai.pdf
"""


@pytest.fixture
def slow_worker(request, monkeypatch):
    """The real worker, held to 10 messages a second so that the bar has time to move."""
    monkeypatch.setenv("MAILING_RATE_PER_SECOND", "10")
    return request.getfixturevalue("celery_worker")


def _log_in_to_the_admin(page, next_path):
    device = second_factor_device(User.objects.get(username=SECRETARIAT_USERNAME))
    page.goto(f"/admin/login/?next={next_path}")
    page.locator("#id_username").fill(SECRETARIAT_USERNAME)
    page.locator("#id_password").fill(secretariat_password())
    page.locator("#id_otp_token").fill(totp_code(device))
    page.locator("input[type=submit]").click()


def test_the_secretariat_sends_a_bulletin_and_a_recipient_unsubscribes_by_the_mailed_link(
    page, partners_list, slow_worker, outbox
):
    secretariat = User.objects.get(username=SECRETARIAT_USERNAME)
    recipients = audience.recipients(partners_list).count()
    assert recipients > 40
    _log_in_to_the_admin(page, "/admin/mailing/bulletin/add/")

    # Compose: the list is the only one, so it is chosen; the prefix shows as we type, and
    # the draft saves itself.
    page.wait_for_url(re.compile(r"/admin/mailing/bulletin/add/"))
    page.get_by_label("件名").fill("全体研修会の資料について")
    expect(page.locator("#full-subject")).to_have_text("【市区町村会】全体研修会の資料について")
    page.get_by_label("本文（Markdown）").fill(BODY)
    expect(page.locator("#autosave-status")).to_contain_text(
        "下書きを自動保存しました", timeout=20_000
    )
    page.wait_for_url(re.compile(r"/admin/mailing/bulletin/\d+/change/"))
    wait_until(lambda: Bulletin.objects.filter(body=BODY).exists(), 15, "the body autosaved")
    assert Bulletin.objects.count() == 1

    # Preview as a chosen recipient: text and HTML side by side.
    page.get_by_role("button", name="保存してプレビュー").click()
    page.wait_for_url(re.compile(r"/preview/"))
    sato = Contact.objects.get(email=DEMO_COORDINATOR_EMAIL)
    page.get_by_label("この宛先として表示").select_option(str(sato.pk))
    page.get_by_role("button", name="表示").click()
    text = page.locator("#preview-text")
    expect(text).to_contain_text("東京都江戸川区 佐藤 美咲 様")
    expect(text).to_contain_text("https://renkei.example.jp/files/2026-zentai.pdf")
    html_part = page.frame_locator("#preview-html").locator("body")
    expect(html_part).to_contain_text("全体研修会の資料を掲載しました。")

    # A test copy to oneself.
    page.get_by_role("button", name=re.compile("自分にテスト送信")).click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"テスト送信を依頼しました（宛先: {secretariat.email}）"
    )
    # Success is said only once the worker's transport has handed it over.
    expect(page.locator("#test-result")).to_contain_text("配信業者が受け付けました")

    # Send now (after the confirm dialog), then watch the bar reach the end.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="今すぐ送信").click()
    expect(page.locator(".messagelist")).to_contain_text("送信を開始しました。")
    progress = page.locator("#bulletin-progress")
    page.wait_for_function(
        """() => {
            const count = (f) => +document.querySelector(`#bulletin-progress [data-field=${f}]`).textContent;
            return count("sent") > 0 && count("queued") > 0;
        }""",
        timeout=30_000,
    )  # part-way: some sent, some still waiting
    expect(progress.locator("[data-field=status_label]")).to_have_text("送信済み", timeout=60_000)
    expect(progress.locator("[data-field=sent]")).to_have_text(str(recipients))
    expect(progress.locator("[data-field=queued]")).to_have_text("0")
    expect(progress.locator("[data-part=sent]")).to_have_attribute(
        "style", re.compile("width: 100%")
    )
    report = page.locator("#bulletin-report")
    expect(report).to_contain_text("宛先のあったすべての会員団体に届きました。")

    test_copy = [m for m in outbox.to(secretariat.email) if "【テスト送信】" in m.subject]
    assert len(test_copy) == 1

    # One recipient unsubscribes with the link printed in the plain text of her mail.
    mail = [m for m in outbox.to(DEMO_COORDINATOR_EMAIL) if "テスト送信" not in m.subject][-1]
    # (Django folds a long encoded Subject after "Subject:", which the parser keeps as a space.)
    assert mail.subject.strip() == "【市区町村会】全体研修会の資料について"
    lines = mail.text.splitlines()
    link = lines[lines.index("配信を停止するには、次のページを開いてください（ログイン不要）:") + 1]
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    expect(page.locator("main")).to_contain_text("メーリングリスト「連携自治体」")
    page.get_by_role("button", name="配信を停止する").click()
    expect(page.locator(".messages")).to_contain_text("配信を停止しました。")
    expect(page.get_by_role("button", name="配信を再開する")).to_be_visible()

    subscription = Subscription.objects.get(contact=sato, mailing_list=partners_list)
    assert subscription.status == Subscription.Status.OPTED_OUT
    assert subscription.source == Subscription.Source.LINK
    assert sato not in audience.recipients(partners_list)


def test_a_draft_the_server_refuses_is_kept_in_the_browser_and_offered_back(page, partners_list):
    _log_in_to_the_admin(page, "/admin/mailing/bulletin/add/")
    page.wait_for_url(re.compile(r"/admin/mailing/bulletin/add/"))
    page.get_by_label("件名").fill("下書き")
    page.get_by_label("本文（Markdown）").fill("最初の段落")
    page.get_by_label("本文（Markdown）").blur()
    expect(page.locator("#autosave-status")).to_contain_text("下書きを自動保存しました")
    page.wait_for_url(re.compile(r"/admin/mailing/bulletin/\d+/change/"))
    wait_until(lambda: Bulletin.objects.filter(body="最初の段落").exists(), 15, "the autosave")

    # An unknown placeholder: the service refuses it, the page says why, the browser keeps it.
    page.get_by_label("本文（Markdown）").fill("最初の段落\n\n{{ 住所 }} あての続き")
    page.get_by_label("本文（Markdown）").blur()
    expect(page.locator("#autosave-status")).to_contain_text("使えない差し込み項目があります")
    assert Bulletin.objects.get().body == "最初の段落"

    page.reload()
    expect(page.get_by_label("本文（Markdown）")).to_have_value("最初の段落")
    page.get_by_role("button", name="保存されていない入力を復元").click()
    expect(page.get_by_label("本文（Markdown）")).to_have_value(
        "最初の段落\n\n{{ 住所 }} あての続き"
    )


def test_send_now_refuses_to_act_on_an_older_copy_than_the_one_on_screen(page, partners_list):
    _log_in_to_the_admin(page, "/admin/mailing/bulletin/add/")
    page.get_by_label("件名").fill("お知らせ")
    page.get_by_label("本文（Markdown）").fill("正しい本文")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("下書きを保存しました。")

    page.get_by_label("本文（Markdown）").fill("{{ 口座番号 }} をお知らせください")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="今すぐ送信").click()

    expect(page.locator("#autosave-status")).to_contain_text("使えない差し込み項目があります")
    bulletin = Bulletin.objects.get()
    assert bulletin.status == Bulletin.Status.DRAFT
    assert bulletin.body == "正しい本文"
