"""The secretariat moves people between seat and waiting list and reorders the list (issue 10
§2), from 申込みの管理: asked first, done with a reason, audited, through the seat rule."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from association import services as association
from association.models import AuditEntry, User
from events import services
from events.models import Notice, Registration

from .conftest import deliver_pending
from .test_calendar import events_of


def page(training) -> str:
    return reverse("admin:events_training_registrations", args=[training.pk])


@pytest.fixture
def dave(edogawa):
    return association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")


@pytest.fixture
def full(make_training, alice, bob, charlie, dave):
    """Two seats (alice, bob); charlie then dave waiting."""
    training = make_training(capacity=2, per_member_limit=5)
    regs = [
        services.register_for_training(training, contact=c) for c in (alice, bob, charlie, dave)
    ]
    return training, regs


def waiting_names(training) -> list[str]:
    return [r.contact.name for r in Registration.objects.waitlisted().filter(training=training)]


def test_moving_a_seat_to_the_tail_asks_first_then_promotes_the_next_and_mails(
    admin_client, full, alice, charlie, dave, outbox
):
    training, (seat, *_rest) = full
    ask = {"act": "to_waiting", "registration": seat.pk, "where": "tail", "reason": "本人の希望"}

    asked = admin_client.post(page(training), ask)

    assert "キャンセル待ちの最後に移します" in asked.content.decode()
    assert Registration.objects.get(pk=seat.pk).status == "confirmed"  # nothing done yet

    done = admin_client.post(page(training), {**ask, "confirmed": "1"}, follow=True)

    assert "繰り上がった方: " + charlie.name in done.content.decode()
    assert Registration.objects.get(pk=seat.pk).status == "waitlisted"
    assert waiting_names(training) == [dave.name, alice.name]
    assert Registration.objects.confirmed().filter(training=training).count() == 2
    entry = AuditEntry.objects.get(action="registration_moved_to_waiting_list")
    assert entry.changes["reason"] == "本人の希望"
    deliver_pending()
    assert any("繰り上げ" in m.subject for m in outbox.to(charlie.email))
    moved = outbox.to(alice.email)[-1]  # after her confirmation
    assert "キャンセル待ち（2番目）に移りました" in moved.subject
    assert (
        "事務局の手続きにより" in moved.text and "本人の希望" not in moved.text
    )  # reason: the record's
    calendar, event = events_of(moved)
    assert calendar["method"] == "CANCEL"  # the seat's calendar entry goes
    assert event["sequence"] > 0


def test_moving_a_seat_to_the_head_still_gives_the_freed_seat_to_the_next(
    admin_client, full, alice, charlie, dave
):
    training, (seat, *_rest) = full

    admin_client.post(
        page(training),
        {
            "act": "to_waiting",
            "registration": seat.pk,
            "where": "head",
            "reason": "日程の重複",
            "confirmed": "1",
        },
    )

    assert Registration.objects.get(contact=charlie, training=training).status == "confirmed"
    assert waiting_names(training) == [alice.name, dave.name]
    assert Registration.objects.get(pk=seat.pk).waitlist_place() == 1


def test_a_move_needs_a_reason(admin_client, full):
    training, (seat, *_rest) = full

    response = admin_client.post(
        page(training),
        {"act": "to_waiting", "registration": seat.pk, "where": "tail", "reason": " \r\n "},
        follow=True,
    )

    assert "理由を入力してください。" in response.content.decode()
    assert Registration.objects.get(pk=seat.pk).status == "confirmed"
    assert not AuditEntry.objects.filter(action="registration_moved_to_waiting_list").exists()


def test_a_seat_nobody_else_can_take_is_not_taken_away(admin_client, make_training, alice, bob):
    training = make_training(capacity=1)
    seat = services.register_for_training(training, contact=alice)

    response = admin_client.post(
        page(training),
        {
            "act": "to_waiting",
            "registration": seat.pk,
            "where": "tail",
            "reason": "確認",
            "confirmed": "1",
        },
        follow=True,
    )

    assert "席を受けられる方がいない" in response.content.decode()
    assert Registration.objects.get(pk=seat.pk).status == "confirmed"


def test_the_same_move_twice_moves_once(admin_client, full, charlie, dave):
    training, (seat, *_rest) = full
    move = {
        "act": "to_waiting",
        "registration": seat.pk,
        "where": "tail",
        "reason": "二度押し",
        "confirmed": "1",
    }

    admin_client.post(page(training), move)
    again = admin_client.post(page(training), move, follow=True)

    assert "参加確定の申込みだけをキャンセル待ちに移せます。" in again.content.decode()
    assert Registration.objects.get(contact=dave, training=training).status == "waitlisted"
    assert AuditEntry.objects.filter(action="registration_moved_to_waiting_list").count() == 1


def test_reordering_asks_then_moves_up_down_or_to_a_place(
    admin_client, make_training, alice, bob, charlie, dave
):
    training = make_training(capacity=1, per_member_limit=5)
    for contact in (alice, bob, charlie, dave):
        services.register_for_training(training, contact=contact)
    dave_reg = Registration.objects.get(contact=dave, training=training)
    up = {"act": "reorder", "registration": dave_reg.pk, "direction": "up", "reason": "事情"}

    asked = admin_client.post(page(training), up)

    assert "3 番目から 2 番目に移します" in asked.content.decode()
    assert waiting_names(training) == [bob.name, charlie.name, dave.name]
    # The confirmation posts the place that was shown, not the direction again.
    assert 'name="place" value="2"' in asked.content.decode()
    assert 'name="direction"' not in asked.content.decode()

    admin_client.post(page(training), {**up, "direction": "", "place": "2", "confirmed": "1"})
    assert waiting_names(training) == [bob.name, dave.name, charlie.name]

    admin_client.post(
        page(training),
        {
            "act": "reorder",
            "registration": dave_reg.pk,
            "place": "1",
            "reason": "事情",
            "confirmed": "1",
        },
    )
    assert waiting_names(training) == [dave.name, bob.name, charlie.name]
    assert AuditEntry.objects.filter(action="waiting_list_reordered").count() == 2

    # The next free seat follows the new order.
    services.cancel_registration(Registration.objects.get(contact=alice, training=training))
    services.promote_waiting_list(training)
    assert Registration.objects.get(pk=dave_reg.pk).status == "confirmed"
    assert Notice.objects.filter(registration=dave_reg, kind=Notice.Kind.PROMOTED).count() == 1


def test_the_page_shows_the_queue_order_after_a_move(admin_client, full, charlie, dave):
    training, _regs = full
    services.reorder_waiting_list(
        Registration.objects.get(contact=dave, training=training), place=1, reason="x", by=None
    )

    waiting = (
        admin_client.get(page(training)).content.decode().split("キャンセル待ち（繰り上げの順）")[1]
    )

    assert waiting.index(dave.name) < waiting.index(charlie.name)


# --- who may not ---------------------------------------------------------------------------------


def test_a_portal_user_cannot_reach_the_moves(client, full, alice, bob):
    training, (seat, *_rest) = full
    client.force_login(alice.user)  # 江戸川区's coordinator, not the secretariat

    response = client.post(
        page(training),
        {
            "act": "to_waiting",
            "registration": seat.pk,
            "where": "tail",
            "reason": "x",
            "confirmed": "1",
        },
    )

    assert response.status_code in (302, 403)
    assert "/admin/login/" in response.headers.get("Location", "/admin/login/")
    assert Registration.objects.get(pk=seat.pk).status == "confirmed"


def test_staff_without_the_registration_permission_cannot_move(client, full):
    training, (seat, *_rest) = full
    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["change_training", "view_contact"])
    )
    client.force_login(staff)

    response = client.post(
        page(training),
        {
            "act": "to_waiting",
            "registration": seat.pk,
            "where": "tail",
            "reason": "x",
            "confirmed": "1",
        },
    )

    assert response.status_code == 403
    assert Registration.objects.get(pk=seat.pk).status == "confirmed"


def test_a_registration_of_another_training_cannot_be_moved_from_this_page(
    admin_client, full, make_training, bob
):
    training, _regs = full
    other = make_training(title="別の研修会")
    elsewhere = services.register_for_training(other, contact=bob)

    response = admin_client.post(
        page(training),
        {
            "act": "to_waiting",
            "registration": elsewhere.pk,
            "where": "tail",
            "reason": "x",
            "confirmed": "1",
        },
    )

    assert response.status_code == 404
    assert Registration.objects.get(pk=elsewhere.pk).status == "confirmed"
