"""Search as people type it: one folding rule (association.search.fold) for what is stored and
what is typed, on a stored column, in every search box."""

from __future__ import annotations

import datetime as dt

import jaconv
import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from association import services
from association.models import Contact, LocalGovernment, User
from association.search import fold, refresh_search_text, search_text, terms
from tests.conftest import lg

HIRAGANA = st.characters(min_codepoint=0x3041, max_codepoint=0x3093)
KATAKANA = st.characters(min_codepoint=0x30A1, max_codepoint=0x30F3)
KANJI = st.sampled_from("佐藤美咲高橋髙﨑崎江戸川区東京都渡邊辺斎齋藤沢澤")
ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
JAPANESE_TEXT = st.text(
    st.one_of(HIRAGANA, KATAKANA, KANJI, ASCII, st.sampled_from(" \u3000ー・")), max_size=30
)


@given(st.text(max_size=40))
@settings(max_examples=400)
def test_folding_twice_is_folding_once_for_any_text(text):
    assert fold(fold(text)) == fold(text)


@given(st.text(max_size=40))
def test_a_folded_text_has_no_spaces_no_katakana_and_no_separator(text):
    folded = fold(text)
    assert not any(ch.isspace() for ch in folded)
    assert "|" not in folded
    assert not any("\u30a1" <= ch <= "\u30f6" for ch in folded)


@given(st.text(HIRAGANA, min_size=1, max_size=20))
def test_hiragana_and_katakana_fold_alike(word):
    assert fold(jaconv.hira2kata(word)) == fold(word)


@given(JAPANESE_TEXT)
def test_full_and_half_width_fold_alike(text):
    wide = jaconv.h2z(text, kana=True, ascii=True, digit=True)
    narrow = jaconv.z2h(jaconv.hira2kata(text), kana=True, ascii=True, digit=True)
    assert fold(wide) == fold(text) == fold(narrow)


@given(JAPANESE_TEXT, JAPANESE_TEXT)
def test_a_part_of_a_name_is_found_in_its_folded_whole(left, right):
    # What a person types of a longer stored text is found in it, wherever the spaces were.
    assert fold(right) in fold(left + " " + right)
    assert fold(left) in search_text(left + right, "さとう")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("えどがわ", "エドガワク"),
        ("佐藤美咲", "佐藤 美咲"),
        ("佐藤　美咲", "佐藤美咲"),
        ("ｻﾄｳ", "さとう みさき"),
        ("ＡＬＩＣＥ", "alice@city.edogawa.example.jp"),
        ("１３１２３", "131237"),
        ("高橋", "髙橋"),
        ("山崎", "山﨑"),
        ("渡辺", "渡邊"),
        ("霞ヶ関", "霞ケ関"),
        ("一ヵ月", "一カ月"),
    ],
)
def test_what_people_type_is_found_in_what_is_stored(typed, stored):
    assert fold(typed) in fold(stored)


def test_a_query_is_split_into_folded_words():
    assert terms("  東京都　江戸川区  ｻﾄｳ ") == ["東京都", "江戸川区", "さとう"]
    assert terms(" \u3000 ") == []


# --- the stored columns ---------------------------------------------------------------------


def test_a_government_stores_its_full_name_kana_and_code_folded(registry):
    edogawa = LocalGovernment.objects.get(code="131237")
    assert edogawa.search_text == search_text("東京都江戸川区", edogawa.kana, "131237")
    assert "えどがわ" in edogawa.search_text


def test_a_contact_stores_its_name_address_and_its_members_name(alice):
    alice.refresh_from_db()
    assert "佐藤美咲" in alice.search_text
    assert "さとうみさき" in alice.search_text
    assert "alice@city.edogawa.example.jp" in alice.search_text
    assert "東京都江戸川区" in alice.search_text and "131237" in alice.search_text


def test_a_renamed_contact_is_found_by_the_new_name_only(alice):
    services.update_contact(alice, by=None, name="佐藤 花子", kana="さとう はなこ")
    alice.refresh_from_db()
    assert "佐藤花子" in alice.search_text and "美咲" not in alice.search_text


def test_rows_stored_before_the_column_are_filled_and_a_rename_reaches_contacts(alice, bob):
    Contact.objects.update(search_text="")
    LocalGovernment.objects.filter(code="131237").update(name="江戸川市", search_text="")
    assert refresh_search_text(LocalGovernment.objects.filter(search_text="")) == 1
    assert refresh_search_text(Contact.objects.all()) == 2
    alice.refresh_from_db()
    assert "東京都江戸川市" in alice.search_text
    assert refresh_search_text(Contact.objects.all()) == 0  # nothing left to change


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
def test_on_postgresql_each_search_column_has_a_trigram_index(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE %s",
            ["%gin (search_text gin_trgm_ops)%"],
        )
        tables = {row[0] for row in cursor.fetchall()}
    assert tables == {
        "association_prefecture",
        "association_localgovernment",
        "association_contact",
        "mailing_bulletin",  # the archive's search (mailing.models.Bulletin.search_text)
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
def test_on_postgresql_a_contact_search_is_answered_from_the_index(alice, bob, charlie):
    from django.db.models import Q

    query = Contact.objects.filter(Q(search_text__contains="えどがわ")).order_by()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.explain()
    assert "association_contact_search_trgm" in plan


# --- every search box -----------------------------------------------------------------------


@pytest.fixture
def secretariat_client(client, db):
    user = User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "typed",
    [
        "えどがわ",
        "エドガワ",
        "佐藤美咲",
        "佐藤 美咲",
        "東京都江戸川区",
        "ｻﾄｳ",
        "131237",
        "13123",
        "１３１２３",
    ],
)
def test_the_contact_changelist_finds_what_people_type(secretariat_client, alice, charlie, typed):
    response = secretariat_client.get(reverse("admin:association_contact_changelist"), {"q": typed})
    html = response.content.decode()
    assert "佐藤 美咲" in html
    assert "高橋 由美子" not in html


def test_a_contact_is_found_by_its_name_and_its_member_together(secretariat_client, alice, bob):
    response = secretariat_client.get(
        reverse("admin:association_contact_changelist"), {"q": "江戸川 すずき"}
    )
    html = response.content.decode()
    assert "鈴木 健太" in html and "佐藤 美咲" not in html


@pytest.mark.parametrize("typed", ["えどがわ", "東京都江戸川区", "13123", "１３１２３７"])
def test_the_member_changelist_and_its_autocomplete_fold_too(
    secretariat_client, edogawa, adachi, typed
):
    response = secretariat_client.get(reverse("admin:association_member_changelist"), {"q": typed})
    html = response.content.decode()
    assert "東京都江戸川区" in html and "東京都足立区" not in html
    response = secretariat_client.get(
        reverse("admin:autocomplete"),
        {
            "term": typed,
            "app_label": "association",
            "model_name": "contact",
            "field_name": "member",
        },
    )
    assert [r["text"] for r in response.json()["results"]] == ["東京都江戸川区"]


def test_the_government_changelist_finds_a_code_without_its_check_digit(
    secretariat_client, registry
):
    response = secretariat_client.get(
        reverse("admin:association_localgovernment_changelist"), {"q": "１３１２３"}
    )
    assert "東京都江戸川区" in response.content.decode()


def test_a_member_is_found_by_kana_in_the_agreement_search(secretariat_client, registry):
    from association.models import Agreement

    # Agreements have no service: the admin's own form saves them.
    Agreement.objects.create(
        local_government=lg("東京都江戸川区"),
        signed_on=dt.date(2019, 4, 1),
        hashtag="#いのちSOS江戸川",
    )
    response = secretariat_client.get(
        reverse("admin:association_agreement_changelist"), {"q": "エドガワ"}
    )
    assert "#いのちSOS江戸川" in response.content.decode()


def test_a_search_of_nothing_but_spaces_lists_everyone(secretariat_client, alice, charlie):
    response = secretariat_client.get(
        reverse("admin:association_contact_changelist"), {"q": "\u3000 "}
    )
    html = response.content.decode()
    assert "佐藤 美咲" in html and "高橋 由美子" in html


def test_a_hostile_query_is_only_text(secretariat_client, alice):
    for typed in ["%", "_", "' OR 1=1 --", "a|b", "a\r\nb", "佐" * 200]:
        response = secretariat_client.get(
            reverse("admin:association_contact_changelist"), {"q": typed}
        )
        assert response.status_code == 200
        assert "佐藤 美咲" not in response.content.decode()
