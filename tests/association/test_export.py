import datetime as dt
import io

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from association import importing, services
from association.models import Contact

from ..conftest import lg


def export(tmp_path, *args: str) -> bytes:
    fmt = "xlsx" if "xlsx" in args else "csv"
    path = tmp_path / f"contacts.{fmt}"
    call_command("export_contacts", *args, "--output", str(path), stderr=io.StringIO())
    return path.read_bytes()


@pytest.fixture
def sapporo_contact(registry) -> Contact:
    """A code with a leading zero, and a phone number and a department Excel would mangle."""
    sapporo = services.admit_member(lg("北海道札幌市"), joined_on=dt.date(2020, 4, 1))
    return services.add_contact(
        sapporo,
        name="山田 太郎",
        kana="やまだ たろう",
        department="=保健福祉局",
        title="係長",
        email="taro@city.sapporo.example.jp",
        phone="011-211-0000",
    )


def test_it_writes_a_csv_excel_opens_as_utf8_with_crlf(alice, bob, tmp_path):
    data = export(tmp_path, "--format", "csv")

    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == "団体コード,団体名,氏名,ふりがな,所属,役職,メールアドレス,電話番号,役割,有効"
    assert lines[1] == (
        "131237,東京都江戸川区,佐藤 美咲,さとう みさき,健康部 保健予防課,,"
        "alice@city.edogawa.example.jp,,取りまとめ担当,はい"
    )
    assert lines[2].startswith("131237,東京都江戸川区,鈴木 健太,")
    assert lines[3:] == [""]
    assert "\n" not in text.replace("\r\n", "")


def test_it_writes_codes_and_phone_numbers_as_text_in_xlsx(sapporo_contact, tmp_path):
    book = openpyxl.load_workbook(io.BytesIO(export(tmp_path, "--format", "xlsx")))
    sheet = book.active
    assert sheet is not None

    assert [cell.value for cell in sheet[1]][:3] == ["団体コード", "団体名", "氏名"]
    code, phone, department = sheet["A2"], sheet["H2"], sheet["E2"]
    assert code.value == "011002" and code.data_type == "s" and code.number_format == "@"
    assert phone.value == "011-211-0000" and phone.number_format == "@"
    # A value that looks like a formula stays text, not a formula Excel would run.
    assert department.value == "=保健福祉局" and department.data_type == "s"


def test_it_guards_a_formula_like_value_in_csv(sapporo_contact, tmp_path):
    text = export(tmp_path, "--format", "csv").decode("utf-8-sig")

    assert ",'=保健福祉局," in text


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_unchanged(fmt, alice, bob, charlie, sapporo_contact, tmp_path):
    data = export(tmp_path, "--format", fmt)

    plan = importing.import_contacts(data, filename=f"contacts.{fmt}")

    assert plan.applied, [str(error) for error in plan.errors]
    assert plan.ignored_columns == ["団体名", "有効"]
    assert [row.action_label for row in plan.rows] == ["変更なし"] * 4
    assert {row.contact for row in plan.rows} == {alice, bob, charlie, sapporo_contact}


def test_an_edited_export_imports_as_updates_and_new_rows(alice, bob, tmp_path):
    text = export(tmp_path, "--format", "csv").decode("utf-8-sig")
    text = text.replace("健康部 保健予防課", "健康部 保健予防課 自殺対策係")
    text += (
        "131237,東京都江戸川区,田中 翔,たなか しょう,,,sho@city.edogawa.example.jp,,担当者,はい\r\n"
    )

    plan = importing.import_contacts(text.encode("cp932"))

    assert plan.applied, [str(error) for error in plan.errors]
    assert [(row.action_label, row.changed_labels) for row in plan.rows] == [
        ("更新", ["所属"]),
        ("変更なし", []),
        ("新規", []),
    ]
    alice.refresh_from_db()
    assert alice.department == "健康部 保健予防課 自殺対策係"


def test_it_leaves_out_inactive_contacts_unless_asked(alice, bob, tmp_path):
    services.deactivate_contact(bob)

    active_only = export(tmp_path, "--format", "csv").decode("utf-8-sig")
    everyone = export(tmp_path, "--format", "csv", "--include-inactive").decode("utf-8-sig")

    assert "bob@" not in active_only and "alice@" in active_only
    assert "bob@city.edogawa.example.jp,,担当者,いいえ" in everyone


def test_it_writes_csv_to_standard_output_and_wants_a_file_for_xlsx(alice):
    out = io.StringIO()
    call_command("export_contacts", stdout=out)
    assert out.getvalue().startswith("\ufeff団体コード,")

    with pytest.raises(CommandError, match="--output"):
        call_command("export_contacts", "--format", "xlsx", stdout=io.StringIO())


def test_the_admins_export_holds_what_the_list_on_screen_shows(client, alice, bob, charlie):
    from django.urls import reverse

    from association.models import AuditEntry, User

    user = User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")
    client.force_login(user)
    changelist = reverse("admin:association_contact_changelist")
    page = client.get(changelist, {"q": "えどがわ すずき"}).content.decode()
    assert "表示中の担当者をCSVに書き出し" in page
    url = reverse("admin:association_contact_export")
    searched = client.get(url, {"format": "csv", "q": "えどがわ すずき"}).content.decode(
        "utf-8-sig"
    )
    assert "鈴木 健太" in searched and "佐藤 美咲" not in searched and "高橋" not in searched
    by_role = client.get(url, {"format": "csv", "role__exact": "coordinator"}).content
    text = by_role.decode("utf-8-sig")
    assert "佐藤 美咲" in text and "高橋 由美子" in text and "鈴木 健太" not in text
    everyone = client.get(url, {"format": "csv"}).content.decode("utf-8-sig")
    assert all(name in everyone for name in ("佐藤 美咲", "鈴木 健太", "高橋 由美子"))
    entry = AuditEntry.objects.filter(action="contacts_exported").first()
    assert entry is not None and entry.changes.get("filters") in ("", None)
