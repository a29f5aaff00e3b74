"""One status per training as the member sees it (issue 10 §4): 受付前（M月D日から）, 受付中,
受付終了, 満席（キャンセル待ちで受付中）, 中止 — never two at once — and, where the member is at
its limit, a note beside the seats left. Each state on the list page and the training's page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from association.models import Block
from events import services
from events.models import Training

from .conftest import at


def list_page(client, member) -> str:
    return client.get(reverse("events:member", args=[member.local_government_id])).content.decode()


def detail_page(client, member, training) -> str:
    url = reverse("events:detail", args=[member.local_government_id, training.pk])
    return client.get(url).content.decode()


def one_status(html: str) -> str:
    found = re.findall(r'<strong class="phase phase-\w+">([^<]+)</strong>', html)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def logged_in(client, bob):
    client.force_login(bob.user)
    return client


def test_an_open_training_is_open_with_its_seats_left(logged_in, make_training, edogawa):
    training = make_training(title="受付中の研修会", capacity=30)

    page = list_page(logged_in, edogawa)

    assert one_status(page) == "受付中"
    assert "残り 30 席" in page
    assert one_status(detail_page(logged_in, edogawa, training)) == "受付中"
    assert "自分を申し込む" in detail_page(logged_in, edogawa, training)


def test_a_training_before_its_opening_says_from_when(logged_in, make_training, edogawa):
    opens = timezone.localtime() + dt.timedelta(days=3)
    training = make_training(opens_at=opens)

    page = detail_page(logged_in, edogawa, training)

    assert one_status(page) == f"受付前（{opens.month}月{opens.day}日から）"
    assert "自分を申し込む" not in page
    assert "受付中" not in page and "受付期間外" not in page


def test_a_published_training_past_its_deadline_is_closed_not_open(
    logged_in, make_training, edogawa
):
    soon = timezone.localtime() + dt.timedelta(days=2)
    training = make_training(starts_at=soon, closes_at=timezone.now() - dt.timedelta(hours=1))
    assert training.status == Training.Status.PUBLISHED

    for page in (list_page(logged_in, edogawa), detail_page(logged_in, edogawa, training)):
        assert one_status(page) == "受付終了"
        assert "受付中" not in page and "受付期間外" not in page
    assert "自分を申し込む" not in detail_page(logged_in, edogawa, training)


def test_a_closed_training_offers_no_registration(logged_in, make_training, edogawa):
    training = make_training(status=Training.Status.CLOSED)

    page = detail_page(logged_in, edogawa, training)

    assert one_status(page) == "受付終了"
    assert "申し込む" not in page.replace("申し込む方", "")


def test_a_full_training_says_full_and_that_the_waiting_list_is_open(
    logged_in, make_training, edogawa, charlie
):
    training = make_training(capacity=1)
    services.register_for_training(training, contact=charlie)

    page = detail_page(logged_in, edogawa, training)

    assert one_status(page) == "満席（キャンセル待ちで受付中）"
    assert "残り" not in page
    assert "自分を申し込む" in page


def test_a_called_off_training_says_called_off(logged_in, make_training, edogawa):
    training = make_training(title="中止になった研修会")
    services.call_off_training(training)

    for page in (list_page(logged_in, edogawa), detail_page(logged_in, edogawa, training)):
        assert one_status(page) == "中止"
        assert "受付中" not in page
    assert "自分を申し込む" not in detail_page(logged_in, edogawa, training)


def test_a_member_at_its_limit_is_told_beside_the_seats_left(
    client, make_training, edogawa, alice, bob
):
    training = make_training(capacity=95 + 1, per_member_limit=1)
    services.register_for_training(training, contact=alice)
    client.force_login(bob.user)

    page = detail_page(client, edogawa, training)

    assert one_status(page) == "受付中"
    assert "残り 95 席" in page
    assert "この団体の上限（1名）に達しています" in page
    assert "この団体からの参加は1名までのため、キャンセル待ちとして受け付けます。" in page


def test_a_block_first_training_shows_other_blocks_the_day_they_may_register(
    client, make_training, registry, charlie
):
    kinki = Block.objects.get(name="近畿")
    others_from = timezone.localtime() + dt.timedelta(days=10)
    training = make_training(
        kind=Training.Kind.BLOCK,
        block=kinki,
        audience=Training.Audience.BLOCK_FIRST,
        others_from=others_from,
        title="近畿ブロック研修会",
    )
    client.force_login(charlie.user)  # 足立区: 関東

    listed = list_page(client, charlie.member)

    assert "近畿ブロック研修会" in listed
    assert one_status(listed) == f"受付前（{others_from.month}月{others_from.day}日から）"
    assert "自分を申し込む" not in detail_page(client, charlie.member, training)


def test_a_block_only_training_of_another_block_stays_hidden(
    client, make_training, registry, charlie
):
    make_training(
        kind=Training.Kind.BLOCK,
        block=Block.objects.get(name="近畿"),
        audience=Training.Audience.BLOCK,
        title="近畿だけの研修会",
    )
    client.force_login(charlie.user)

    assert "近畿だけの研修会" not in list_page(client, charlie.member)


def test_the_opening_day_is_the_later_of_the_opening_and_the_other_blocks_day(
    make_training, registry, charlie
):
    from events.portal import Phase, phase_of

    training = make_training(
        kind=Training.Kind.BLOCK,
        block=Block.objects.get(name="近畿"),
        audience=Training.Audience.BLOCK_FIRST,
        opens_at=at(2026, 5, 1, 9),
        others_from=at(2026, 5, 20, 9),
        starts_at=at(2026, 7, 1, 13),
    )

    phase, label = phase_of(training, charlie.member, seats_left=10, now=at(2026, 4, 20))

    assert (phase, label) == (Phase.BEFORE, "受付前（5月20日から）")
    assert phase_of(training, charlie.member, seats_left=10, now=at(2026, 5, 21))[0] == Phase.OPEN
    assert (
        phase_of(training, charlie.member, seats_left=0, now=at(2026, 5, 21))[1]
        == "満席（キャンセル待ちで受付中）"
    )
