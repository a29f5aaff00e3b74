import datetime as dt
import io

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from association import importing, services
from association.models import AuditEntry, Contact, Member, User

from ..conftest import lg

HEADER = "団体コード,氏名,ふりがな,所属,役職,メールアドレス,電話番号,役割"


def csv_file(*lines: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(encoding) + b"\r\n"


def xlsx_file(*rows: list[object]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_contacts", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def errors(plan: importing.ImportPlan) -> list[str]:
    return [str(error) for error in plan.errors]


def test_it_imports_a_shift_jis_file_as_excel_saves_it(edogawa, adachi, tmp_path):
    path = tmp_path / "担当者.csv"
    path.write_bytes(
        csv_file(
            HEADER,
            "131237,佐藤 美咲,さとう みさき,健康部 保健予防課,係長,misaki@city.edogawa.example.jp,03-5662-0000,取りまとめ担当",
            "131211,髙橋 一郎,たかはし いちろう,衛生部,,ichiro@city.adachi.example.jp,,担当者",
            encoding="cp932",
        )
    )

    out, _ = run(str(path))

    assert "新規 2件、更新 0件、変更なし 0件" in out
    misaki = Contact.objects.get(email="misaki@city.edogawa.example.jp")
    assert misaki.member == edogawa
    assert misaki.department == "健康部 保健予防課"
    assert misaki.role == Contact.Role.COORDINATOR
    assert misaki.user is not None and misaki.user.email == misaki.email
    assert Contact.objects.get(member=adachi).name == "髙橋 一郎"
    entries = AuditEntry.objects.filter(action="contact_added")
    assert entries.count() == 2
    assert all(entry.actor is None for entry in entries)


def test_it_imports_a_utf8_file_with_a_byte_order_mark(edogawa):
    data = csv_file(
        HEADER, "131237,田中 翔,たなか しょう,,,sho@city.edogawa.example.jp,,", encoding="utf-8-sig"
    )
    assert data.startswith(b"\xef\xbb\xbf")

    plan = importing.import_contacts(data, filename="contacts.csv")

    assert plan.applied, errors(plan)
    assert plan.columns == list(importing.FIELDS)
    assert Contact.objects.get(email="sho@city.edogawa.example.jp").name == "田中 翔"


def test_it_imports_an_xlsx_file_with_a_title_row_and_codes_stored_as_numbers(edogawa, adachi):
    data = xlsx_file(
        ["令和8年度 担当者名簿"],
        ["団体コード", "氏名", "フリガナ", "メールアドレス", "役割"],
        [131237, "田中 翔", "ﾀﾅｶ ｼｮｳ", "sho@city.edogawa.example.jp", "担当者"],
        [13121, "伊藤 花", "イトウ ハナ", "hana@city.adachi.example.jp", "取りまとめ担当"],
        [None, None, None, None, None],
    )

    plan = importing.import_contacts(data, filename="名簿.xlsx")

    assert plan.applied, errors(plan)
    assert [(row.row, row.action) for row in plan.rows] == [(3, "create"), (4, "create")]
    sho = Contact.objects.get(email="sho@city.edogawa.example.jp")
    assert sho.kana == "タナカ ショウ"
    assert Contact.objects.get(email="hana@city.adachi.example.jp").member == adachi


def test_it_reads_full_width_text_and_tolerates_header_variants(edogawa):
    data = csv_file(
        "＊団体コード（必須）, 氏　名 ※必須,よみ,所 属,役職,Ｅ－ｍａｉｌ,電話,ROLE",
        "１３１２３７,　佐藤　美咲　,さとう　みさき,ＩＴ推進課,,ＭＩＳＡＫＩ＠ＣＩＴＹ．ＥＤＯＧＡＷＡ．ＥＸＡＭＰＬＥ．ＪＰ,０３－１２３４－５６７８,coordinator",
    )

    plan = importing.import_contacts(data)

    assert plan.applied, errors(plan)
    contact = Contact.objects.get(member=edogawa)
    assert contact.name == "佐藤 美咲"
    assert contact.kana == "さとう みさき"
    assert contact.department == "IT推進課"
    assert contact.email == "misaki@city.edogawa.example.jp"
    assert contact.phone == "03-1234-5678"
    assert contact.role == Contact.Role.COORDINATOR


def test_it_completes_a_five_digit_code_with_its_check_digit(edogawa):
    plan = importing.import_contacts(csv_file("code,name,email", "13123,Sho Tanaka,sho@example.jp"))

    assert plan.applied, errors(plan)
    assert Contact.objects.get(email="sho@example.jp").member == edogawa


def test_it_restores_the_leading_zero_a_spreadsheet_dropped_from_a_six_digit_code(registry):
    sapporo = services.admit_member(lg("北海道札幌市"), joined_on=dt.date(2020, 4, 1))

    plan = importing.import_contacts(
        csv_file("団体コード,氏名,メール", "11002,山田 太郎,taro@example.jp")
    )

    assert plan.applied, errors(plan)
    assert Contact.objects.get(email="taro@example.jp").member == sapporo


def test_it_asks_for_six_digits_when_a_five_digit_code_reads_two_ways(registry):
    services.admit_member(lg("北海道三笠市"), joined_on=dt.date(2020, 4, 1))

    plan = importing.import_contacts(
        csv_file("団体コード,氏名,メール", "12220,山田 太郎,taro@example.jp")
    )

    assert not plan.applied
    assert len(plan.errors) == 1
    message = str(plan.errors[0])
    assert message.startswith("2行目「団体コード」:")
    assert "012220（北海道三笠市）" in message and "122203（千葉県流山市）" in message


def test_it_names_the_row_and_field_of_a_wrong_check_digit(edogawa):
    data = csv_file(
        HEADER, "131237,佐藤 美咲,,,,misaki@example.jp,,", "131230,田中 翔,,,,sho@example.jp,,"
    )

    plan = importing.import_contacts(data)

    assert errors(plan) == [
        "3行目「団体コード」: 団体コード「131230」の検査数字が正しくありません（末尾は 7 のはずです）。"
    ]
    assert not Contact.objects.exists()


def test_it_refuses_a_code_that_is_not_in_the_list(edogawa):
    plan = importing.import_contacts(csv_file(HEADER, "999997,佐藤 美咲,,,,misaki@example.jp,,"))

    assert errors(plan) == [
        "2行目「団体コード」: 団体コード「999997」は全国地方公共団体コードの一覧にありません。"
    ]


def test_it_refuses_a_municipality_that_is_not_a_member_naming_it(edogawa, adachi):
    services.withdraw_member(adachi, left_on=dt.date(2025, 3, 31))
    data = csv_file(
        HEADER,
        "131032,佐藤 美咲,,,,misaki@example.jp,,",
        "131211,田中 翔,,,,sho@example.jp,,",
    )

    plan = importing.import_contacts(data)

    assert errors(plan) == [
        "2行目「団体コード」: 団体コード「131032」の東京都港区は会員ではありません。",
        "3行目「団体コード」: 団体コード「131211」の東京都足立区は退会しています（令和7年3月31日）。",
    ]
    assert not Contact.objects.exists()


def test_it_writes_nothing_when_one_row_among_good_ones_is_bad_and_names_every_error(
    alice, adachi, tmp_path
):
    audit_before = AuditEntry.objects.count()
    path = tmp_path / "contacts.csv"
    path.write_bytes(
        csv_file(
            HEADER,
            "131237,佐藤 美咲,さとう みさき,健康部 保健予防課,課長,alice@city.edogawa.example.jp,,取りまとめ担当",
            "131237,田中 翔,,,,sho.city.edogawa.example.jp,,",
            "131211,伊藤 花,,,,hana@city.adachi.example.jp,,",
            "131211,,,,,kai@city.adachi.example.jp,,部長",
            "131237,鈴木 健太,,,,Sho@City.Edogawa.example.jp,,",
            "131237,鈴木 健二,,,,SHO@city.edogawa.example.jp,,",
        )
    )

    with pytest.raises(CommandError, match="エラーが 4 件あります"):
        run(str(path))
    plan = importing.import_contacts(path.read_bytes())

    assert errors(plan) == [
        "3行目「メールアドレス」: メールアドレス「sho.city.edogawa.example.jp」の形式が正しくありません。",
        "5行目「氏名」: 氏名が空です。",
        "5行目「役割」: 役割「部長」は「取りまとめ担当」か「担当者」で入力してください。",
        "7行目「メールアドレス」: sho@city.edogawa.example.jp は6行目と重複しています（東京都江戸川区）。",
    ]
    assert list(Contact.objects.all()) == [alice]
    alice.refresh_from_db()
    assert alice.title == ""
    assert AuditEntry.objects.count() == audit_before


def test_it_allows_the_same_address_at_two_members(edogawa, adachi):
    data = csv_file(
        HEADER, "131237,佐藤 美咲,,,,shared@example.jp,,", "131211,佐藤 美咲,,,,shared@example.jp,,"
    )

    plan = importing.import_contacts(data)

    assert plan.applied, errors(plan)
    assert Contact.objects.filter(email="shared@example.jp").count() == 2


def test_it_names_a_missing_required_column(edogawa):
    plan = importing.import_contacts(csv_file("団体コード,氏名,所属", "131237,佐藤 美咲,健康部"))

    assert errors(plan) == ["1行目「メールアドレス」: 必須の列がありません。"]


def test_a_dry_run_reports_each_row_and_writes_nothing(alice, bob, tmp_path):
    audit_before = AuditEntry.objects.count()
    path = tmp_path / "contacts.csv"
    path.write_bytes(
        csv_file(
            HEADER,
            "131237,佐藤 美咲,さとう みさき,健康部 保健予防課,課長,alice@city.edogawa.example.jp,,取りまとめ担当",
            "131237,鈴木 健太,すずき けんた,,,bob@city.edogawa.example.jp,,担当者",
            "131237,田中 翔,たなか しょう,,,sho@city.edogawa.example.jp,,",
            ",,,,,,,",
            "",
        )
    )

    out, _ = run(str(path), "--dry-run")

    assert out.splitlines() == [
        "2行目 更新: 東京都江戸川区 佐藤 美咲 <alice@city.edogawa.example.jp>（変更: 役職）",
        "3行目 変更なし: 東京都江戸川区 鈴木 健太 <bob@city.edogawa.example.jp>",
        "4行目 新規: 東京都江戸川区 田中 翔 <sho@city.edogawa.example.jp>",
        "新規 1件、更新 1件、変更なし 1件（試行のため、書き込んでいません）",
    ]
    assert Contact.objects.count() == 2
    alice.refresh_from_db()
    assert alice.title == ""
    assert AuditEntry.objects.count() == audit_before


def test_it_updates_only_the_fields_that_differ_through_the_service(alice):
    staff = User.objects.create_user("jimukyoku", is_staff=True)
    data = csv_file(
        "団体コード,氏名,メールアドレス,役職,電話番号",
        "131237,佐藤 美咲,ALICE@city.edogawa.example.jp,課長,03-0000-0000",
    )

    plan = importing.import_contacts(data, by=staff)

    assert plan.applied, errors(plan)
    assert [(row.action, row.changed_labels) for row in plan.rows] == [
        ("update", ["役職", "電話番号"])
    ]
    alice.refresh_from_db()
    assert (alice.title, alice.phone) == ("課長", "03-0000-0000")
    # Columns the file does not have are left alone: she stays the coordinator.
    assert alice.role == Contact.Role.COORDINATOR
    assert alice.department == "健康部 保健予防課"
    entry = AuditEntry.objects.get(action="contact_updated")
    assert entry.actor == staff
    assert entry.changes == {"title": "課長", "phone": "03-0000-0000"}


def test_reimporting_an_unchanged_file_reports_no_change_for_every_row(edogawa):
    data = xlsx_file(
        ["団体コード", "氏名", "ふりがな", "メールアドレス", "役割"],
        ["131237", "佐藤 美咲", "さとう みさき", "alice@example.jp", "取りまとめ担当"],
        ["131237", "鈴木 健太", "すずき けんた", "bob@example.jp", ""],
    )
    assert importing.import_contacts(data).applied
    audit_before = AuditEntry.objects.count()

    plan = importing.import_contacts(data)

    assert plan.applied
    assert [row.action_label for row in plan.rows] == ["変更なし", "変更なし"]
    assert AuditEntry.objects.count() == audit_before


def test_it_refuses_to_apply_a_preview_the_registry_has_moved_past(edogawa):
    data = csv_file(HEADER, "131237,佐藤 美咲,,,,alice@example.jp,,")
    preview = importing.import_contacts(data, dry_run=True)
    services.add_contact(edogawa, name="佐藤 美咲", email="alice@example.jp", title="課長")

    plan = importing.import_contacts(data, expected=preview.fingerprint())

    assert plan.outdated and not plan.applied
    assert [row.action for row in plan.rows] == ["update"]
    assert Contact.objects.get().title == "課長"


def test_it_refuses_an_old_excel_file_and_an_unreadable_encoding(edogawa):
    old_excel = importing.import_contacts(b"\xd0\xcf\x11\xe0" + b"\0" * 100, filename="a.xls")
    assert ".xls" in errors(old_excel)[0]

    garbage = importing.import_contacts(b"\x82\xa0\xff\xfe\x80\x81,\x00")
    assert not garbage.applied and garbage.errors


def test_an_imported_contact_gets_a_login_through_the_service(edogawa):
    plan = importing.import_contacts(csv_file(HEADER, "131237,佐藤 美咲,,,,alice@example.jp,,"))

    assert plan.applied
    user = Contact.objects.get().user
    assert user is not None and user.is_active and not user.has_usable_password()
    assert Member.objects.get().contacts.count() == 1


def test_it_refuses_a_value_longer_than_the_register_holds(edogawa):
    long_title = "主任" * 31

    plan = importing.import_contacts(
        csv_file(HEADER, f"131237,佐藤 美咲,,,{long_title},a@example.jp,,")
    )

    assert errors(plan) == ["2行目「役職」: 60文字以内で入力してください（62文字あります）。"]


def test_it_reads_excels_unicode_text_with_tabs(edogawa):
    data = "団体コード\t氏名\tメールアドレス\r\n131237\t佐藤 美咲\talice@example.jp\r\n".encode(
        "utf-16"
    )

    plan = importing.import_contacts(data, filename="担当者.txt")

    assert plan.applied, errors(plan)
    assert Contact.objects.get().name == "佐藤 美咲"


def test_planning_a_long_file_takes_a_few_queries_not_one_per_row(
    alice, adachi, django_assert_max_num_queries
):
    lines = [
        f"{code},担当 {i},,,,staff{i}@example.jp,,"
        for i in range(60)
        for code in ("131237", "131211")
    ]
    data = csv_file(HEADER, "131237,佐藤 美咲,,,,alice@city.edogawa.example.jp,,", *lines)

    with django_assert_max_num_queries(3):
        plan = importing.plan_import(data)

    assert not plan.errors
    assert (plan.created, plan.unchanged + plan.updated) == (120, 1)


def test_it_names_a_broken_unicode_text_file_instead_of_failing():
    plan = importing.plan_import(b"\xff\xfe\x41", filename="contacts.txt")
    assert any("Unicode テキストとして読めない" in str(error) for error in plan.errors)
