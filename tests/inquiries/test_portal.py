"""§1 and §4 in the portal: own municipality only, drafts and submission, the 調査票 round trip,
hostile files, the deadline."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inquiries.models import Reply
from questions.models import AnswerChange

from .conftest import by_text, reply_of


def client_for(contact) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(contact.user)
    return client


def answer_url(inquiry, member) -> str:  # type: ignore[no-untyped-def]
    return reverse("inquiries:answer", args=[member.local_government_id, inquiry.pk])


def post_data(inquiry, action: str, revision: int = 0, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    q = by_text(inquiry)
    data = {
        "action": action,
        "revision": str(revision),
        f"q{q['担当課名'].pk}": "保健予防課",
        f"q{q['自殺対策の予算額'].pk}": "１２，５００",
        f"q{q['計画の策定状況'].pk}": "策定中",
        f"q{q['ゲートキーパー研修を実施していますか'].pk}": "yes",
        f"q{q['主な事業'].pk}-rows": "1",
        f"q{q['主な事業'].pk}-0-0": "相談窓口",
        f"q{q['主な事業'].pk}-0-1": "300",
    }
    data.update(extra)
    return data


def test_the_portal_home_lists_the_inquiry_and_the_page_shows_the_warning(inquiry, edogawa, bob):
    client = client_for(bob)
    home = client.get(reverse("portal:member", args=[edogawa.local_government_id]))
    assert inquiry.title in home.content.decode()
    page = client.get(answer_url(inquiry, edogawa)).content.decode()
    assert "要配慮個人情報" in page
    assert 'value="submit"' not in page  # staff draft; the coordinator submits


def test_staff_save_a_draft_and_the_coordinator_submits_on_the_web(inquiry, edogawa, alice, bob):
    response = client_for(bob).post(answer_url(inquiry, edogawa), post_data(inquiry, "draft"))
    assert response.status_code == 302
    reply = reply_of(inquiry, edogawa)
    assert reply.status == Reply.Status.DRAFT
    assert (
        client_for(bob)
        .post(answer_url(inquiry, edogawa), post_data(inquiry, "submit", revision=1))
        .status_code
        == 400
    )
    assert reply_of(inquiry, edogawa).status == Reply.Status.DRAFT
    response = client_for(alice).post(
        answer_url(inquiry, edogawa), post_data(inquiry, "submit", revision=1)
    )
    assert response.status_code == 302
    reply = reply_of(inquiry, edogawa)
    assert reply.is_submitted
    values = reply.answer_set.answers.values_list("value", flat=True)
    assert "12500" in list(values)


def test_another_municipalitys_staff_cannot_read_or_answer_edogawas_inquiry(
    inquiry, edogawa, adachi, charlie
):
    client = client_for(charlie)
    code = edogawa.local_government_id
    assert client.get(answer_url(inquiry, edogawa)).status_code == 403
    assert (
        client.post(answer_url(inquiry, edogawa), post_data(inquiry, "submit")).status_code == 403
    )
    xlsx_url = reverse("inquiries:form_xlsx", args=[code, inquiry.pk])
    assert client.get(xlsx_url).status_code == 403
    upload_url = reverse("inquiries:upload", args=[code, inquiry.pk])
    assert client.post(upload_url, {"file": io.BytesIO(b"x")}).status_code == 403
    assert not AnswerChange.objects.exists()
    # Its own page for an inquiry it was not sent: 404, not another member's reply.
    Reply.objects.filter(inquiry=inquiry, member=adachi).delete()
    own = reverse("inquiries:answer", args=[adachi.local_government_id, inquiry.pk])
    assert client.get(own).status_code == 404


def fill(data: bytes, inquiry, values: dict[str, object]) -> bytes:  # type: ignore[no-untyped-def]
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["調査票"]
    codes = {f"問{n}": q.text for n, q in enumerate(inquiry.question_set.questions.all(), start=1)}
    for row in sheet.iter_rows(min_row=1):
        code = row[0].value
        if code in codes and codes[code] in values:
            row[2].value = values[codes[code]]
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_xlsx_round_trip_fills_and_submits_the_answer(inquiry, edogawa, alice):
    client = client_for(alice)
    code = edogawa.local_government_id
    download = client.get(reverse("inquiries:form_xlsx", args=[code, inquiry.pk]))
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(download.content))
    header = {row[0].value: row[1].value for row in book["調査票"].iter_rows(min_row=4, max_row=5)}
    assert header == {"団体名": "東京都江戸川区", "団体コード": code}
    filled = fill(
        download.content,
        inquiry,
        {"担当課名": "保健予防課", "計画の策定状況": "未策定", "自殺対策の予算額": 800},
    )
    response = client.post(
        reverse("inquiries:upload", args=[code, inquiry.pk]),
        {"file": io.BytesIO(filled), "action": "submit"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    reply = reply_of(inquiry, edogawa)
    assert reply.is_submitted
    assert set(AnswerChange.objects.values_list("via", flat=True)) == {"Excel"}


def test_another_municipalitys_filled_file_is_refused(inquiry, edogawa, adachi, alice, charlie):
    theirs = (
        client_for(charlie)
        .get(reverse("inquiries:form_xlsx", args=[adachi.local_government_id, inquiry.pk]))
        .content
    )
    filled = fill(theirs, inquiry, {"担当課名": "足立の課", "計画の策定状況": "策定中"})
    response = client_for(alice).post(
        reverse("inquiries:upload", args=[edogawa.local_government_id, inquiry.pk]),
        {"file": io.BytesIO(filled), "action": "submit"},
    )
    assert response.status_code == 400
    assert "別の団体" in response.content.decode()
    assert not AnswerChange.objects.exists()


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"\0" * (30 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"not a spreadsheet", "Excel ファイル（.xlsx）ではありません"),
        (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "古い Excel 形式"),
        (b"PK\x03\x04broken", "壊れている"),
        (zip_bomb(), "大きすぎる"),
    ],
)
def test_a_hostile_or_broken_file_is_a_message_and_writes_nothing(
    inquiry, edogawa, alice, content, words
):
    response = client_for(alice).post(
        reverse("inquiries:upload", args=[edogawa.local_government_id, inquiry.pk]),
        {"file": io.BytesIO(content), "action": "submit"},
    )
    assert response.status_code == 400
    assert words in response.content.decode()
    assert reply_of(inquiry, edogawa).status == Reply.Status.NOT_STARTED
    assert not AnswerChange.objects.exists()


def test_a_file_with_one_bad_cell_names_the_cell_and_writes_nothing(inquiry, edogawa, alice):
    client = client_for(alice)
    code = edogawa.local_government_id
    data = client.get(reverse("inquiries:form_xlsx", args=[code, inquiry.pk])).content
    filled = fill(
        data,
        inquiry,
        {"担当課名": "課", "計画の策定状況": "策定中", "自殺対策の予算額": "たくさん"},
    )
    response = client.post(
        reverse("inquiries:upload", args=[code, inquiry.pk]), {"file": io.BytesIO(filled)}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "「調査票」シートのC" in page and "数値で入力してください" in page
    assert not AnswerChange.objects.exists()


def test_an_answer_after_the_deadline_is_refused_with_a_message(
    inquiry, edogawa, alice, monkeypatch
):
    after = inquiry.closes_at + dt.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: after)
    response = client_for(alice).post(answer_url(inquiry, edogawa), post_data(inquiry, "submit"))
    assert response.status_code == 400
    assert "回答期限" in response.content.decode()
    assert not AnswerChange.objects.exists()


def test_a_double_submit_keeps_one_submission(inquiry, edogawa, alice):
    client = client_for(alice)
    first = client.post(answer_url(inquiry, edogawa), post_data(inquiry, "submit"))
    assert first.status_code == 302
    count = AnswerChange.objects.count()
    again = client.post(answer_url(inquiry, edogawa), post_data(inquiry, "submit"))
    assert again.status_code == 400  # the form's revision is stale: nothing overwritten
    assert "他の方が保存" in again.content.decode()
    assert AnswerChange.objects.count() == count
