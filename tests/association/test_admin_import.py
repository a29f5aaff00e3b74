import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from association import services
from association.models import AuditEntry, Contact, User

HEADER = "団体コード,氏名,ふりがな,所属,役職,メールアドレス,電話番号,役割"
IMPORT_URL = "/admin/association/contact/import/"
CONFIRM_URL = "/admin/association/contact/import/confirm/"


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


def staff_user(*codenames: str) -> User:
    user = User.objects.create_user("jimukyoku", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="association", codename__in=codenames)
    )
    return user


@pytest.fixture
def secretariat(db) -> User:
    return staff_user("view_contact", "add_contact", "change_contact")


def upload(text: str, name: str = "担当者.csv", encoding: str = "cp932") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\r\n".join([HEADER, text]) + "\r\n").encode(encoding))


def token_in(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, "no confirm form"
    return match.group(1)


def test_the_urls_have_the_names_the_contact_admin_uses():
    assert reverse("admin:association_contact_import") == IMPORT_URL
    assert reverse("admin:association_contact_import_confirm") == CONFIRM_URL


def test_the_changelist_offers_the_import_to_the_secretariat(client, secretariat):
    client.force_login(secretariat)

    response = client.get("/admin/association/contact/")

    assert response.status_code == 200
    assert f'href="{IMPORT_URL}"' in response.content.decode()
    assert "Excelから取込" in response.content.decode()


def test_a_staff_user_who_may_only_view_sees_no_button_and_is_refused(client, db):
    client.force_login(staff_user("view_contact"))

    changelist = client.get("/admin/association/contact/")
    assert changelist.status_code == 200
    assert IMPORT_URL not in changelist.content.decode()
    assert client.get(IMPORT_URL).status_code == 403
    assert client.post(CONFIRM_URL, {"token": "x"}).status_code == 403


def test_a_user_who_is_not_staff_is_sent_to_the_admin_login(client, alice, tmp_path):
    assert alice.user is not None
    client.force_login(alice.user)

    response = client.post(IMPORT_URL, {"file": upload("131237,田中 翔,,,,sho@example.jp,,")})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not Contact.objects.filter(email="sho@example.jp").exists()


def test_the_secretariat_previews_then_imports_exactly_what_was_previewed(
    client, secretariat, alice, settings
):
    client.force_login(secretariat)
    file = upload(
        "131237,佐藤 美咲,さとう みさき,健康部 保健予防課,課長,alice@city.edogawa.example.jp,,取りまとめ担当\r\n"
        "131237,田中 翔,たなか しょう,,,sho@city.edogawa.example.jp,,"
    )

    preview = client.post(IMPORT_URL, {"file": file})

    html = preview.content.decode()
    assert preview.status_code == 200
    assert "新規 1件、更新 1件、変更なし 0件" in html
    assert '<tr class="import-update">' in html and '<tr class="import-create">' in html
    # The changed cell shows the new title over the old (empty) one.
    assert '<td class="import-changed">課長<br><del class="help">（空欄）</del></td>' in html
    assert "sho@city.edogawa.example.jp" in html
    assert not Contact.objects.filter(email="sho@city.edogawa.example.jp").exists()
    stored = list((settings.VAR_DIR / "contact-imports").iterdir())
    assert len(stored) == 1

    confirmed = client.post(CONFIRM_URL, {"token": token_in(html)})

    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("admin:association_contact_changelist")
    assert not stored[0].exists()
    sho = Contact.objects.get(email="sho@city.edogawa.example.jp")
    alice.refresh_from_db()
    assert alice.title == "課長"
    assert AuditEntry.objects.get(action="contact_added", object_id=str(sho.pk)).actor == (
        secretariat
    )
    assert AuditEntry.objects.get(action="contact_updated").actor == secretariat
    page = client.get(confirmed["Location"]).content.decode()
    assert "新規 1件、更新 1件、変更なし 0件" in page
    # The same token cannot import twice: its file is gone.
    again = client.post(CONFIRM_URL, {"token": token_in(html)})
    assert again.status_code == 302 and again["Location"] == IMPORT_URL


def test_a_file_with_errors_shows_them_all_and_offers_no_confirm(
    client, secretariat, edogawa, settings
):
    client.force_login(secretariat)
    file = upload(
        "131237,田中 翔,,,,sho@city.edogawa.example.jp,,\r\n"
        "131230,伊藤 花,,,,hana@city.edogawa.example.jp,,\r\n"
        "131237,,,,,kai@city.edogawa.example.jp,,",
        name="名簿.csv",
        encoding="utf-8-sig",
    )

    response = client.post(IMPORT_URL, {"file": file})

    html = response.content.decode()
    assert (
        "3行目「団体コード」: 団体コード「131230」の検査数字が正しくありません（末尾は 7 のはずです）。"
        in html
    )
    assert "4行目「氏名」: 氏名が空です。" in html
    assert 'name="token"' not in html
    assert not (settings.VAR_DIR / "contact-imports").exists()
    assert not Contact.objects.exists()


def test_a_preview_the_registry_has_moved_past_is_shown_again_not_imported(
    client, secretariat, edogawa
):
    client.force_login(secretariat)
    preview = client.post(IMPORT_URL, {"file": upload("131237,田中 翔,,,,sho@example.jp,,")})
    services.add_contact(edogawa, name="田中 翔", email="sho@example.jp", title="主事")

    response = client.post(CONFIRM_URL, {"token": token_in(preview.content.decode())})

    html = response.content.decode()
    assert response.status_code == 200
    assert "確認の後に登録内容が変わりました" in html
    assert '<tr class="import-update">' in html
    assert Contact.objects.get().title == "主事"
    # Confirming the fresh preview imports it.
    client.post(CONFIRM_URL, {"token": token_in(html)})
    assert Contact.objects.get().title == ""


def test_a_token_belongs_to_the_user_who_previewed(client, secretariat, edogawa):
    client.force_login(secretariat)
    preview = client.post(IMPORT_URL, {"file": upload("131237,田中 翔,,,,sho@example.jp,,")})
    other = User.objects.create_user("other", is_staff=True, is_superuser=True)
    client.force_login(other)

    response = client.post(CONFIRM_URL, {"token": token_in(preview.content.decode())})

    assert response.status_code == 302 and response["Location"] == IMPORT_URL
    assert not Contact.objects.exists()


def test_it_refuses_a_file_that_is_not_a_spreadsheet(client, secretariat):
    client.force_login(secretariat)

    response = client.post(IMPORT_URL, {"file": SimpleUploadedFile("photo.jpg", b"\xff\xd8")})

    assert response.status_code == 200
    assert "Excel（.xlsx）または CSV ファイルを選んでください。" in response.content.decode()


def test_the_secretariat_downloads_the_export_and_it_imports_back_unchanged(
    client, secretariat, alice, charlie
):
    client.force_login(secretariat)
    changelist = client.get("/admin/association/contact/").content.decode()
    assert 'href="/admin/association/contact/export/?format=xlsx"' in changelist

    response = client.get("/admin/association/contact/export/?format=xlsx")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    preview = client.post(
        IMPORT_URL, {"file": SimpleUploadedFile("担当者一覧.xlsx", response.content)}
    )
    assert "新規 0件、更新 0件、変更なし 2件" in preview.content.decode()
    csv_response = client.get("/admin/association/contact/export/?format=csv")
    assert csv_response.content.startswith(b"\xef\xbb\xbf\xe5\x9b\xa3")  # BOM, then 団


def test_a_staff_user_without_the_view_permission_cannot_export(client, db, alice):
    client.force_login(staff_user("add_contact"))

    assert client.get("/admin/association/contact/export/").status_code == 403
