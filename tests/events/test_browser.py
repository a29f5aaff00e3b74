"""A staff member in Chromium: logs in, registers, waits, is promoted and reads the mail."""

import re

import pytest

from events import services
from events.models import Registration

from ..login_code import code_mails, newest_login_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, contact, outbox):
    known = len(code_mails(outbox, contact.email))
    page.goto("/trainings/")
    page.get_by_label("メールアドレス").fill(contact.email)
    page.get_by_role("button", name="確認コードを受け取る").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    page.get_by_label("確認コード").fill(newest_login_code(outbox, contact.email, after=known))
    page.get_by_role("button", name="ログイン", exact=True).click()


def test_a_staff_member_registers_waits_and_is_promoted_after_a_cancellation(
    page, celery_worker, make_training, bob, charlie, outbox
):
    open_one = make_training(title="自殺対策 全体研修会", capacity=5)
    full_one = make_training(title="関東ブロック研修会", capacity=1)
    seat = services.register_for_training(full_one, contact=charlie)
    page.set_viewport_size({"width": 375, "height": 800})

    log_in(page, bob, outbox)
    page.wait_for_url(re.compile(r"/trainings/m/131237/$"))
    assert "残り 5 席" in page.locator("main").inner_text()
    assert "満席" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Register for the open training with the keyboard only.
    page.get_by_role("link", name=open_one.title).click()
    page.get_by_role("button", name="自分を申し込む").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "参加が確定しました" in page.locator(".messages").inner_text()
    assert "https://meet.example.jp/renkei-2026" in page.locator("main").inner_text()

    # The full one puts bob on the waiting list, and keeps the online URL from him.
    page.goto(f"/trainings/m/131237/{full_one.pk}/")
    page.get_by_role("button", name="自分を申し込む").click()
    page.wait_for_load_state()
    assert "キャンセル待ち（1番目）" in page.locator(".messages").inner_text()
    assert "キャンセル待ち 1 番目" in page.locator("main").inner_text()
    assert "meet.example.jp" not in page.content()

    # 足立区 cancels; the worker promotes bob and mails him.
    services.cancel_registration(seat, actor=charlie)
    waiting = Registration.objects.get(training=full_one, contact=bob)
    celery_worker.wait_for(lambda: Registration.objects.get(pk=waiting.pk).is_confirmed)
    celery_worker.wait_for(lambda: any("繰り上げ" in m.subject for m in outbox.to(bob.email)))

    page.reload()
    assert "参加確定" in page.locator("main").inner_text()
    assert "https://meet.example.jp/renkei-2026" in page.locator("main").inner_text()
    mail = next(m for m in outbox.to(bob.email) if "繰り上げ" in m.subject)
    assert full_one.title in mail.subject
    assert "東京都江戸川区\nご担当者様\n" in mail.text  # nothing typed in the portal
    assert "\nhttps://meet.example.jp/renkei-2026\n" in mail.text
    assert f"\nhttp://localhost:8000/trainings/m/131237/{full_one.pk}/\n" in mail.text


def test_a_coordinator_ticks_two_colleagues_and_adds_a_third_with_the_keyboard(
    page, celery_worker, make_training, alice, bob, outbox
):
    from association import services as association

    dave = association.add_contact(
        alice.member, name="田中 一郎", email="dave@city.edogawa.example.jp"
    )
    training = make_training(title="自殺対策 全体研修会", capacity=30)
    log_in(page, alice, outbox)
    page.goto(f"/trainings/m/131237/{training.pk}/")
    assert "受付中" in page.locator(".phase").inner_text()

    page.get_by_label(bob.name).check()
    page.get_by_label(dave.name).check()
    page.get_by_label("氏名").fill("山田 花子")
    page.get_by_label("メールアドレス").fill("hanako@city.edogawa.example.jp")
    page.screenshot(path="/work/brief/shots/trainings/coordinator-form.png", full_page=True)
    page.get_by_role("button", name="選んだ方を申し込む").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    done = page.locator(".messages").inner_text()
    for name in (bob.name, dave.name, "山田 花子"):
        assert f"{name} さんの参加が確定しました" in done
    page.screenshot(path="/work/brief/shots/trainings/coordinator-registered.png", full_page=True)
    assert Registration.objects.filter(training=training).count() == 3
