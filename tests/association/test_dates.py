"""Dates as people type them, and as the admin shows them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from association.forms import JapaneseDateField, JapaneseSplitDateTimeField
from association.models import Agreement, User
from association.nendo import parse_date, wareki
from tests.conftest import lg

APRIL_FIRST = dt.date(2026, 4, 1)


@pytest.mark.parametrize(
    "typed",
    [
        "2026-04-01",
        "2026/4/1",
        "2026.4.1",
        "20260401",
        "2026年4月1日",
        "２０２６年４月１日",
        "２０２６／０４／０１",
        "令和8年4月1日",
        "令和８年４月１日",
        "R8.4.1",
        "r8/4/1",
        "Ｒ８．４．１",
        "令和8年4月1日（水）",
        "2026年4月1日(水曜日)",
        "  2026 / 4 / 1  ",
    ],
)
def test_a_date_is_read_however_people_type_it(typed):
    assert parse_date(typed) == APRIL_FIRST


def test_the_first_year_of_an_era_is_gan_nen_and_heisei_ends_where_reiwa_begins():
    assert parse_date("令和元年5月1日") == dt.date(2019, 5, 1)
    assert parse_date("H31.4.30") == dt.date(2019, 4, 30)
    assert parse_date("昭和64年1月7日") == dt.date(1989, 1, 7)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "日付を入力してください"),
        ("令和8年2月30日", "2026年2月30日という日はありません"),
        ("H31.5.1", "平成の期間にありません（令和元年5月1日です）"),
        ("R0.4.1", "令和の期間にありません"),
        ("令和8年4月1日（木）", "木曜日ではありません（水曜日です）"),
        ("四月一日", "日付として読めません"),
        ("2026-04-01\r\nX", "日付として読めません"),
    ],
)
def test_a_wrong_date_is_refused_with_a_message_that_says_why(typed, message):
    with pytest.raises(ValueError, match=message):
        parse_date(typed)


@given(st.dates(min_value=dt.date(1989, 1, 8), max_value=dt.date(2099, 12, 31)))
def test_every_date_reads_back_from_its_wareki_its_weekday_and_its_iso_form(day):
    assert parse_date(wareki(day)) == day
    assert parse_date(wareki(day, weekday=False)) == day
    assert parse_date(day.isoformat()) == day


@given(st.text(max_size=30))
def test_any_text_is_a_date_or_a_japanese_message(text):
    try:
        parse_date(text)
    except ValueError as exc:
        assert str(exc)


def test_the_form_field_turns_a_refusal_into_a_form_error():
    field = JapaneseDateField()
    assert field.clean("R8.4.1") == APRIL_FIRST
    with pytest.raises(ValidationError, match="日という日はありません"):
        field.clean("令和8年2月30日")
    split = JapaneseSplitDateTimeField()
    value = split.clean(["令和8年4月1日", "９：３０"])
    assert (value.date(), value.hour, value.minute) == (APRIL_FIRST, 9, 30)
    assert split.clean(["2026/4/1", "14時"]).hour == 14


@pytest.fixture
def secretariat_client(client, db):
    user = User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")
    client.force_login(user)
    return client


def test_an_agreement_is_entered_with_a_wareki_date_and_listed_with_its_weekday(
    secretariat_client, registry
):
    edogawa = lg("東京都江戸川区")
    response = secretariat_client.post(
        reverse("admin:association_agreement_add"),
        {"local_government": edogawa.code, "signed_on": "令和8年4月1日", "hashtag": "#いのちSOS"},
    )
    assert response.status_code == 302, response.context_data["adminform"].form.errors
    assert Agreement.objects.get().signed_on == APRIL_FIRST
    html = secretariat_client.get(reverse("admin:association_agreement_changelist")).content
    assert "2026年4月1日（水）" in html.decode()


def test_a_wrong_date_in_the_admin_is_a_form_error_and_nothing_is_saved(
    secretariat_client, registry
):
    response = secretariat_client.post(
        reverse("admin:association_agreement_add"),
        {"local_government": lg("東京都江戸川区").code, "signed_on": "H31.5.1"},
    )
    assert response.status_code == 200
    assert "平成の期間にありません" in response.content.decode()
    assert not Agreement.objects.exists()


def test_trainings_are_filtered_and_listed_by_reiwa_nendo(secretariat_client, db):
    from events import services
    from events.models import Training

    for year in (2025, 2026):
        start = timezone.make_aware(dt.datetime(year, 6, 1, 13, 30))
        services.save_training(
            Training(
                kind=Training.Kind.NATIONAL,
                title=f"{year}年の全体研修会",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=3),
                capacity=10,
                per_member_limit=3,
                status=Training.Status.PUBLISHED,
            )
        )
    url = reverse("admin:events_training_changelist")
    html = secretariat_client.get(url).content.decode()
    assert "令和8年度" in html and "令和7年度" in html
    assert "2026年6月1日（月）" in html
    html = secretariat_client.get(url, {"nendo": "2026"}).content.decode()
    assert "2026年の全体研修会" in html and "2025年の全体研修会" not in html
