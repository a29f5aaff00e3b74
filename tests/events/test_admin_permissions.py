"""A staff account sees and changes only what its permissions allow (review finding)."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from association.models import Contact, Member, User
from events import services
from events.models import Registration, Training


def clerk_with(*codenames: str) -> User:
    user = User.objects.create_user("clerk", "clerk@example.jp", "x-long-passphrase", is_staff=True)
    for full in codenames:
        app, codename = full.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def training_with_bob(make_training, bob):
    training = make_training()
    services.register_for_training(training, contact=bob)
    return training


def test_view_only_staff_cannot_download_the_participant_list(client, training_with_bob):
    client.force_login(clerk_with("events.view_training"))
    for name in ("admin:events_training_csv", "admin:events_training_xlsx"):
        response = client.get(reverse(name, args=[training_with_bob.pk]))
        assert response.status_code == 403
    page = client.get(reverse("admin:events_training_change", args=[training_with_bob.pk]))
    assert "/csv/" not in page.content.decode()


def test_staff_allowed_to_see_people_downloads_the_participant_list(client, training_with_bob, bob):
    client.force_login(
        clerk_with("events.view_training", "events.view_registration", "association.view_contact")
    )
    response = client.get(reverse("admin:events_training_csv", args=[training_with_bob.pk]))
    assert response.status_code == 200
    assert bob.email in response.content.decode("utf-8-sig")


def test_view_only_staff_cannot_mark_attendance(client, training_with_bob):
    client.force_login(clerk_with("events.view_registration"))
    registration = Registration.objects.get()
    begun = timezone.now() - dt.timedelta(hours=1)  # attendance could be recorded now
    Training.objects.filter(pk=training_with_bob.pk).update(
        starts_at=begun, ends_at=begun + dt.timedelta(hours=2)
    )
    client.post(
        reverse("admin:events_registration_changelist"),
        {"action": "mark_attended", "_selected_action": [registration.pk]},
    )
    registration.refresh_from_db()
    assert registration.attendance != Registration.Attendance.ATTENDED


def test_view_only_staff_cannot_withdraw_a_member_or_deactivate_a_contact(client, bob, edogawa):
    client.force_login(clerk_with("association.view_member", "association.view_contact"))
    client.post(
        reverse("admin:association_member_changelist"),
        {"action": "withdraw_selected", "_selected_action": [edogawa.pk]},
    )
    client.post(
        reverse("admin:association_contact_changelist"),
        {"action": "deactivate_selected", "_selected_action": [bob.pk]},
    )
    assert Member.objects.get(pk=edogawa.pk).status == Member.Status.ACTIVE
    assert Contact.objects.get(pk=bob.pk).is_active


def test_view_only_staff_cannot_duplicate_a_training(client, make_training):
    training = make_training()
    client.force_login(clerk_with("events.view_training"))
    client.post(
        reverse("admin:events_training_changelist"),
        {"action": "duplicate_for_next_nendo", "_selected_action": [training.pk]},
    )
    assert Training.objects.count() == 1
