"""The secretariat acts for a municipality from the training's 申込みの管理 page (issue 10 §2):
代理申込み, cancellation with promotion and mail, substitution, a seat out of turn with a
reason — each through the portal's services, each audited; no deletion; names only for those
who may see personal data."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from association import services as association
from association.models import AuditEntry, User
from events import services
from events.models import Notice, Registration

from .conftest import deliver_pending


def page(training) -> str:
    return reverse("admin:events_training_registrations", args=[training.pk])


@pytest.fixture
def dave(edogawa):
    return association.add_contact(edogawa, name="田中 一郎", email="dave@city.edogawa.example.jp")


def test_it_shows_the_seats_and_the_waiting_list_in_order(
    admin_client, make_training, alice, bob, charlie
):
    training = make_training(capacity=1)
    for contact in (alice, bob, charlie):
        services.register_for_training(training, contact=contact)

    html = admin_client.get(page(training)).content.decode()

    waiting = html.split("キャンセル待ち（繰り上げの順）")[1]
    assert waiting.index(bob.name) < waiting.index(charlie.name)
    assert "<td>1</td>" in waiting and "<td>2</td>" in waiting
    assert alice.name in html.split("キャンセル待ち（繰り上げの順）")[0]


def test_the_secretariat_registers_a_contact_on_behalf_and_it_is_audited(
    admin_client, make_training, charlie, outbox
):
    training = make_training()

    response = admin_client.post(
        page(training), {"act": "register", "new-contact": charlie.pk}, follow=True
    )

    assert "代理申込みしました（参加確定）" in response.content.decode()
    registration = Registration.objects.get(training=training, contact=charlie)
    assert registration.registered_by is not None and registration.registered_by.is_staff
    assert AuditEntry.objects.filter(action="registration_on_behalf").count() == 1
    deliver_pending()
    assert any("参加確定" in m.subject for m in outbox.to(charlie.email))


def test_registering_on_behalf_keeps_the_rules(admin_client, make_training, charlie):
    training = make_training(status="closed")

    response = admin_client.post(
        page(training), {"act": "register", "new-contact": charlie.pk}, follow=True
    )

    assert "受け付けていません" in response.content.decode()
    assert not Registration.objects.exists()


def test_nothing_is_registered_unless_someone_was_chosen(admin_client, make_training, charlie):
    training = make_training()

    response = admin_client.post(page(training), {"act": "register", "new-contact": ""})

    assert "申し込む方を選んでください。" in response.content.decode()
    assert not Registration.objects.exists()


def test_the_secretariat_cancels_and_the_waiting_list_moves_up_with_mail(
    admin_client, make_training, alice, charlie, outbox
):
    training = make_training(capacity=1)
    seat = services.register_for_training(training, contact=alice)
    waiting = services.register_for_training(training, contact=charlie)

    admin_client.post(page(training), {"act": "cancel", "registration": seat.pk})
    services.promote_waiting_list(training)  # the task queued on commit, as the worker runs it

    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED
    assert Notice.objects.filter(registration=seat, kind=Notice.Kind.CANCELLED).exists()
    assert Notice.objects.filter(registration=waiting, kind=Notice.Kind.PROMOTED).exists()
    assert AuditEntry.objects.filter(action="registration_cancelled").exists()


def test_the_secretariat_substitutes_a_colleague(admin_client, make_training, bob, dave):
    training = make_training()
    seat = services.register_for_training(training, contact=bob)

    admin_client.post(
        page(training), {"act": "substitute", "registration": seat.pk, "contact": dave.pk}
    )

    seat.refresh_from_db()
    assert (seat.contact_id, seat.substituted_from_id) == (dave.pk, bob.pk)
    assert AuditEntry.objects.filter(action="registration_substituted").exists()


def test_a_seat_out_of_turn_needs_a_reason_and_room_and_is_audited(
    admin_client, make_training, alice, bob, dave
):
    training = make_training(capacity=3, per_member_limit=1)
    services.register_for_training(training, contact=alice)
    waiting = services.register_for_training(training, contact=bob)  # 江戸川区 at its limit
    assert waiting.status == Registration.Status.WAITLISTED

    no_reason = admin_client.post(
        page(training), {"act": "confirm", "registration": waiting.pk, "reason": " "}, follow=True
    )
    assert "理由を入力してください。" in no_reason.content.decode()
    admin_client.post(
        page(training),
        {"act": "confirm", "registration": waiting.pk, "reason": "講師の所属団体のため"},
    )

    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED
    entry = AuditEntry.objects.get(action="registration_confirmed_out_of_turn")
    assert entry.changes["reason"] == "講師の所属団体のため"
    assert Notice.objects.filter(registration=waiting, kind=Notice.Kind.PROMOTED).count() == 1


def test_a_seat_out_of_turn_never_goes_beyond_the_capacity(
    admin_client, make_training, alice, charlie
):
    training = make_training(capacity=1)
    services.register_for_training(training, contact=alice)
    waiting = services.register_for_training(training, contact=charlie)

    response = admin_client.post(
        page(training),
        {"act": "confirm", "registration": waiting.pk, "reason": "特例"},
        follow=True,
    )

    assert "定員に空きがありません。" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.WAITLISTED


def test_deleting_a_registration_is_not_offered(admin_client, make_training, alice):
    training = make_training()
    seat = services.register_for_training(training, contact=alice)

    delete = reverse("admin:events_registration_delete", args=[seat.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = admin_client.get(reverse("admin:events_registration_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    assert Registration.objects.filter(pk=seat.pk).exists()


def test_staff_without_the_contact_permission_cannot_open_the_page(client, make_training, alice):
    training = make_training()
    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["change_training", "change_registration"])
    )
    client.force_login(staff)

    assert client.get(page(training)).status_code == 403
