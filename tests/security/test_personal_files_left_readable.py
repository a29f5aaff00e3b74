"""Attack: another account on the server reads var/ (the secret key, the SQLite database, every
login code in the outbox), and an uploaded contact list lies under var/ until someone uploads
again (issue 8 §6). Files are 0600 and folders 0700 whatever the umask Renkei starts with;
an import preview is deleted once used and within the hour in any case."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from association import import_previews
from association.models import Contact, User
from association.tasks import remove_stale_import_previews_task

BASE_DIR = Path(__file__).resolve().parent.parent.parent
IMPORT_URL = "/admin/association/contact/import/"
CONFIRM_URL = "/admin/association/contact/import/confirm/"
ROWS = (
    "団体コード,氏名,ふりがな,所属,役職,メールアドレス,電話番号,役割\r\n"
    "131237,田中 翔,たなか しょう,,,sho@city.edogawa.example.jp,,\r\n"
)

MAKE_EVERY_FILE = """
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import connection
from association import import_previews
connection.ensure_connection()
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (x)")
cache.set("k", "v")
send_mail("確認コード", "123456", "jimukyoku@renkei.example.jp", ["alice@example.jp"])
import_previews.store(b"a,b", ".csv")
"""


def test_nothing_under_var_is_readable_by_another_account_even_under_umask_022(tmp_path):
    var = tmp_path / "var"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", MAKE_EVERY_FILE],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RENKEI_VAR_DIR": str(var)},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert result.returncode == 0, result.stderr

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(var / "secret_key") == 0o600
    assert mode(var / "renkei.sqlite3") == 0o600
    assert mode(var / "outbox") == 0o700
    assert [mode(p) for p in (var / "outbox").iterdir()] == [0o600]
    assert mode(var / "contact-imports") == 0o700
    everything = [var, *var.rglob("*")]
    assert len(everything) > 8
    readable = [str(p) for p in everything if mode(p) & 0o077]
    assert readable == []


@pytest.fixture
def secretariat_client(client, edogawa, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    user = User.objects.create_user("jimukyoku", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="association",
            codename__in=["view_contact", "add_contact", "change_contact"],
        )
    )
    client.force_login(user)
    return client


def _preview(client) -> tuple[str, Path]:
    upload = SimpleUploadedFile("名簿.csv", ROWS.encode("utf-8"))
    page = client.post(IMPORT_URL, {"file": upload}).content.decode()
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    (stored,) = import_previews.directory().iterdir()
    return token, stored


@pytest.mark.django_db
def test_a_preview_is_removed_once_confirmed(secretariat_client):
    token, stored = _preview(secretariat_client)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    secretariat_client.post(CONFIRM_URL, {"token": token})

    assert not stored.exists()
    assert Contact.objects.filter(email="sho@city.edogawa.example.jp").exists()


@pytest.mark.django_db
def test_a_preview_nobody_confirms_is_gone_within_the_hour_and_cannot_be_confirmed(
    secretariat_client,
):
    token, stored = _preview(secretariat_client)
    uploaded = stored.stat().st_mtime

    assert import_previews.remove_stale(now=uploaded + import_previews.MAX_AGE_SECONDS - 1) == 0
    assert stored.exists()
    assert import_previews.remove_stale(now=uploaded + import_previews.MAX_AGE_SECONDS + 1) == 1
    assert not stored.exists()
    # The sweep runs often enough that no preview outlives an hour.
    from django.conf import settings

    (entry,) = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "association.remove_stale_import_previews"
    ]
    assert import_previews.MAX_AGE_SECONDS + float(entry["schedule"]) <= 3600  # type: ignore[arg-type]

    response = secretariat_client.post(CONFIRM_URL, {"token": token}, follow=True)
    assert "確認の有効期限が切れました" in response.content.decode()
    assert not Contact.objects.filter(email="sho@city.edogawa.example.jp").exists()


def test_the_worker_sweeps_stale_previews_away(celery_worker):
    folder = import_previews.directory()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stale, fresh = folder / "stale-test.csv", folder / "fresh-test.csv"
    for path in (stale, fresh):
        path.write_bytes("131237,佐藤 美咲".encode())
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    try:
        remove_stale_import_previews_task.delay()
        celery_worker.wait_for(lambda: not stale.exists())
        assert fresh.exists()
    finally:
        fresh.unlink(missing_ok=True)
        stale.unlink(missing_ok=True)
