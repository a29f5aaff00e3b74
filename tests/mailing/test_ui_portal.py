"""The portal's mail pages: list preferences and the members-only archive."""

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from association.models import Block, User
from mailing import audience, services
from mailing.models import Bulletin, MailingList, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice.user)
    return client


@pytest.fixture
def kinki_list(registry):
    mailing_list = MailingList.objects.create(name="近畿ブロック", slug="kinki")
    mailing_list.blocks.add(Block.objects.get(name="近畿"))
    return mailing_list


def _sent(mailing_list, subject, body="本文です。"):
    bulletin = services.save_bulletin(None, mailing_list=mailing_list, subject=subject, body=body)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass
    bulletin.refresh_from_db()
    return bulletin


# --- preferences ---------------------------------------------------------------------------------


def test_it_shows_a_staff_member_the_lists_of_their_municipality(
    as_alice, all_members_list, kanto_list, kinki_list
):
    html = as_alice.get(reverse("mailing:preferences")).content.decode()

    assert "全会員" in html and "関東ブロック" in html
    assert "近畿ブロック" not in html
    assert html.count('value="opt_out"') == 2


def test_it_opts_out_and_resubscribes_with_a_button(as_alice, alice, kanto_list):
    form = {"contact": alice.pk, "mailing_list": kanto_list.pk}

    response = as_alice.post(reverse("mailing:preferences"), {**form, "action": "opt_out"})
    assert response.status_code == 302
    assert alice not in audience.recipients(kanto_list)
    assert Subscription.objects.get(contact=alice).changed_by == alice.user

    page = as_alice.post(
        reverse("mailing:preferences"), {**form, "action": "resubscribe"}, follow=True
    )
    assert "「関東ブロック」の配信を受け取るようにしました。" in page.content.decode()
    assert alice in audience.recipients(kanto_list)


def test_it_lets_staff_join_a_list_open_to_self_subscription(as_alice, alice, kinki_list):
    kinki_list.allow_self_subscribe = True
    kinki_list.save()

    as_alice.post(
        reverse("mailing:preferences"),
        {"contact": alice.pk, "mailing_list": kinki_list.pk, "action": "resubscribe"},
    )

    assert alice in audience.recipients(kinki_list)


def test_it_refuses_a_list_that_is_not_open(as_alice, alice, kinki_list):
    response = as_alice.post(
        reverse("mailing:preferences"),
        {"contact": alice.pk, "mailing_list": kinki_list.pk, "action": "resubscribe"},
        follow=True,
    )

    assert "このメーリングリストには登録できません。" in response.content.decode()
    assert alice not in audience.recipients(kinki_list)


def test_it_refuses_to_change_another_persons_lists(as_alice, charlie, kanto_list):
    response = as_alice.post(
        reverse("mailing:preferences"),
        {"contact": charlie.pk, "mailing_list": kanto_list.pk, "action": "opt_out"},
    )

    assert response.status_code == 403
    assert charlie in audience.recipients(kanto_list)


def test_it_sends_an_anonymous_visitor_to_the_login_page(client):
    response = client.get(reverse("mailing:preferences"))

    assert response.status_code == 302
    assert "/accounts/" in response["Location"]


def test_the_portal_home_section_links_to_preferences_and_the_archive():
    html = render_to_string("mailing/portal_home_section.html")

    assert reverse("mailing:preferences") in html
    assert reverse("mailing:archive") in html


# --- archive -------------------------------------------------------------------------------------


def test_it_shows_members_the_bulletins_of_their_lists_only(
    as_alice, alice, kanto_list, kinki_list
):
    _sent(kanto_list, "関東ブロック研修のご案内")
    _sent(kinki_list, "近畿ブロック研修のご案内")
    draft = services.save_bulletin(None, mailing_list=kanto_list, subject="未送信の下書き", body="")

    html = as_alice.get(reverse("mailing:archive")).content.decode()

    assert "関東ブロック研修のご案内" in html
    assert "近畿ブロック研修のご案内" not in html
    assert draft.subject not in html


def test_it_shows_a_bulletin_exactly_as_sent(as_alice, kanto_list, alice):
    bulletin = _sent(kanto_list, "資料の掲載", body="資料: https://renkei.example.jp/files/1")

    html = as_alice.get(reverse("mailing:archive_detail", args=[bulletin.pk])).content.decode()

    assert "https://renkei.example.jp/files/1" in bulletin.sent_text
    assert escape(bulletin.sent_text) in html
    assert escape(bulletin.sent_html) in html  # the sandboxed iframe's srcdoc
    assert "ご担当者各位" in bulletin.sent_text  # no one's personal data in the archive
    assert alice.email not in bulletin.sent_text


def test_it_refuses_a_bulletin_of_another_list(as_alice, kinki_list, alice):
    bulletin = _sent(kinki_list, "近畿のみ")

    response = as_alice.get(reverse("mailing:archive_detail", args=[bulletin.pk]))

    assert response.status_code == 404


def test_it_searches_subject_and_body_and_filters_by_nendo(as_alice, alice, kanto_list):
    _sent(kanto_list, "自殺対策計画について", body="計画の改定スケジュール")
    old = _sent(kanto_list, "前年度の総会", body="総会の議事録")
    # Nothing sends in the past, so move one back a year to make a 年度 of its own.
    Bulletin.objects.filter(pk=old.pk).update(started_at=old.started_at - dt.timedelta(days=366))
    url = reverse("mailing:archive")

    by_body = as_alice.get(url, {"q": "スケジュール"}).content.decode()
    assert "自殺対策計画について" in by_body and "前年度の総会" not in by_body

    by_subject = as_alice.get(url, {"q": "総会"}).content.decode()
    assert "前年度の総会" in by_subject and "自殺対策計画について" not in by_subject

    from association.nendo import nendo_label, nendo_of

    last_year = nendo_of(old.started_at - dt.timedelta(days=366))
    page = as_alice.get(url, {"nendo": last_year}).content.decode()
    assert nendo_label(last_year) in page
    assert "前年度の総会" in page and "自殺対策計画について" not in page


def test_it_refuses_the_archive_to_an_account_without_an_active_contact(client, alice, kanto_list):
    from association import services as registry

    registry.deactivate_contact(alice)
    outsider = User.objects.create_user("someone", "someone@example.jp", "x-long-passphrase")
    client.force_login(outsider)

    assert client.get(reverse("mailing:archive")).status_code == 403


def test_the_secretariat_reads_every_lists_archive(admin_client, kanto_list, kinki_list, alice):
    _sent(kinki_list, "近畿のみ")

    html = admin_client.get(reverse("mailing:archive")).content.decode()

    assert "近畿のみ" in html


def test_it_shows_nothing_for_a_list_outside_the_members_reach(as_alice, kanto_list, kinki_list):
    _sent(kanto_list, "関東のお知らせ")
    _sent(kinki_list, "近畿のお知らせ")

    html = as_alice.get(reverse("mailing:archive"), {"mailing_list": kinki_list.pk}).content
    text = html.decode()

    assert "近畿のお知らせ" not in text and "関東のお知らせ" not in text
    assert "該当する配信はありません。" in text


def test_the_archive_takes_the_same_number_of_queries_for_many_bulletins(
    as_alice, kanto_list, all_members_list, django_assert_max_num_queries
):
    for n in range(25):
        services.save_bulletin(None, mailing_list=kanto_list, subject=f"号外 {n}", body="")
    for bulletin in Bulletin.objects.all():
        services.start_bulletin(bulletin)
        services.snapshot_audience(bulletin.pk)
        while services.drain_bulletin(bulletin.pk):
            pass

    with django_assert_max_num_queries(16):
        response = as_alice.get(reverse("mailing:archive"))

    assert response.content.decode().count("号外") == 20  # one page
