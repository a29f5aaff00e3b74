"""年度 reports: participation per member, block, prefecture and training; members that sent
nobody; bulletins' reach; the same on screen, in .xlsx from the page and from the command."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from association import services as association
from association.models import Block, Contact, User
from events import services as events
from events.models import Registration, Training
from mailing import services as mailing
from mailing.models import MailingList
from office.reports import build_report
from tests.conftest import lg


def _training(title: str, start: dt.datetime, **values) -> Training:
    fields = {
        "kind": Training.Kind.NATIONAL,
        "title": title,
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=3),
        "capacity": 50,
        "per_member_limit": 5,
        "status": Training.Status.PUBLISHED,
        "venue_name": "江戸川区総合文化センター",
    }
    fields.update(values)
    return events.save_training(Training(**fields))


def _register(training: Training, contact: Contact) -> Registration:
    return events.register_for_training(
        training, contact=contact, now=training.starts_at - dt.timedelta(days=30)
    )


@pytest.fixture
def year_2026(registry):
    """Three members in two blocks; two trainings in 2026 (one online), one in 2025."""
    people = {}
    for name, who in (
        ("東京都江戸川区", ("佐藤 美咲", "鈴木 健太")),
        ("東京都足立区", ("高橋 由美子",)),
        ("北海道札幌市", ("山田 太郎",)),
    ):
        member = association.admit_member(lg(name), joined_on=dt.date(2011, 7, 1))
        for n, person in enumerate(who):
            people[person] = association.add_contact(
                member, name=person, email=f"p{n}@{lg(name).code}.example.jp"
            )
    silent = association.admit_member(lg("神奈川県座間市"), joined_on=dt.date(2011, 7, 1))
    zone = timezone.get_current_timezone()
    june = _training("全体研修会", dt.datetime(2026, 6, 1, 13, 30, tzinfo=zone))
    autumn = _training(
        "オンライン研修会",
        dt.datetime(2026, 10, 5, 13, 30, tzinfo=zone),
        venue_name="",
        online_url="https://meet.example.jp/x",
    )
    last_year = _training("前年度の研修会", dt.datetime(2026, 3, 10, 13, 30, tzinfo=zone))
    attended = _register(june, people["佐藤 美咲"])
    absent = _register(june, people["鈴木 健太"])
    events.mark_attendance(
        [attended], attendance=Registration.Attendance.ATTENDED, now=june.ends_at
    )
    events.mark_attendance([absent], attendance=Registration.Attendance.ABSENT, now=june.ends_at)
    _register(autumn, people["佐藤 美咲"])
    cancelled = _register(autumn, people["高橋 由美子"])
    events.cancel_registration(cancelled, now=autumn.starts_at - dt.timedelta(days=20))
    _register(june, people["山田 太郎"])
    events.mark_attendance(
        [_register(last_year, people["山田 太郎"])], attendance=Registration.Attendance.ATTENDED
    )
    # One bulletin to everyone, sent through the outbox.
    the_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    bulletin = mailing.save_bulletin(None, mailing_list=the_list, subject="お知らせ", body="本文")
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)
    while mailing.drain_bulletin(bulletin.pk):
        pass
    return {"people": people, "silent": silent, "june": june, "autumn": autumn}


def test_participation_is_counted_per_member_block_prefecture_and_training(year_2026):
    report = build_report(2026)
    by_code = {m.code: m for m in report.members}
    edogawa = by_code["131237"].counts
    assert (edogawa.registered, edogawa.attended, edogawa.absent, edogawa.cancelled) == (3, 1, 1, 0)
    assert edogawa.trainings_attended == 1
    adachi = by_code["131211"].counts
    assert (adachi.registered, adachi.cancelled) == (0, 1)
    assert {m.name for m in report.silent_members} == {"東京都足立区", "神奈川県座間市"}
    blocks = {g.name: g for g in report.blocks}
    assert blocks["関東"].members == 3 and blocks["関東"].members_taking_part == 1
    assert blocks["関東"].counts.registered == 3 and blocks["北海道・東北"].counts.registered == 1
    prefectures = {g.name: g for g in report.prefectures}
    assert prefectures["東京都"].members == 2 and prefectures["神奈川県"].counts.registered == 0
    trainings = {t.training.title: t for t in report.trainings}
    assert set(trainings) == {"全体研修会", "オンライン研修会"}  # 前年度の研修会 is 2025年度
    june = trainings["全体研修会"]
    assert june.mode == "会場" and trainings["オンライン研修会"].mode == "オンライン"
    assert june.by_block["関東"].registered == 2 and june.by_block["北海道・東北"].registered == 1
    assert june.total.attended == 1 and june.total.absent == 1


def test_a_report_for_one_block_counts_only_its_members(year_2026):
    report = build_report(2026, block=Block.objects.get(name="北海道・東北"))
    assert [m.name for m in report.members] == ["北海道札幌市"]
    assert [t.total.registered for t in report.trainings] == [1, 0]
    assert report.members_reached == 1


def test_mailing_is_counted_per_list_with_the_members_reached(year_2026):
    report = build_report(2026)
    (row,) = report.lists
    assert (row.name, row.bulletins, row.messages, row.reached, row.bounced) == (
        "全会員",
        1,
        4,
        4,
        0,
    )
    assert row.members_reached == 3 == report.members_reached  # 座間市 has no contact


def test_the_command_writes_one_sheet_per_table_with_codes_as_text(year_2026, tmp_path):
    path = tmp_path / "report.xlsx"
    out = io.StringIO()
    call_command("report_nendo", "--nendo", "2026", "--output", str(path), stdout=out)
    assert "令和8年度の報告" in out.getvalue()
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "概要",
        "会員別",
        "ブロック別",
        "都道府県別",
        "参加のなかった会員",
        "研修会別",
        "会報の配信",
    ]
    members = book["会員別"]
    assert [c.value for c in members[1]][:4] == ["団体コード", "団体名", "都道府県", "ブロック"]
    sapporo = next(row for row in members.iter_rows(min_row=2) if row[1].value == "北海道札幌市")
    assert sapporo[0].value == "011002" and sapporo[0].data_type == "s"
    assert sapporo[0].number_format == "@"
    trainings = book["研修会別"]
    assert trainings["B2"].value == "令和8年6月1日（月）"
    assert book["概要"]["B1"].value == "令和8年度"


def test_the_command_refuses_what_it_cannot_do(db, tmp_path):
    with pytest.raises(CommandError, match="西暦で指定"):
        call_command("report_nendo", "--nendo", "8", "--output", str(tmp_path / "r.xlsx"))
    with pytest.raises(CommandError, match=r"\.xlsx"):
        call_command("report_nendo", "--nendo", "2026", "--output", str(tmp_path / "r.csv"))
    with pytest.raises(CommandError, match="ブロック「火星」はありません"):
        call_command(
            "report_nendo",
            "--nendo",
            "2026",
            "--block",
            "火星",
            "--output",
            str(tmp_path / "r.xlsx"),
        )


@pytest.fixture
def secretariat_client(client, db):
    user = User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")
    client.force_login(user)
    return client


def test_the_report_page_shows_the_tables_and_a_chart(secretariat_client, year_2026):
    response = secretariat_client.get(reverse("office:nendo_report"), {"nendo": "2026"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "令和8年度の報告" in html
    assert "<svg" in html and "ブロック別・年度別の出席者数" in html
    assert "関東 令和8年度: 1人" in html and "北海道・東北 令和7年度: 1人" in html
    assert "参加のなかった会員（2 団体）" in html and "神奈川県座間市" in html
    assert "全体研修会" in html and "令和8年6月1日（月）" in html


def test_the_pages_excel_follows_the_filters_on_screen(secretariat_client, year_2026):
    hokkaido = Block.objects.get(name="北海道・東北")
    page = secretariat_client.get(
        reverse("office:nendo_report"), {"nendo": "2026", "block": hokkaido.pk}
    ).content.decode()
    assert f"?nendo=2026&amp;block={hokkaido.pk}&amp;format=xlsx" in page
    response = secretariat_client.get(
        reverse("office:nendo_report"), {"nendo": "2026", "block": hokkaido.pk, "format": "xlsx"}
    )
    assert "attachment" in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    names = [row[1].value for row in book["会員別"].iter_rows(min_row=2)]
    assert names == ["北海道札幌市"]


def test_a_bad_filter_falls_back_to_this_nendo_with_a_message(secretariat_client, year_2026):
    response = secretariat_client.get(reverse("office:nendo_report"), {"nendo": "abc"})
    assert response.status_code == 200
    assert "条件を読めませんでした" in response.content.decode()


def test_staff_without_the_report_permissions_are_refused(client, year_2026):
    staff = User.objects.create_user("hojo", "hojo@example.jp", "x-long-passphrase", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_member"))
    client.force_login(staff)
    assert client.get(reverse("office:nendo_report")).status_code == 403
    assert "office/report" not in client.get(reverse("admin:index")).content.decode()


def test_a_title_that_looks_like_a_formula_stays_text_in_the_workbook(year_2026, tmp_path):
    june = year_2026["june"]
    june.title = '=HYPERLINK("http://evil.example/","研修")'
    events.save_training(june)
    path = tmp_path / "report.xlsx"
    call_command("report_nendo", "--nendo", "2026", "--output", str(path), stdout=io.StringIO())
    cell = openpyxl.load_workbook(path)["研修会別"]["A2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
