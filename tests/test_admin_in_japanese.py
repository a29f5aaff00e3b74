"""The secretariat's admin reads in Japanese on every page a superuser can open: the libraries'
models and fields (django-axes has no Japanese of its own) and the permission names Django
stores in English."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission

from association.admin import permission_label
from association.models import User
from tests.test_i18n import read_po

OVERRIDES = Path(settings.BASE_DIR) / "locale_overrides" / "ja" / "LC_MESSAGES"
# Words that are Japanese office usage, names or the content of the rows, not leftover English.
KNOWN = {
    "CSV", "Excel", "HTML", "ID", "Id", "IP", "KB", "LDAP", "LGWAN", "List", "Markdown",
    "Renkei", "PDF", "URL", "Accept", "HTTP", "User", "Agent", "GET", "POST", "SHA",
    "root", "example", "renkei", "jp", "lt", "gt", "lsaquo", "rsaquo", "unknown",
    "Command", "Control", "Mac",
}  # fmt: skip
ENGLISH = re.compile(r"[A-Za-z]+")


def _words(html: str) -> set[str]:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    return set(ENGLISH.findall(text)) - KNOWN


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", "root@renkei.example.jp", "x-long-pass-123")


@pytest.mark.django_db
def test_every_admin_index_list_and_add_page_reads_in_japanese(client, root):
    client.force_login(root)
    models = list(admin.site._registry)
    pages = ["/admin/"]
    pages += [f"/admin/{m._meta.app_label}/" for m in models]
    pages += [f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in models]
    pages += [f"/admin/{m._meta.app_label}/{m._meta.model_name}/add/" for m in models]
    english: dict[str, str] = {}
    opened = 0
    for url in dict.fromkeys(pages):
        response = client.get(url)
        if response.status_code != 200:
            continue
        opened += 1
        for word in _words(response.content.decode()):
            english.setdefault(word, url)
    assert opened > 40
    assert english == {}


@pytest.mark.django_db
def test_the_login_records_are_named_in_japanese(client, root):
    client.force_login(root)
    home = client.get("/admin/").content.decode()
    assert "ログインの記録" in home and "ログイン試行" in home and "ログイン履歴" in home
    assert "Axes" not in home and "Access attempts" not in home


@pytest.mark.django_db
def test_a_permission_is_named_by_its_model_and_act_in_japanese():
    def label(app: str, codename: str) -> str:
        return permission_label(
            Permission.objects.select_related("content_type").get(
                content_type__app_label=app, codename=codename
            )
        )

    assert label("association", "change_contact") == "会員名簿 | 担当者 | 変更"
    assert label("axes", "view_accessattempt") == "ログインの記録 | ログイン試行 | 閲覧"
    assert label("otp_totp", "delete_totpdevice").endswith("| 認証アプリ | 削除")
    assert label("auth", "add_group").endswith("| 追加")
    assert label("otp_totp", "delete_totpdevice").startswith("二段階認証（認証アプリ） |")
    own = [
        p
        for p in Permission.objects.select_related("content_type")
        if p.content_type.app_label in ("association", "mailing", "events")
        and p.codename.partition("_")[2] != p.content_type.model
    ]
    assert own
    for permission in own:
        assert permission_label(permission).endswith(f"| {permission.name}")


@pytest.mark.django_db
def test_the_group_form_lists_every_permission_in_japanese_in_a_few_queries(
    client, root, django_assert_max_num_queries
):
    client.force_login(root)
    with django_assert_max_num_queries(15):
        page = client.get("/admin/auth/group/add/").content.decode()
    assert "Can " not in page
    assert "会員名簿 | 担当者 | 変更" in page
    group = Group.objects.create(name="事務局")
    user = client.get(f"/admin/association/user/{root.pk}/change/").content.decode()
    assert "Can " not in user and "会員名簿 | 担当者 | 変更" in user
    assert group.name in user


def test_the_compiled_override_catalogue_is_the_written_one():
    with (OVERRIDES / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    written = [e for e in read_po(OVERRIDES / "django.po") if e["msgid"]]
    assert written
    for entry in written:
        msgstr = entry["msgstr"]
        assert isinstance(msgstr, list) and msgstr[0]
        assert compiled.gettext(str(entry["msgid"])) == msgstr[0]
