"""The secretariat composes, previews, schedules and sends a bulletin in the admin."""

import datetime as dt
import json
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from mailing import services
from mailing.models import Bulletin, Delivery, Subscription

pytestmark = pytest.mark.django_db
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def _draft(
    mailing_list, body="{{ 氏名 }} 様\n\n研修会の資料です。\n\nhttps://renkei.example.jp/files/1"
):
    return services.save_bulletin(
        None, mailing_list=mailing_list, subject="研修会のご案内", body=body
    )


def _change(bulletin):
    return reverse("admin:mailing_bulletin_change", args=[bulletin.pk])


def _action(bulletin, name):
    return reverse("admin:mailing_bulletin_action", args=[bulletin.pk, name])


def _drain(bulletin):
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass
    bulletin.refresh_from_db()


def test_it_saves_a_new_draft_and_shows_the_subject_with_the_lists_prefix(
    admin_client, all_members_list
):
    response = admin_client.post(
        reverse("admin:mailing_bulletin_add"),
        {
            "mailing_list": all_members_list.pk,
            "subject": "総会のお知らせ",
            "body": "{{ 団体名 }} 御担当者様\n\n総会を開きます。",
            "reply_to": "",
            "_save": "1",
        },
        follow=True,
    )

    bulletin = Bulletin.objects.get()
    assert bulletin.status == Bulletin.Status.DRAFT
    assert bulletin.body.startswith("{{ 団体名 }}")
    html = response.content.decode()
    assert "下書きを保存しました。" in html
    assert "【市区町村会】総会のお知らせ" in html
    assert "{{ 配信停止URL }}" in html  # the documented placeholders sit next to the body


def test_it_refuses_an_unknown_placeholder_with_the_services_message_on_the_form(
    admin_client, all_members_list
):
    response = admin_client.post(
        reverse("admin:mailing_bulletin_add"),
        {
            "mailing_list": all_members_list.pk,
            "subject": "総会",
            "body": "{{ user.password }} を確認",
            "_save": "1",
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "使えない差し込み項目があります" in html
    assert "{{ user.password }}" in html
    assert not Bulletin.objects.exists()


def test_it_autosaves_a_new_draft_then_keeps_saving_the_same_one(admin_client, all_members_list):
    first = admin_client.post(
        reverse("admin:mailing_bulletin_autosave_new"),
        {"mailing_list": all_members_list.pk, "subject": "", "body": "書きかけ"},
    )
    data = first.json()
    assert first.status_code == 200 and data["saved"]
    assert data["change_url"] == reverse("admin:mailing_bulletin_change", args=[data["id"]])

    second = admin_client.post(
        data["autosave_url"],
        {"mailing_list": all_members_list.pk, "subject": "件名", "body": "書きかけの続き"},
    )

    assert second.json()["id"] == data["id"]
    bulletin = Bulletin.objects.get()
    assert (bulletin.subject, bulletin.body) == ("件名", "書きかけの続き")


def test_it_answers_an_autosave_with_a_bad_placeholder_with_the_reason_and_keeps_the_last_copy(
    admin_client, all_members_list
):
    bulletin = _draft(all_members_list)
    url = reverse("admin:mailing_bulletin_autosave", args=[bulletin.pk])

    response = admin_client.post(
        url, {"mailing_list": all_members_list.pk, "subject": "x", "body": "{{ 住所 }}"}
    )

    assert response.status_code == 400
    assert "使えない差し込み項目" in json.dumps(response.json(), ensure_ascii=False)
    bulletin.refresh_from_db()
    assert "研修会の資料です。" in bulletin.body


def test_it_previews_as_a_chosen_recipient_in_html_and_text(
    admin_client, all_members_list, alice, bob
):
    bulletin = _draft(all_members_list)

    response = admin_client.get(
        reverse("admin:mailing_bulletin_preview", args=[bulletin.pk]), {"contact": bob.pk}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "鈴木 健太 様" in html  # bob's name in the text part
    assert "佐藤 美咲" in html  # alice is offered as another recipient
    assert 'sandbox title="HTML版" srcdoc="' in html
    assert "https://renkei.example.jp/files/1" in html
    assert "【市区町村会】研修会のご案内" in html


def test_it_sends_now_once_and_then_shows_the_report(
    admin_client, all_members_list, alice, bob, charlie
):
    services.suppress_address(charlie.email, reason="manual")
    bulletin = _draft(all_members_list)

    response = admin_client.post(_action(bulletin, "start"), follow=True)
    again = admin_client.post(_action(bulletin, "start"), follow=True)

    assert "送信を開始しました。" in response.content.decode()
    assert "すでに送信を始めています" in again.content.decode()
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SENDING
    _drain(bulletin)
    assert bulletin.status == Bulletin.Status.SENT

    html = admin_client.get(_change(bulletin)).content.decode()
    assert "送信結果" in html
    assert "配信停止アドレス: 1" in html
    assert "東京都足立区" in html  # charlie's municipality received nothing
    assert 'name="subject"' not in html  # no longer editable


def test_it_keeps_a_started_bulletin_read_only(admin_client, all_members_list, alice):
    bulletin = _draft(all_members_list)
    services.start_bulletin(bulletin)

    autosave = admin_client.post(
        reverse("admin:mailing_bulletin_autosave", args=[bulletin.pk]),
        {"mailing_list": all_members_list.pk, "subject": "差し替え", "body": "差し替え"},
    )
    admin_client.post(
        _change(bulletin),
        {"mailing_list": all_members_list.pk, "subject": "差し替え", "_save": "1"},
    )

    assert autosave.status_code == 409
    bulletin.refresh_from_db()
    assert bulletin.subject == "研修会のご案内"


def test_it_schedules_in_japan_time_and_unschedules(admin_client, all_members_list, alice):
    bulletin = _draft(all_members_list)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    response = admin_client.post(
        _action(bulletin, "schedule"), {"scheduled_at": f"{tomorrow:%Y-%m-%d}T09:30"}, follow=True
    )

    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SCHEDULED
    assert bulletin.scheduled_at == dt.datetime.combine(tomorrow, dt.time(9, 30), tzinfo=TOKYO)
    assert "09:30 に送信を予約しました" in response.content.decode()

    admin_client.post(_action(bulletin, "unschedule"))
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.DRAFT


def test_it_refuses_a_schedule_in_the_past(admin_client, all_members_list, alice):
    bulletin = _draft(all_members_list)

    response = admin_client.post(
        _action(bulletin, "schedule"), {"scheduled_at": "2020-04-01T09:00"}, follow=True
    )

    assert "これから先の日時" in response.content.decode()
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.DRAFT


def test_it_pauses_resumes_and_cancels_while_sending(admin_client, all_members_list, alice, bob):
    bulletin = _draft(all_members_list)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)

    admin_client.post(_action(bulletin, "pause"))
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.PAUSED
    admin_client.post(_action(bulletin, "resume"))
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.SENDING
    response = admin_client.post(_action(bulletin, "cancel"), follow=True)

    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.CANCELLED
    assert set(bulletin.deliveries.values_list("status", flat=True)) == {Delivery.Status.CANCELLED}
    assert "送信を中止しました。" in response.content.decode()


def test_it_reports_progress_as_json(admin_client, all_members_list, alice, bob):
    services.opt_out(all_members_list, bob, source=Subscription.Source.PORTAL)
    bulletin = _draft(all_members_list)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    url = reverse("admin:mailing_bulletin_progress", args=[bulletin.pk])

    before = admin_client.get(url).json()
    _drain(bulletin)
    after = admin_client.get(url).json()

    assert (before["total"], before["queued"], before["skipped"]) == (2, 1, 1)
    assert not before["finished"]
    assert (after["sent"], after["queued"], after["finished"]) == (1, 0, True)
    assert after["status_label"] == "送信済み"


def test_it_refuses_bulletin_actions_to_staff_without_permission(client, all_members_list, alice):
    from association.models import User

    clerk = User.objects.create_user(
        "clerk", "clerk@example.jp", "x-long-passphrase", is_staff=True
    )
    client.force_login(clerk)
    bulletin = _draft(all_members_list)

    response = client.post(_action(bulletin, "start"))

    assert response.status_code == 403
    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.DRAFT
