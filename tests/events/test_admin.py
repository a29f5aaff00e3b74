import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from association import services as association
from association.models import AuditEntry, LocalGovernment
from events import services
from events.models import Notice, Registration, Training


@pytest.fixture
def busy_training(make_training, alice, bob, charlie):
    training = make_training(capacity=2)
    for contact in (alice, bob, charlie):
        services.register_for_training(training, contact=contact)
    return training


def test_it_lists_trainings_in_a_fixed_number_of_queries(
    admin_client, make_training, alice, django_assert_max_num_queries
):
    for n in range(15):
        services.register_for_training(make_training(title=f"研修 {n}"), contact=alice)

    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:events_training_changelist"))

    assert response.status_code == 200
    assert "研修 14" in response.content.decode()


def test_it_lists_registrations_in_a_fixed_number_of_queries(
    admin_client, make_training, registry, django_assert_max_num_queries
):
    training = make_training(capacity=100, per_member_limit=5)
    for lg in LocalGovernment.objects.municipalities().order_by("code")[:20]:
        member = association.admit_member(lg)
        contact = association.add_contact(member, name="職員", email=f"a@{lg.code}.example.jp")
        services.register_for_training(training, contact=contact)

    with django_assert_max_num_queries(12):
        response = admin_client.get(
            reverse("admin:events_registration_changelist"), {"training__id__exact": training.pk}
        )

    assert response.status_code == 200
    assert response.content.decode().count("職員") >= 20


def test_it_exports_csv_with_a_bom_that_excel_reads_as_utf8(admin_client, busy_training):
    response = admin_client.get(reverse("admin:events_training_csv", args=[busy_training.pk]))

    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("研修会,開催日,ブロック,都道府県")
    assert len(lines) == 4
    assert "佐藤 美咲" in text
    assert "キャンセル待ち,1," in text


def test_it_exports_an_excel_sheet(admin_client, busy_training):
    response = admin_client.get(reverse("admin:events_training_xlsx", args=[busy_training.pk]))

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("研修会", "開催日", "ブロック")
    assert len(rows) == 4
    assert {row[6] for row in rows[1:]} == {"佐藤 美咲", "鈴木 健太", "高橋 由美子"}


def test_it_counts_registrations_by_block_and_prefecture(admin_client, busy_training):
    response = admin_client.get(reverse("admin:events_training_summary", args=[busy_training.pk]))

    page = response.content.decode()
    assert "関東" in page
    assert "東京都" in page


def _begun(training: Training) -> None:
    """The day has come: the training started an hour ago."""
    start = timezone.now() - dt.timedelta(hours=1)
    Training.objects.filter(pk=training.pk).update(
        starts_at=start, ends_at=start + (training.ends_at - training.starts_at)
    )


def test_it_marks_attendance_from_the_changelist(admin_client, busy_training, alice):
    registration = Registration.objects.get(contact=alice)
    _begun(busy_training)

    admin_client.post(
        reverse("admin:events_registration_changelist"),
        {"action": "mark_attended", "_selected_action": [registration.pk]},
    )

    registration.refresh_from_db()
    assert registration.attendance == Registration.Attendance.ATTENDED


def test_attendance_is_not_recorded_before_the_training_begins(admin_client, busy_training, alice):
    """Else a 参加証明書 could be printed for a training nobody has attended yet."""
    registration = Registration.objects.get(contact=alice)

    response = admin_client.post(
        reverse("admin:events_registration_changelist"),
        {"action": "mark_attended", "_selected_action": [registration.pk]},
        follow=True,
    )

    registration.refresh_from_db()
    assert registration.attendance == Registration.Attendance.UNKNOWN
    page = response.content.decode()
    assert "0 名を出席にしました。" in page
    assert (
        "1 名は出欠を記録しませんでした。出欠は、参加が確定した方について、研修会の開始後に記録できます。"
        in page
    )
    assert not AuditEntry.objects.filter(action="attendance_marked").exists()
    assert (
        services.mark_attendance(
            [registration], attendance=Registration.Attendance.ATTENDED, now=busy_training.starts_at
        )
        == 1
    )


def test_it_duplicates_a_training_for_the_next_nendo_from_the_changelist(
    admin_client, busy_training
):
    admin_client.post(
        reverse("admin:events_training_changelist"),
        {"action": "duplicate_for_next_nendo", "_selected_action": [busy_training.pk]},
    )

    copy = Training.objects.exclude(pk=busy_training.pk).get()
    assert copy.nendo == busy_training.nendo + 1
    assert copy.status == Training.Status.DRAFT


def test_it_tells_registrants_when_the_secretariat_moves_the_training(admin_client, busy_training):
    url = reverse("admin:events_training_change", args=[busy_training.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    start = busy_training.starts_at + dt.timedelta(days=1)
    end = busy_training.ends_at + dt.timedelta(days=1)
    data.update(
        {
            "block": "",
            "opens_at_0": "",
            "opens_at_1": "",
            "closes_at_0": "",
            "closes_at_1": "",
            "others_from_0": "",
            "others_from_1": "",
            "starts_at_0": f"{timezone.localtime(start):%Y-%m-%d}",
            "starts_at_1": f"{timezone.localtime(start):%H:%M}",
            "ends_at_0": f"{timezone.localtime(end):%Y-%m-%d}",
            "ends_at_1": f"{timezone.localtime(end):%H:%M}",
            "sessions-TOTAL_FORMS": "0",
            "sessions-INITIAL_FORMS": "0",
            "questions-TOTAL_FORMS": "0",
            "questions-INITIAL_FORMS": "0",
        }
    )
    data.pop("starts_at", None)
    data.pop("ends_at", None)
    data.pop("opens_at", None)
    data.pop("closes_at", None)
    data.pop("others_from", None)

    asked = admin_client.post(url, data)
    assert "変更点（変更前 → 変更後）" in asked.content.decode()
    response = admin_client.post(url, {**data, "_confirm_change": "1"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Notice.objects.filter(kind=Notice.Kind.CHANGED).count() == 3
    busy_training.refresh_from_db()
    assert busy_training.starts_at == start


def test_it_mails_every_registrant_from_the_admin(admin_client, busy_training):
    admin_client.post(
        reverse("admin:events_training_mail", args=[busy_training.pk]),
        {
            "subject": "会場のご案内",
            "body": "正面玄関からお入りください。",
            "include_waitlisted": "on",
        },
    )

    assert Notice.objects.filter(kind=Notice.Kind.MESSAGE).count() == 3


def test_it_calls_off_a_training_from_the_admin(admin_client, busy_training):
    admin_client.post(
        reverse("admin:events_training_call_off", args=[busy_training.pk]), {"reason": "荒天"}
    )

    busy_training.refresh_from_db()
    assert busy_training.status == Training.Status.CANCELLED
    assert Notice.objects.filter(kind=Notice.Kind.CALLED_OFF).count() == 3


def test_it_asks_for_a_block_when_a_block_training_has_none(admin_client, registry):
    response = admin_client.post(
        reverse("admin:events_training_add"),
        {
            "kind": "block",
            "nendo": "2026",
            "title": "ブロック研修会",
            "status": "draft",
            "starts_at_0": "2026-07-10",
            "starts_at_1": "13:30",
            "ends_at_0": "2026-07-10",
            "ends_at_1": "16:30",
            "capacity": "40",
            "per_member_limit": "3",
            "audience": "block",
            "close_working_days": "5",
            "reminder_days": "3",
            "sessions-TOTAL_FORMS": "0",
            "sessions-INITIAL_FORMS": "0",
            "questions-TOTAL_FORMS": "0",
            "questions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "ブロック別研修会にはブロックを指定してください。" in response.content.decode()
    assert not Training.objects.exists()
