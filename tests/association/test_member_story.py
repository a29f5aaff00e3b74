"""A member's page tells its story: agreements, contacts, trainings by 年度, bulletins
received, and a history in plain Japanese; leaving and rejoining take a date and a reason and
ask for confirmation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from association import services
from association.history import ACTION_LABELS, action_label
from association.models import Agreement, AuditEntry, Member, MembershipEvent, User
from events import services as events
from events.models import Registration, Training
from mailing import services as mailing
from mailing.models import MailingList


@pytest.fixture
def secretariat(db) -> User:
    return User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")


@pytest.fixture
def desk(client, secretariat):
    client.force_login(secretariat)
    return client


@pytest.fixture
def storied(edogawa, alice, bob):
    Agreement.objects.create(
        local_government=edogawa.local_government,
        signed_on=dt.date(2019, 4, 1),
        hashtag="#いのちSOS江戸川",
    )
    zone = timezone.get_current_timezone()
    start = dt.datetime(2026, 6, 1, 13, 30, tzinfo=zone)
    training = events.save_training(
        Training(
            kind=Training.Kind.NATIONAL,
            title="令和8年度 全体研修会",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=3),
            capacity=10,
            per_member_limit=3,
            status=Training.Status.PUBLISHED,
        )
    )
    seat = events.register_for_training(training, contact=alice, now=start - dt.timedelta(days=30))
    events.mark_attendance(
        [seat], attendance=Registration.Attendance.ATTENDED, now=training.ends_at
    )
    the_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    bulletin = mailing.save_bulletin(None, mailing_list=the_list, subject="6月のお知らせ", body="x")
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)
    while mailing.drain_bulletin(bulletin.pk):
        pass
    services.update_contact(bob, by=None, title="主事")
    return edogawa


def test_a_members_page_tells_its_story(desk, storied):
    html = desk.get(reverse("admin:association_member_change", args=[storied.pk])).content.decode()
    assert "連携協定" in html and "平成31年4月1日（月） 締結" in html and "#いのちSOS江戸川" in html
    assert "有効な担当者 2 名（うち取りまとめ担当 1 名）" in html
    assert "令和8年度" in html and "令和8年度 全体研修会" in html
    assert "これまでに 1 号が届いています" in html and "6月のお知らせ" in html
    assert "担当者情報の更新" in html and "担当者の登録" in html
    assert "training_saved" not in html and "contact_added" not in html


def test_the_history_button_shows_the_history_in_plain_japanese_and_tokyo_time(desk, storied):
    entry = AuditEntry.objects.filter(object_type="contact", action="contact_updated").get()
    html = desk.get(reverse("admin:association_member_history", args=[storied.pk])).content
    text = html.decode()
    local = timezone.localtime(entry.created_at)
    assert f"{local:%H:%M}" in text and "担当者情報の更新" in text
    assert "鈴木 健太" in text  # the secretariat may see who
    assert "入会" in text and "平成23年7月1日（金）" in text  # joined 2011-07-01


def test_the_audit_log_names_each_act_and_shows_local_time(desk, storied):
    entry = AuditEntry.objects.filter(action="contact_updated").get()
    assert str(entry).startswith(f"{timezone.localtime(entry.created_at):%Y-%m-%d %H:%M}")
    html = desk.get(reverse("admin:association_auditentry_changelist")).content.decode()
    assert "担当者情報の更新" in html and ">contact_updated<" not in html


def test_every_recorded_act_has_a_japanese_name():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    codes = set()
    for app in ("association", "events", "mailing", "postbox", "questions", "inquiries", "office"):
        for path in (root / app).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            codes |= set(re.findall(r"audit(?:_export)?\(\s*[^,()]+,\s*\"([a-z_]+)\"", source))
            codes |= set(re.findall(r"_audit_suppression\(\s*[^,()]+,\s*\"([a-z_]+)\"", source))
    assert codes, "the scan found no audit call"
    assert codes - set(ACTION_LABELS) == set()
    assert action_label("no_such_act") == "no_such_act"


def test_leaving_asks_for_a_date_and_a_reason_and_changes_nothing_until_confirmed(desk, storied):
    changelist = reverse("admin:association_member_changelist")
    response = desk.post(
        changelist, {"action": "withdraw_selected", "_selected_action": [storied.pk]}
    )
    assert response.status_code == 302 and "withdraw/?ids=" in response["Location"]
    page = desk.get(response["Location"]).content.decode()
    assert "退会の確認" in page and "東京都江戸川区" in page
    storied.refresh_from_db()
    assert storied.status == Member.Status.ACTIVE  # only asked so far

    url = reverse("admin:association_member_withdraw")
    refused = desk.post(url, {"ids": str(storied.pk), "on": "令和8年2月30日", "reason": ""})
    text = refused.content.decode()
    assert "入力内容を確認してください" in text and "2026年2月30日という日はありません" in text
    assert "このフィールドは必須です" in text or "必須" in text
    storied.refresh_from_db()
    assert storied.status == Member.Status.ACTIVE

    done = desk.post(
        url, {"ids": str(storied.pk), "on": "R8.3.31", "reason": "総会で承認\r\n（申し出による）"}
    )
    assert done.status_code == 302
    storied.refresh_from_db()
    assert (storied.status, storied.left_on) == (Member.Status.LEFT, dt.date(2026, 3, 31))
    event = MembershipEvent.objects.filter(member=storied, action="left").get()
    assert event.note == "総会で承認 （申し出による）"
    history = desk.get(reverse("admin:association_member_history", args=[storied.pk])).content
    assert "総会で承認" in history.decode()


def test_rejoining_takes_a_date_and_a_reason_too(desk, storied):
    services.withdraw_member(storied, left_on=dt.date(2025, 3, 31))
    url = reverse("admin:association_member_readmit")
    page = desk.get(url, {"ids": storied.pk}).content.decode()
    assert "再入会・入会の確認" in page
    desk.post(url, {"ids": str(storied.pk), "on": "2026/4/1", "reason": "再加入の申し出"})
    storied.refresh_from_db()
    assert (storied.status, storied.joined_on) == (Member.Status.ACTIVE, dt.date(2026, 4, 1))
    assert MembershipEvent.objects.filter(member=storied, action="rejoined").get().note == (
        "再加入の申し出"
    )


def test_a_member_not_in_the_right_state_is_left_out_and_said_so(desk, storied, adachi):
    url = reverse("admin:association_member_readmit")
    page = desk.get(url, {"ids": f"{storied.pk},{adachi.pk}"}).content.decode()
    assert "この手続きの対象になる団体がありません" in page
    desk.post(url, {"ids": f"{storied.pk}", "on": "2026/4/1", "reason": "x"})
    storied.refresh_from_db()
    assert storied.status == Member.Status.ACTIVE


def test_staff_who_may_only_view_cannot_withdraw(client, storied):
    staff = User.objects.create_user("hojo", "hojo@example.jp", "x-long-passphrase", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_member"))
    client.force_login(staff)
    url = reverse("admin:association_member_withdraw")
    assert client.get(url, {"ids": storied.pk}).status_code == 403
    response = client.post(url, {"ids": str(storied.pk), "on": "2026/3/31", "reason": "x"})
    assert response.status_code == 403
    storied.refresh_from_db()
    assert storied.status == Member.Status.ACTIVE
    page = client.get(reverse("admin:association_member_change", args=[storied.pk])).content
    assert "退会の手続き" not in page.decode() and "担当者情報の更新" in page.decode()
    assert "鈴木 健太" not in page.decode()


def test_the_history_names_both_people_of_a_hand_over_in_one_query(edogawa, alice, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from association.history import member_history

    services.hand_over_contact(alice, successor=bob)
    services.withdraw_member(edogawa, left_on=dt.date(2026, 3, 31), note="市の方針により")

    with CaptureQueriesContext(connection) as captured:
        named = member_history(Member.objects.get(pk=edogawa.pk), show_people=True)
    hidden = member_history(edogawa, show_people=False)

    assert len(captured) == 2  # the member, then its whole history
    handed = next(line for line in named if line.what == action_label("contact_handed_over"))
    assert "佐藤 美咲" in handed.detail and "鈴木 健太" in handed.detail
    hidden_line = next(line for line in hidden if line.what == action_label("contact_handed_over"))
    assert "佐藤" not in hidden_line.detail and f"担当者#{bob.pk}" in hidden_line.detail
    left = next(line for line in named if line.what == "退会")
    assert left.detail == "市の方針により" and left.when.startswith("令和8年3月31日")
    assert [line.at for line in named] == sorted((line.at for line in named), reverse=True)


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_a_short_history_never_shows_an_act_with_a_person_missing(edogawa, alice, bob, limit):
    from association.history import member_history

    services.hand_over_contact(alice, successor=bob)
    services.hand_over_contact(
        bob,
        successor=services.add_contact(
            edogawa, name="田中 花子", email="carol@city.edogawa.example.jp"
        ),
    )
    everything = member_history(edogawa, show_people=True)

    lines = member_history(edogawa, show_people=True, limit=limit)

    assert len(lines) == min(limit, len(everything))
    assert not [line for line in lines if "{" in line.detail]
    assert [line.detail for line in lines] == [line.detail for line in everything[:limit]]


def test_the_member_page_lists_its_first_ten_contacts_the_active_first(desk, edogawa, alice):
    services.deactivate_contact(alice)
    for n in range(11):
        services.add_contact(
            edogawa,
            name=f"職員 {n:02d}",
            kana=f"しょくいん {n:02d}",
            email=f"s{n}@city.edogawa.example.jp",
        )

    html = desk.get(reverse("admin:association_member_change", args=[edogawa.pk])).content.decode()

    assert "職員 00" in html and "職員 09" in html
    assert "職員 10" not in html.split('id="story-contacts-h"')[0]
    assert "佐藤 美咲" not in html.split('id="story-contacts-h"')[0]  # inactive: after the ten
    assert "有効な担当者 11 名" in html
