"""A coordinator in Chromium: registers a colleague, finds the copy of the colleague's mail in
her own inbox, and turns the copies off with the keyboard on her municipality's page."""

from __future__ import annotations

import time

import pytest

from .test_accessibility import violations
from .test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_coordinator_gets_a_copy_and_turns_copies_off_with_the_keyboard(
    page, celery_worker, make_training, alice, bob, outbox
):
    training = make_training(title="自殺対策 全体研修会", capacity=30)
    log_in(page, alice, outbox)
    page.goto(f"/trainings/m/131237/{training.pk}/")
    page.get_by_label(bob.name).check()
    page.get_by_role("button", name="選んだ方を申し込む").click()
    page.wait_for_load_state()
    assert f"{bob.name} さんの参加が確定しました" in page.locator(".messages").inner_text()

    deadline = time.monotonic() + 20  # the worker renders the notice and the postbox sends it
    while time.monotonic() < deadline:
        copies = [m for m in outbox.to(alice.email) if m.subject.startswith("【写し】")]
        if copies:
            break
        time.sleep(0.2)
    [copy] = copies
    assert f"{bob.email} 宛てにお送りした研修会のメールの写しです" in copy.text

    page.goto("/portal/m/131237/")
    page.get_by_label("受け取らない").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="写しの設定を保存").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    assert "写しを受け取らないようにしました" in page.locator(".messages").inner_text()
    assert page.get_by_label("受け取らない").is_checked()
    assert violations(page) == []
    alice.refresh_from_db()
    assert alice.receives_training_copies is False
