"""Links a person can type: every bulletin carries https://<site>/u/<22 characters>, a random
128-bit token stored once per list and address; the old encrypted links keep working until
they expire; the page after a one-click unsubscribe says what is now true."""

from __future__ import annotations

import re
import time

import pytest
from django.core import signing
from django.test import Client

from mailing import services
from mailing.models import ListLink, Subscription
from mailing.tokens import LINK_TOKEN_RE, link_tokens, make_unsubscribe_token

pytestmark = pytest.mark.django_db


def _send(mailing_list, subject="お知らせ"):
    bulletin = services.save_bulletin(None, mailing_list=mailing_list, subject=subject, body="本文")
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass
    return bulletin


def _link(outbox, address) -> str:
    header = str(outbox.to(address)[-1].message["List-Unsubscribe"])
    match = re.search(r"<(https?://[^>]+)>", header)
    assert match, header
    return match.group(1)


def test_each_bulletin_carries_a_short_link_of_its_own_random_token(
    all_members_list, alice, bob, outbox
):
    _send(all_members_list)
    first = _link(outbox, alice.email)
    _send(all_members_list, "二通目")

    assert re.fullmatch(r"http://localhost:8000/u/[A-Za-z0-9_-]{22}", first)
    assert len(first) == len("http://localhost:8000/u/") + 22
    # The same link for the same list and address in every bulletin; another address's differs.
    assert _link(outbox, alice.email) == first
    assert _link(outbox, bob.email) != first
    token = first.rsplit("/", 1)[1]
    assert alice.email not in token and ListLink.objects.get(token=token).email == alice.email
    # Printed in full on its own line of the text part.
    assert f"\n{first}\n" in outbox.to(alice.email)[-1].text


def test_tokens_are_random_and_made_once_per_list_and_address(all_members_list, kanto_list):
    tokens = link_tokens(all_members_list.pk, [f"user{i}@example.jp" for i in range(200)])
    again = link_tokens(all_members_list.pk, [f"USER{i}@example.jp" for i in range(200)])
    other_list = link_tokens(kanto_list.pk, ["user0@example.jp"])

    assert tokens == again
    assert len(set(tokens.values())) == 200
    assert all(LINK_TOKEN_RE.match(t) for t in tokens.values())
    assert other_list["user0@example.jp"] != tokens["user0@example.jp"]


def test_the_short_link_unsubscribes_by_one_click_and_the_page_says_so(
    all_members_list, alice, outbox
):
    _send(all_members_list)
    path = re.sub(r"^https?://[^/]+", "", _link(outbox, alice.email))
    client = Client(enforce_csrf_checks=True)

    page = client.get(path)
    assert page.status_code == 200 and 'data-state="subscribed"' in page.content.decode()

    response = client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert Subscription.objects.get(contact=alice).status == Subscription.Status.OPTED_OUT
    assert 'data-state="opted-out"' in html and 'data-state="subscribed"' not in html
    assert "このアドレスへの配信は停止しています。" in html
    assert "ワンクリックでの配信停止を受け付けました。" in html


def test_the_confirm_button_on_the_short_link_comes_back_to_it(all_members_list, alice, outbox):
    _send(all_members_list)
    path = re.sub(r"^https?://[^/]+", "", _link(outbox, alice.email))

    response = Client().post(path, {"action": "unsubscribe"})

    assert response.status_code == 302 and response["Location"] == path


def test_an_unknown_or_guessed_short_token_is_refused(client, all_members_list, alice):
    link_tokens(all_members_list.pk, [alice.email])

    assert client.get("/u/" + "A" * 22).status_code == 400
    assert client.post("/u/" + "A" * 22, {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert not Subscription.objects.exists()


def test_an_old_encrypted_link_still_works_until_it_expires(
    client, monkeypatch, settings, all_members_list, alice
):
    settings.MAILING_UNSUBSCRIBE_TOKEN_DAYS = 60
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 59 * 86400)
    fresh = make_unsubscribe_token(all_members_list.pk, alice.email)
    monkeypatch.setattr(time, "time", lambda: real() - 61 * 86400)
    stale = make_unsubscribe_token(all_members_list.pk, alice.email)
    monkeypatch.setattr(time, "time", real)

    assert client.get(f"/mail/unsubscribe/{stale}/").status_code == 400
    with pytest.raises(signing.SignatureExpired):
        services.read_unsubscribe_request(stale)
    response = client.post(f"/mail/unsubscribe/{fresh}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Subscription.objects.get(contact=alice).status == Subscription.Status.OPTED_OUT


def test_erasing_the_person_deletes_their_links(all_members_list, alice, bob):
    from association.services import erase_contact

    link_tokens(all_members_list.pk, [alice.email, bob.email])

    erase_contact(alice)

    assert list(ListLink.objects.values_list("email", flat=True)) == [bob.email]
