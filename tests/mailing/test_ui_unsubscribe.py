"""The unsubscribe page and the RFC 8058 one-click POST, without login."""

import re

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from mailing import audience, services
from mailing.models import Subscription
from mailing.tokens import make_unsubscribe_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_client():
    """A client that enforces CSRF like a browser session would."""
    return Client(enforce_csrf_checks=True)


def _url(mailing_list, contact):
    return reverse(
        "mailing:unsubscribe", args=[make_unsubscribe_token(mailing_list.pk, contact.email)]
    )


def _status(mailing_list, contact):
    subscription = Subscription.objects.filter(mailing_list=mailing_list, contact=contact).first()
    return subscription and subscription.status


def _send(bulletin):
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass


def test_it_shows_what_will_happen_and_changes_nothing_on_get(client, all_members_list, alice):
    response = client.get(_url(all_members_list, alice))

    html = response.content.decode()
    assert response.status_code == 200
    assert "全会員" in html and alice.email in html
    assert "配信を停止する" in html
    assert _status(all_members_list, alice) is None


def test_it_unsubscribes_by_the_one_click_post_of_a_mail_taken_from_the_outbox(
    strict_client, all_members_list, alice, bob, outbox
):
    bulletin = services.save_bulletin(
        None, mailing_list=all_members_list, subject="お知らせ", body="本文です。"
    )
    _send(bulletin)
    mail = outbox.to(alice.email)[-1]
    header = str(mail.message["List-Unsubscribe"])
    match = re.search(r"<(https?://[^>]+)>", header)
    assert match, header
    url = match.group(1)
    path = re.sub(r"^https?://[^/]+", "", url)

    response = strict_client.post(
        path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert _status(all_members_list, alice) == Subscription.Status.OPTED_OUT
    assert Subscription.objects.get(contact=alice).source == Subscription.Source.ONE_CLICK
    assert alice not in audience.recipients(all_members_list)
    assert bob in audience.recipients(all_members_list)


def test_it_answers_a_repeated_one_click_the_same_way(strict_client, all_members_list, alice):
    url = _url(all_members_list, alice)
    body = {"List-Unsubscribe": "One-Click"}

    first = strict_client.post(url, body)
    second = strict_client.post(url, body)

    assert first.status_code == second.status_code == 200
    assert Subscription.objects.filter(contact=alice).count() == 1
    assert _status(all_members_list, alice) == Subscription.Status.OPTED_OUT


def test_it_unsubscribes_from_the_confirm_button_without_login_or_csrf_token(
    strict_client, all_members_list, alice
):
    url = _url(all_members_list, alice)

    response = strict_client.post(url, {"action": "unsubscribe"}, follow=True)

    html = response.content.decode()
    assert "配信を停止しました。" in html
    assert "配信を再開する" in html
    assert _status(all_members_list, alice) == Subscription.Status.OPTED_OUT
    assert Subscription.objects.get(contact=alice).source == Subscription.Source.LINK


def test_it_resubscribes_from_the_same_page(client, all_members_list, alice):
    url = _url(all_members_list, alice)
    client.post(url, {"action": "unsubscribe"})

    response = client.post(url, {"action": "resubscribe"}, follow=True)

    assert "配信を再開しました。" in response.content.decode()
    assert alice in audience.recipients(all_members_list)


def test_it_refuses_a_tampered_token_with_a_japanese_page(client, all_members_list, alice):
    token = make_unsubscribe_token(all_members_list.pk, alice.email)
    url = reverse("mailing:unsubscribe", args=[token[:-3] + "xyz"])

    for response in (client.get(url), client.post(url, {"List-Unsubscribe": "One-Click"})):
        assert response.status_code == 400
        assert "このリンクは無効か、有効期限が切れています。" in response.content.decode()
    assert not Subscription.objects.exists()


def test_it_refuses_an_expired_token(client, settings, all_members_list, alice):
    url = _url(all_members_list, alice)
    settings.MAILING_UNSUBSCRIBE_TOKEN_DAYS = -1

    response = client.post(url, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 400
    assert not Subscription.objects.exists()


def test_it_refuses_a_token_for_a_deleted_list(client, all_members_list, alice):
    url = _url(all_members_list, alice)
    all_members_list.delete()

    assert client.get(url).status_code == 400


def test_it_refuses_a_token_signed_for_something_else(client):
    token = signing.dumps({"l": 1, "e": "x@example.jp"}, salt="another.purpose")

    response = client.get(reverse("mailing:unsubscribe", args=[token]))

    assert response.status_code == 400


def test_it_says_plainly_when_the_address_is_no_longer_registered(client, all_members_list, bob):
    from association import services as registry

    url = _url(all_members_list, bob)
    registry.update_contact(bob, email="bob.new@city.edogawa.example.jp")

    page = client.get(url).content.decode()
    again = client.post(url, {"action": "resubscribe"}, follow=True).content.decode()

    assert "担当者として登録されていないため" in page
    assert "配信を再開する" not in page
    assert "このアドレスは現在、担当者として登録されていません。" in again
    assert "配信を再開しました。" not in again
