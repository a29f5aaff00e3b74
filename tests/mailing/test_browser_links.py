"""In Chromium: a recipient types the short link from a bulletin (/u/<token>), sees which list
and address it is about, stops the list with one button, and the page then says it is stopped
(and offers to resume). Screenshots under /work/brief/shots/message/ when that folder exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mailing import services
from mailing.models import MailingList, Subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/brief/shots/message")
LIST_NAME = "令和8年度 自殺対策ブロック別研修会（中部・北陸）参加者連絡用"


def _shot(page, name: str) -> None:
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / name), full_page=True)


def test_a_recipient_stops_a_list_from_the_short_link_typed_by_hand(page, registry, alice, outbox):
    mailing_list = MailingList.objects.create(name=LIST_NAME, slug="chubu-2026", all_members=True)
    bulletin = services.save_bulletin(
        None, mailing_list=mailing_list, subject='🎉「研修会」"ご案内"', body="本文"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)
    text = outbox.to(alice.email)[-1].text
    link = re.search(r"^https?://\S+/u/[A-Za-z0-9_-]{22}$", text, re.M)
    assert link, text
    path = "/u/" + link.group(0).rsplit("/u/", 1)[1]

    page.goto(path)
    expect(page.locator("h1")).to_have_text("配信停止の手続き")
    expect(page.get_by_text(LIST_NAME)).to_be_visible()
    expect(page.locator("#state")).to_have_attribute("data-state", "subscribed")
    _shot(page, "short-link-before.png")

    page.get_by_role("button", name="配信を停止する").click()

    expect(page.locator("#state")).to_have_attribute("data-state", "opted-out")
    expect(page.get_by_text("配信を停止しました。")).to_be_visible()
    expect(page.get_by_role("button", name="配信を再開する")).to_be_visible()
    assert page.url.endswith(path)
    _shot(page, "short-link-after.png")
    assert Subscription.objects.get(contact=alice).status == Subscription.Status.OPTED_OUT
