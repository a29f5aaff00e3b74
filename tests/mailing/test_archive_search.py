"""The portal archive's search folds what is typed as every other search does
(association.search): a bulletin is found by the katakana, hiragana, full- or half-width or
variant-character spelling of a word in it, from its stored folded column, and never by a
member outside its list's audience."""

from __future__ import annotations

import datetime as dt

import jaconv
import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from association import services as members
from association.search import search_text
from mailing import services
from mailing.models import Bulletin, MailingList
from tests.conftest import lg

pytestmark = pytest.mark.django_db

SUBJECT = "ゲートキーパー養成研修のご案内（髙橋講師）"
# Plain paragraphs: what the Markdown body says is in the sent text word for word.
PARAGRAPHS = [
    "さいたま市の会場とオンラインで開きます。",
    "テーマはこころのケアとＳＯＳの出し方です。",
    "申込はＲ８年５月１５日までにお願いします。",
]
BODY = "\n\n".join(PARAGRAPHS)

# What a person types of a word, each spelling as likely as the others.
SPELLINGS = [
    lambda w: w,
    jaconv.hira2kata,
    jaconv.kata2hira,
    lambda w: jaconv.h2z(w, kana=True, ascii=True, digit=True),
    lambda w: jaconv.z2h(w, kana=True, ascii=True, digit=True),
    lambda w: jaconv.z2h(jaconv.hira2kata(w), kana=True, ascii=True, digit=True),
    lambda w: w.replace("髙", "高"),
    lambda w: w.replace("高", "髙"),
]


@st.composite
def typed_words(draw: st.DrawFn) -> str:
    """A piece (2–8 characters) of the subject or a paragraph, as someone might type it:
    respelled, and perhaps with a space (half- or full-width) typed in the middle."""
    text = draw(st.sampled_from([SUBJECT, *PARAGRAPHS]))
    start = draw(st.integers(0, len(text) - 2))
    end = draw(st.integers(start + 2, min(len(text), start + 8)))
    word = text[start:end]
    if draw(st.booleans()):
        # Between two characters as written: ｹﾞ (ゲ in half-width) is one character typed.
        cut = draw(st.integers(1, len(word) - 1))
        word = word[:cut] + draw(st.sampled_from([" ", "\u3000"])) + word[cut:]
    return draw(st.sampled_from(SPELLINGS))(word)


def _sent(mailing_list: MailingList, subject: str, body: str) -> Bulletin:
    bulletin = services.save_bulletin(None, mailing_list=mailing_list, subject=subject, body=body)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass
    bulletin.refresh_from_db()
    return bulletin


@pytest.fixture
def bulletins(alice, charlie, kanto_list):
    """The same words sent three times: to alice's block (関東), to a list only 足立区's charlie
    was added to by hand (the same block, another municipality), and to 近畿."""
    from association.models import Block

    adachi_only = MailingList.objects.create(name="足立区のみ", slug="adachi-only")
    services.add_to_list(adachi_only, charlie)
    kinki = MailingList.objects.create(name="近畿ブロック", slug="kinki")
    kinki.blocks.add(Block.objects.get(name="近畿"))
    return {
        "ours": _sent(kanto_list, SUBJECT, BODY),
        "adachi": _sent(adachi_only, SUBJECT + "【足立区】", BODY),
        "kinki": _sent(kinki, SUBJECT + "【近畿】", BODY),
    }


def _found(client, typed: str) -> set[int]:
    response = client.get(reverse("mailing:archive"), {"q": typed})
    assert response.status_code == 200
    return {b.pk for b in response.context["page"]}


def test_a_sent_bulletin_stores_its_subject_and_text_folded(bulletins):
    ours = bulletins["ours"]
    assert ours.search_text == search_text(ours.sent_subject, ours.sent_text)
    assert "げーときーぱー" in ours.search_text and "高橋" in ours.search_text
    assert "sos" in ours.search_text and "r8年5月15日" in ours.search_text


@given(typed=typed_words())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_bulletin_is_found_by_any_spelling_of_a_word_in_it_and_only_by_its_audience(
    client, alice, charlie, bulletins, typed
):
    client.force_login(alice.user)
    found = _found(client, typed)
    assert bulletins["ours"].pk in found
    # The same words sent to lists alice is not in the audience of are never found.
    assert bulletins["adachi"].pk not in found
    assert bulletins["kinki"].pk not in found


@pytest.mark.parametrize(
    "typed",
    [
        "げーときーぱー",
        "ｹﾞｰﾄｷｰﾊﾟｰ",
        "ゲート　キーパー",
        "高橋講師",
        "ｓｏｓ",
        "R8年5月15日",
        "サイタマ",
    ],
)
def test_the_municipality_it_was_sent_to_finds_it_and_alice_does_not(
    client, alice, charlie, bulletins, typed
):
    client.force_login(charlie.user)
    assert {bulletins["ours"].pk, bulletins["adachi"].pk} <= _found(client, typed)
    client.force_login(alice.user)
    found = _found(client, typed)
    assert bulletins["ours"].pk in found and bulletins["adachi"].pk not in found


def test_a_word_only_in_another_lists_bulletin_finds_nothing(client, alice, bulletins):
    client.force_login(alice.user)
    for typed in ["足立区", "あだちく", "近畿", "きんき"]:
        assert _found(client, typed) == set()


def test_a_member_of_another_block_finds_only_its_own_list(client, bulletins):
    osaka = members.admit_member(lg("大阪府大阪市"), joined_on=dt.date(2015, 4, 1))
    kinki_staff = members.add_contact(
        osaka, name="中村 直子", kana="なかむら なおこ", email="nakamura@city.osaka.example.jp"
    )
    client.force_login(kinki_staff.user)
    assert _found(client, "ゲートキーパー") == {bulletins["kinki"].pk}


def test_a_hostile_query_is_only_text(client, alice, bulletins):
    client.force_login(alice.user)
    for typed in ["%", "_", "' OR 1=1 --", "a|b", "佐" * 100]:
        assert _found(client, typed) == set()
    # The column's separator is folded out of what is typed: it never joins two parts.
    assert _found(client, "げーと|きーぱー") == {bulletins["ours"].pk}
    # Asking twice answers the same.
    assert _found(client, "ケア") == _found(client, "ケア") == {bulletins["ours"].pk}


def test_bulletins_sent_before_the_column_are_filled_after_migrate(bulletins):
    Bulletin.objects.update(search_text="")
    assert services.fill_bulletin_search_text() == 3
    ours = Bulletin.objects.get(pk=bulletins["ours"].pk)
    assert ours.search_text == search_text(ours.sent_subject, ours.sent_text)
    assert services.fill_bulletin_search_text() == 0  # nothing left to fill


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
def test_on_postgresql_the_archive_search_is_answered_from_a_trigram_index(bulletins):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'mailing_bulletin' "
            "AND indexdef LIKE %s",
            ["%gin (search_text gin_trgm_ops)%"],
        )
        assert [row[0] for row in cursor.fetchall()] == ["mailing_bulletin_search_trgm"]
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = Bulletin.objects.filter(search_text__contains="げーときーぱー").order_by().explain()
    assert "mailing_bulletin_search_trgm" in plan
