"""The portal's 参加履歴: the trainings a staff member attended (a coordinator: their
municipality's staff), by 年度, each with its 参加証明書, however many 年度 ago. Another
municipality sees nothing of it; a plain staff member sees only their own."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from events import services as events
from events.models import Registration, Training

pytestmark = pytest.mark.django_db


def _training(title: str, start: dt.datetime) -> Training:
    return events.save_training(
        Training(
            kind=Training.Kind.NATIONAL,
            title=title,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=3),
            capacity=50,
            per_member_limit=10,
            status=Training.Status.PUBLISHED,
        )
    )


def _attend(training: Training, *present, absent=()) -> list[Registration]:
    before = training.starts_at - dt.timedelta(days=30)
    rows = [events.register_for_training(training, contact=c, now=before) for c in present]
    gone = [events.register_for_training(training, contact=c, now=before) for c in absent]
    after = training.ends_at
    events.mark_attendance(rows, attendance=Registration.Attendance.ATTENDED, now=after)
    events.mark_attendance(gone, attendance=Registration.Attendance.ABSENT, now=after)
    return rows


@pytest.fixture
def history(alice, bob, charlie):
    """令和4年度 (four 年度 ago): alice, bob (江戸川区) and charlie (足立区) attended;
    令和7年度: bob attended, alice registered but was absent."""
    zone = timezone.get_current_timezone()
    old = _training("令和4年度 全体研修会", dt.datetime(2022, 7, 8, 13, 30, tzinfo=zone))
    recent = _training(
        "令和7年度 関東ブロック研修会", dt.datetime(2025, 11, 20, 13, 0, tzinfo=zone)
    )
    alice_old, bob_old, charlie_old = _attend(old, alice, bob, charlie)
    [bob_recent] = _attend(recent, bob, absent=[alice])
    return {
        "old": old,
        "recent": recent,
        "alice_old": alice_old,
        "bob_old": bob_old,
        "charlie_old": charlie_old,
        "bob_recent": bob_recent,
    }


def _page(client, contact) -> str:
    client.force_login(contact.user)
    url = reverse("papers:attendance_history", args=[contact.member.local_government_id])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _certificate_url(registration: Registration) -> str:
    return reverse(
        "papers:my_certificate", args=[registration.member.local_government_id, registration.pk]
    )


def _pdf_text(data: bytes) -> str:
    """The PDF's text without its line breaks (a long title wraps)."""
    pages = PdfReader(io.BytesIO(data)).pages
    return "".join(page.extract_text() for page in pages).replace("\n", "")


def test_a_staff_member_sees_their_own_trainings_by_nendo_with_certificates(client, bob, history):
    html = _page(client, bob)
    assert "令和4年度 全体研修会" in html and "令和7年度 関東ブロック研修会" in html
    assert html.index("令和7年度") < html.index("令和4年度")  # newest first
    assert _certificate_url(history["bob_old"]) in html
    assert _certificate_url(history["bob_recent"]) in html
    # Only their own: not their coordinator's, not another municipality's.
    assert _certificate_url(history["alice_old"]) not in html
    assert "佐藤 美咲" not in html and "高橋 由美子" not in html


def test_a_certificate_from_four_nendo_ago_downloads_from_the_history(client, bob, history):
    _page(client, bob)
    response = client.get(_certificate_url(history["bob_old"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    assert "鈴木 健太" in text and "令和4年度 全体研修会" in text and "令和4年7月8日" in text


def test_a_coordinator_sees_the_municipalitys_staff_and_their_certificates(
    client, alice, bob, history
):
    html = _page(client, alice)
    assert "佐藤 美咲" in html and "鈴木 健太" in html
    for key in ("alice_old", "bob_old", "bob_recent"):
        assert _certificate_url(history[key]) in html
    assert _certificate_url(history["charlie_old"]) not in html
    assert "高橋 由美子" not in html
    response = client.get(_certificate_url(history["bob_old"]))
    assert response.status_code == 200
    assert "鈴木 健太" in _pdf_text(response.content)


def test_an_absence_is_not_in_the_history(client, alice, history):
    html = _page(client, alice)
    # bob's row only; alice was absent
    assert html.count(">令和7年度 関東ブロック研修会</td>") == 1


def test_a_plain_staff_member_cannot_take_a_colleagues_certificate(client, bob, history):
    _page(client, bob)
    assert client.get(_certificate_url(history["alice_old"])).status_code == 404


def test_another_municipality_sees_nothing_of_ours(client, charlie, alice, history):
    html = _page(client, charlie)
    assert "令和4年度 全体研修会" in html  # charlie's own attendance
    assert "佐藤 美咲" not in html and "鈴木 健太" not in html
    assert _certificate_url(history["alice_old"]) not in html
    # Our page and our certificates are closed to them, under our code or theirs.
    ours = reverse("papers:attendance_history", args=[alice.member.local_government_id])
    assert client.get(ours).status_code == 403
    assert client.get(_certificate_url(history["alice_old"])).status_code == 403
    theirs = reverse(
        "papers:my_certificate",
        args=[charlie.member.local_government_id, history["alice_old"].pk],
    )
    assert client.get(theirs).status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, alice, history):
    url = reverse("papers:attendance_history", args=[alice.member.local_government_id])
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/" in response["Location"]


def test_someone_who_attended_nothing_is_told_so(client, charlie, registry):
    assert "出席の記録がある研修会はまだありません。" in _page(client, charlie)


def test_the_portal_home_links_to_the_history(client, bob):
    client.force_login(bob.user)
    code = bob.member.local_government_id
    html = client.get(reverse("portal:member", args=[code])).content.decode()
    assert reverse("papers:attendance_history", args=[code]) in html


def test_the_history_takes_the_same_queries_however_many_trainings(
    client, alice, bob, history, django_assert_max_num_queries
):
    zone = timezone.get_current_timezone()
    for year in range(2015, 2022):
        _attend(
            _training(f"{year}年の研修会", dt.datetime(year, 10, 1, 13, tzinfo=zone)), alice, bob
        )
    client.force_login(alice.user)
    url = reverse("papers:attendance_history", args=[alice.member.local_government_id])
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert response.content.decode().count("参加証明書（PDF）</a>") == 3 + 14
