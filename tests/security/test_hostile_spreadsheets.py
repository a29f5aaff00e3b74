"""Attack: upload a hostile .xlsx to the contact import (issue 8 §6). Each is refused with a
Japanese message, writes nothing, stores no preview, and the reader's memory stays bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from association import importing, spreadsheets
from association.models import AuditEntry, Contact, User

from . import hostile_xlsx

IMPORT_URL = "/admin/association/contact/import/"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def secretariat_client(client, db):
    user = User.objects.create_user("jimukyoku", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="association",
            codename__in=["view_contact", "add_contact", "change_contact"],
        )
    )
    client.force_login(user)
    return client


def _upload(client, data: bytes, name: str = "担当者.xlsx") -> str:
    response = client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200
    return response.content.decode()


def _nothing_written(settings) -> None:
    assert not Contact.objects.exists()
    assert not AuditEntry.objects.exclude(object_type="member").exists()
    previews = Path(settings.VAR_DIR) / "contact-imports"
    assert not previews.exists() or not any(previews.iterdir())


def _refusal(data: bytes, name: str = "担当者.xlsx") -> str:
    with pytest.raises(spreadsheets.UnreadableFile) as refused:
        list(importing.read_rows(data, name))
    return str(refused.value)


def test_a_zip_bomb_xlsx_is_refused_before_it_inflates(secretariat_client, edogawa, settings):
    bomb = hostile_xlsx.zip_bomb()
    assert len(bomb) < 1024 * 1024  # under the 5 MB upload limit, 120 MB inflated

    page = _upload(secretariat_client, bomb)

    assert "Excel ファイルの中身が大きすぎます" in page
    assert "上限は 20 MB" in page
    _nothing_written(settings)


def test_a_shared_strings_bomb_beyond_its_own_bound_is_refused():
    assert "中身が大きすぎます" in _refusal(hostile_xlsx.strings_bomb(7 * 1024 * 1024))


def test_a_zip_bomb_that_lies_about_its_size_inflates_no_further_than_it_claims(
    secretariat_client, edogawa, settings
):
    page = _upload(secretariat_client, hostile_xlsx.lying_zip_bomb())

    assert "Excel ファイルを読めません" in page
    _nothing_written(settings)


def test_an_entity_bomb_xlsx_is_refused(secretariat_client, edogawa, settings):
    page = _upload(secretariat_client, hostile_xlsx.entity_bomb())

    assert "安全に読めない内容" in page
    assert "lol" not in page
    _nothing_written(settings)


def test_an_xxe_xlsx_reads_no_local_file(secretariat_client, edogawa, settings, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-KEY-0123", encoding="utf-8")

    page = _upload(secretariat_client, hostile_xlsx.xxe(str(secret)))

    assert "安全に読めない内容" in page
    assert "TOP-SECRET" not in page
    _nothing_written(settings)


@pytest.mark.parametrize("case", [name for name, _data in hostile_xlsx.malformed()])
def test_a_malformed_xlsx_is_a_japanese_message_not_a_500(
    secretariat_client, edogawa, settings, case
):
    data = dict(hostile_xlsx.malformed())[case]

    page = _upload(secretariat_client, data)

    assert "Excel ファイルを読めません" in page
    assert "保存し直してください" in page
    _nothing_written(settings)


def test_a_sheet_claiming_its_far_corner_is_cut_at_the_row_limit():
    assert "行が多すぎます（20,000 行まで）" in _refusal(hostile_xlsx.far_corner())


def test_a_row_is_read_no_wider_than_the_column_limit():
    wide = [["131237", "佐藤 美咲", *["x"] * 300]]
    rows = list(spreadsheets.read_xlsx_rows(hostile_xlsx.workbook(wide)))
    assert all(len(cells) <= spreadsheets.MAX_COLUMNS for _n, cells in rows)


def test_a_csv_with_more_rows_than_the_limit_is_refused():
    text = "団体コード,氏名,メールアドレス\r\n" + "131237,佐藤,a@b.jp\r\n" * 20_000
    assert "行が多すぎます" in _refusal(text.encode(), "担当者.csv")


def test_an_oversized_file_from_the_command_line_is_refused_before_decoding():
    data = b"a," * (spreadsheets.MAX_FILE_BYTES // 2 + 1)
    assert "ファイルが大きすぎます（20 MB まで）" in _refusal(data, "担当者.csv")


def test_the_bounds_hold_for_every_reader_of_the_shared_module():
    """The member import and 調査票 uploads open workbooks through open_xlsx(): the same bounds."""
    bomb, entities = hostile_xlsx.zip_bomb(), hostile_xlsx.entity_bomb()
    with (
        pytest.raises(spreadsheets.UnreadableFile, match="大きすぎます"),
        spreadsheets.open_xlsx(bomb),
    ):
        pass
    with (
        pytest.raises(spreadsheets.UnreadableFile, match="安全に読めない"),
        spreadsheets.open_xlsx(entities, read_only=False),
    ):
        pass


def test_a_zip_asking_for_an_unknown_version_is_a_message_in_every_reader():
    """Found by Hypothesis in CI: zipfile raises NotImplementedError, not BadZipFile, for a
    damaged entry naming a zip version it lacks; both the roster reader and the 調査票 reader
    answer with their message."""
    from questions import xlsx

    damaged = hostile_xlsx.future_zip_version()
    with pytest.raises(spreadsheets.UnreadableFile, match="Excel"):
        list(spreadsheets.read_xlsx_rows(damaged))
    with pytest.raises(xlsx.FormFileError, match="壊れている"):
        xlsx.open_workbook(damaged)


GOOD = hostile_xlsx.workbook()


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=8)
)
def test_a_damaged_xlsx_gives_rows_or_a_message_and_never_another_error(flips):
    data = bytearray(GOOD)
    for at, value in flips:
        data[at] = value
    try:
        rows = list(spreadsheets.read_xlsx_rows(bytes(data)))
    except spreadsheets.UnreadableFile as refused:
        assert "Excel" in str(refused) or "行" in str(refused)
    else:
        assert len(rows) <= spreadsheets.MAX_ROWS


CHILD = """
import json, resource, sys, time, tracemalloc
import django
django.setup()
from association import importing
from tests.security import hostile_xlsx
data = getattr(hostile_xlsx, sys.argv[1])()
tracemalloc.start()
started = time.perf_counter()
try:
    rows = sum(1 for _ in importing.read_rows(data, "x.xlsx"))
    outcome = f"{rows} rows"
except importing.ImportFileError as exc:
    outcome = str(exc)
seconds = time.perf_counter() - started
_current, peak = tracemalloc.get_traced_memory()
print(json.dumps({"traced_peak_mb": peak / 2**20, "seconds": seconds, "outcome": outcome,
                  "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _measure(maker: str) -> dict[str, object]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, maker],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "maker", ["zip_bomb", "lying_zip_bomb", "strings_bomb", "entity_bomb", "far_corner"]
)
def test_reading_a_bomb_takes_bounded_memory(maker):
    """Peak memory of the reader in a fresh process (tracemalloc: every allocation of the
    parser, zipfile and openpyxl), against the same reader on a good workbook measured in the
    same run: under 64 MB whatever the file, where the issue's 412 KB bomb took 1.7 GB."""
    baseline = _measure("workbook")
    measured = _measure(maker)
    print(f"\n{maker}: {measured}\nbaseline: {baseline}")
    assert float(measured["traced_peak_mb"]) < 64  # type: ignore[arg-type]
    assert float(measured["rss_peak_mb"]) < float(baseline["rss_peak_mb"]) + 64  # type: ignore[arg-type]
    if maker != "strings_bomb":  # the worst file still accepted
        assert "rows" not in str(measured["outcome"])
