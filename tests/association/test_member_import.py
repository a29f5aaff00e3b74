"""Bring the existing roster in: members and agreements from Excel or CSV, all or nothing, and
a member list export that imports back unchanged."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from association import member_import, services
from association.models import Agreement, AuditEntry, Block, Member
from tests.conftest import lg


def _xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


ROSTER: list[list[object]] = [
    ["令和8年度 会員名簿"],  # a title above the header, as real files have
    ["団体コード", "団体名", "会員種別", "入会日", "ブロック", "連携協定日", "ハッシュタグ"],
    ["131237", "東京都江戸川区", "会員", "平成23年7月1日", "", "R1.5.1", "#いのちSOS江戸川"],
    ["１３１２１", "東京都足立区", "特別会員", "2011/7/1", "", "", ""],
    [11002, "北海道札幌市", "", "2020-04-01", "関東", "", ""],  # lost its leading zero
]


def test_a_roster_is_planned_row_by_row_and_writes_nothing_on_a_dry_run(registry):
    plan = member_import.import_members(_xlsx(ROSTER), filename="名簿.xlsx", dry_run=True)
    assert plan.errors == []
    assert [r.government.full_name for r in plan.rows] == [
        "東京都江戸川区",
        "東京都足立区",
        "北海道札幌市",
    ]
    assert [r.action for r in plan.rows] == ["create"] * 3
    assert plan.rows[0].new_agreement and plan.rows[0].agreed_on == dt.date(2019, 5, 1)
    assert plan.rows[1].kind == Member.Kind.SPECIAL
    assert plan.rows[2].block == Block.objects.get(name="関東")
    assert "新規 3団体" in plan.summary() and "連携協定の登録 1件" in plan.summary()
    assert not Member.objects.exists()


def test_a_roster_is_imported_through_the_services(registry):
    plan = member_import.import_members(_xlsx(ROSTER), filename="名簿.xlsx")
    assert plan.applied
    edogawa = Member.objects.get(local_government_id="131237")
    assert edogawa.joined_on == dt.date(2011, 7, 1) and edogawa.block.name == "関東"
    agreement = Agreement.objects.get()
    assert (agreement.signed_on, agreement.hashtag) == (dt.date(2019, 5, 1), "#いのちSOS江戸川")
    sapporo = Member.objects.get(local_government_id="011002")
    assert sapporo.block_override == Block.objects.get(name="関東")
    assert Member.objects.get(local_government_id="131211").kind == Member.Kind.SPECIAL
    assert AuditEntry.objects.filter(action="joined").count() == 3
    assert AuditEntry.objects.filter(action="agreement_recorded").count() == 1


def test_one_bad_cell_names_its_row_and_column_and_nothing_is_written(registry):
    rows: list[list[object]] = [
        ROSTER[1],
        ["131237", "", "会員", "令和8年2月30日", "", "", ""],
        ["999999", "", "会員", "", "", "", ""],
        ["131211", "", "準会員", "", "火星", "", "#タグだけ"],
        ["131016", "東京都千代田区", "", "", "", "", ""],
        ["１３１０１６", "", "", "", "", "", ""],
    ]
    plan = member_import.import_members(_xlsx(rows), filename="名簿.xlsx")
    messages = [str(e) for e in plan.errors]
    assert "2行目「入会日」: 2026年2月30日という日はありません。" in messages
    assert any(m.startswith("3行目「団体コード」") for m in messages)
    assert any("4行目「会員種別」" in m and "準会員" in m for m in messages)
    assert any("4行目「ブロック」" in m and "火星" in m for m in messages)
    assert any("4行目「連携協定日」" in m for m in messages)
    assert any(m.startswith("6行目「団体コード」") and "5行目と重複" in m for m in messages)
    assert not plan.applied and not Member.objects.exists()


def test_hostile_cells_stay_text_and_a_missing_code_column_is_named(registry):
    plan = member_import.import_members(_xlsx([["団体名", "会員種別"], ["x", "会員"]]))
    assert [str(e) for e in plan.errors] == ["1行目「団体コード」: 必須の列がありません。"]
    long_tag = "#" + "あ" * 70
    rows: list[list[object]] = [
        ROSTER[1],
        ["131237", "", "会員", "2011/7/1", "", "2019/5/1", long_tag],
    ]
    plan = member_import.import_members(_xlsx(rows))
    assert any("60文字以内" in str(e) for e in plan.errors)
    rows = [ROSTER[1], ["131237", "", "会員", "2011/7/1", "", "2019/5/1", "#a\r\nb"]]
    plan = member_import.import_members(_xlsx(rows))
    assert plan.applied and Agreement.objects.get().hashtag == "#a b"


def test_a_member_that_left_is_not_brought_back_by_an_import(registry):
    member = services.admit_member(lg("東京都江戸川区"), joined_on=dt.date(2011, 7, 1))
    services.withdraw_member(member, left_on=dt.date(2025, 3, 31))
    plan = member_import.import_members(_xlsx([ROSTER[1], ROSTER[2]]))
    assert any("退会しています" in str(e) for e in plan.errors)
    member.refresh_from_db()
    assert member.status == Member.Status.LEFT


def test_the_member_export_imports_back_unchanged(registry, tmp_path):
    member_import.import_members(_xlsx(ROSTER))
    edogawa = Member.objects.get(local_government_id="131237")
    services.add_contact(edogawa, name="佐藤 美咲", email="alice@city.edogawa.example.jp")
    path = tmp_path / "members.csv"
    call_command("export_members", "--output", str(path), stdout=io.StringIO())
    text = path.read_bytes().decode("utf-8-sig")
    assert "131237,東京都江戸川区,会員,2011-07-01,,2019-05-01,#いのちSOS江戸川,在籍,1" in text
    assert "011002,北海道札幌市,会員,2020-04-01,関東" in text
    plan = member_import.import_members(path.read_bytes(), filename="members.csv", dry_run=True)
    assert plan.errors == [] and plan.ignored_columns == ["団体名", "状態", "有効な担当者数"]
    assert {r.action for r in plan.rows} == {"unchanged"} and not plan.has_changes


def test_an_edited_export_changes_only_what_was_edited(registry, tmp_path):
    member_import.import_members(_xlsx(ROSTER))
    rows = [["団体コード", "会員種別", "ブロック"], ["131237", "特別会員", "近畿"]]
    plan = member_import.import_members(_xlsx(rows))
    assert plan.applied and plan.rows[0].changed == ["kind", "block"]
    edogawa = Member.objects.get(local_government_id="131237")
    assert edogawa.kind == Member.Kind.SPECIAL and edogawa.block.name == "近畿"
    assert edogawa.joined_on == dt.date(2011, 7, 1)  # not in the file: kept


def test_the_command_prints_the_plan_and_refuses_a_file_with_errors(registry, tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(_xlsx(ROSTER))
    out = io.StringIO()
    call_command("import_members", str(path), "--dry-run", stdout=out)
    assert "2行目" not in out.getvalue() and "3行目 新規: 東京都江戸川区" in out.getvalue()
    assert "確認のみ（書き込みなし）" in out.getvalue() and not Member.objects.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("団体コード,入会日\n131237,きのう\n", encoding="utf-8")
    with pytest.raises(CommandError, match="何も取り込みませんでした"):
        call_command("import_members", str(bad), stdout=io.StringIO(), stderr=io.StringIO())
    call_command("import_members", str(path), stdout=out)
    assert Member.objects.count() == 3


def test_the_admin_previews_a_roster_then_imports_exactly_that(client, registry):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from association.models import User

    user = User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")
    client.force_login(user)
    changelist = client.get(reverse("admin:association_member_changelist")).content.decode()
    assert "名簿をExcelから取込" in changelist and "会員一覧をCSVに書き出し" in changelist
    upload = SimpleUploadedFile("名簿.xlsx", _xlsx(ROSTER))
    page = client.post(reverse("admin:association_member_import"), {"file": upload})
    html = page.content.decode()
    assert "「名簿.xlsx」の確認（まだ取り込んでいません）" in html
    assert "新規 3団体" in html and "東京都江戸川区" in html and "登録する" in html
    assert not Member.objects.exists()
    token = page.context["token"]
    done = client.post(reverse("admin:association_member_import_confirm"), {"token": token})
    assert done.status_code == 302
    assert Member.objects.count() == 3 and Agreement.objects.count() == 1
    again = client.post(reverse("admin:association_member_import_confirm"), {"token": token})
    assert again.status_code == 302 and Member.objects.count() == 3  # the file is gone
    exported = client.get(reverse("admin:association_member_export"))
    assert "131237,東京都江戸川区" in exported.content.decode("utf-8-sig")


def test_staff_who_may_only_view_members_cannot_import(client, registry):
    from django.contrib.auth.models import Permission
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from association.models import User

    staff = User.objects.create_user("hojo", "hojo@example.jp", "x-long-passphrase", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_member"))
    client.force_login(staff)
    upload = SimpleUploadedFile("名簿.xlsx", _xlsx(ROSTER))
    response = client.post(reverse("admin:association_member_import"), {"file": upload})
    assert response.status_code == 403 and not Member.objects.exists()
