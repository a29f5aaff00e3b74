"""§1 Accounts: only the portal's doors, and a login tied to its contact by key. Each test
performs the attack and asserts it is refused."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from association import services
from association.models import Contact, User
from mailing.models import MailingList

CODE_REQUEST = "/accounts/login/code/"
CODE_CONFIRM = "/accounts/login/code/confirm/"

ALLAUTH_PAGES = [
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/password/set/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/1-set-password/",
    "/accounts/signup/",
    "/accounts/3rdparty/",
    "/accounts/social/connections/",
    "/accounts/reauthenticate/",
    "/accounts/reauthenticate/code/",
    "/accounts/login/",
    "/accounts/inactive/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/some-key/",
    "/accounts/2fa/",
    "/accounts/sessions/",
]


@pytest.mark.parametrize("path", ALLAUTH_PAGES)
def test_every_allauth_page_but_the_portals_three_doors_answers_404(client, alice, path):
    client.force_login(alice.user)
    assert client.get(path).status_code == 404
    assert client.post(path, {"email": "victim@city.adachi.example.jp"}).status_code == 404


def test_the_three_doors_are_at_allauths_own_urls(client, alice):
    assert client.get(CODE_REQUEST).status_code == 200
    # The confirm page without a pending code sends the visitor back to the request page.
    assert client.get(CODE_CONFIRM)["Location"].startswith(CODE_REQUEST)
    client.force_login(alice.user)
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_adding_another_municipalitys_address_to_ones_account_is_impossible(client, bob, charlie):
    client.force_login(bob.user)
    client.post("/accounts/email/", {"action_add": "", "email": charlie.email}, follow=True)
    assert not EmailAddress.objects.filter(email=charlie.email).exists()
    assert services.logins_for_address(charlie.email) == [charlie.user]


def test_a_login_whose_address_was_tampered_with_reaches_no_other_contact(client, bob, charlie):
    # Even if bob's account somehow carried charlie's address (say, edited in the database),
    # nothing is found by address: charlie's code opens charlie's login, bob sees his own.
    User.objects.filter(pk=bob.user.pk).update(email=charlie.email)
    EmailAddress.objects.create(user=bob.user, email=charlie.email, verified=True, primary=True)
    assert services.logins_for_address(charlie.email) == [charlie.user]
    client.force_login(bob.user)
    assert client.get(reverse("portal:member", args=["131211"])).status_code == 403
    assert list(Contact.objects.for_user(bob.user)) == [bob]


def test_readmitting_a_member_gives_each_contact_back_its_own_login_not_one_found_by_address(
    alice, edogawa
):
    own = alice.user
    services.withdraw_member(edogawa)
    # Someone gets an account with alice's address meanwhile (e.g. created in the admin).
    squatter = User.objects.create_user("squatter", email=alice.email)
    services.admit_member(edogawa.local_government)
    alice.refresh_from_db()
    assert alice.user_id == own.pk
    own.refresh_from_db()
    assert own.is_active
    assert services.logins_for_address(alice.email) == [own]
    assert not Contact.objects.for_user(squatter).exists()


def test_an_address_change_by_the_secretariat_moves_the_login_and_ends_its_sessions(client, bob):
    login = bob.user
    client.force_login(login)
    assert client.get(reverse("portal:home")).status_code == 302  # to bob's member page
    services.update_contact(bob, email="k-suzuki@city.edogawa.example.jp")
    bob.refresh_from_db()
    login.refresh_from_db()
    assert bob.user_id == login.pk and login.email == "k-suzuki@city.edogawa.example.jp"
    assert services.logins_for_address("bob@city.edogawa.example.jp") == []
    assert services.logins_for_address("k-suzuki@city.edogawa.example.jp") == [login]
    # The session opened before the change is over.
    response = client.get(reverse("portal:home"))
    assert response["Location"].startswith(CODE_REQUEST)


@pytest.mark.parametrize("act", ["deactivate", "hand_over", "withdraw", "erase"])
def test_losing_the_contact_ends_the_login_and_its_open_session(client, alice, bob, act):
    login_pk = bob.user.pk
    client.force_login(bob.user)
    if act == "deactivate":
        services.deactivate_contact(bob)
    elif act == "hand_over":
        services.hand_over_contact(bob, name="後任 太郎", email="kotaro@city.edogawa.example.jp")
    elif act == "withdraw":
        services.withdraw_member(bob.member)
    else:
        services.erase_contact(bob)
    assert services.logins_for_address("bob@city.edogawa.example.jp") == []
    response = client.get(reverse("portal:member", args=["131237"]))
    assert response.status_code == 302 and response["Location"].startswith(CODE_REQUEST)
    if act == "erase":
        assert not User.objects.filter(pk=login_pk).exists()
    else:
        assert not User.objects.get(pk=login_pk).is_active


@pytest.mark.parametrize(
    "address",
    ["jimukyoku@renkei.example.jp", "reply@renkei.example.jp", "root@npo.example.jp"],
)
def test_a_sender_reply_to_or_secretariat_address_cannot_become_a_contact(edogawa, address):
    MailingList.objects.create(name="全会員", slug="all", reply_to="reply@renkei.example.jp")
    User.objects.create_superuser("root", "root@npo.example.jp", "x-long-passphrase")
    with pytest.raises(ValidationError, match="担当者には登録できません"):
        services.add_contact(edogawa, name="事務局", email=address.upper())


def test_an_address_that_became_a_reply_to_opens_no_login(alice):
    MailingList.objects.create(name="全会員", slug="all", reply_to=alice.email)
    assert services.logins_for_address(alice.email) == []


def test_a_staff_account_with_a_contacts_address_is_never_reached_by_code(alice):
    staff = User.objects.create_user("clerk", email=alice.email, is_staff=True)
    assert services.logins_for_address(alice.email) == [alice.user]
    assert staff not in services.logins_for_address(alice.email)


def test_a_contacts_login_made_staff_no_longer_logs_in_by_code(alice):
    User.objects.filter(pk=alice.user.pk).update(is_staff=True)
    assert services.logins_for_address(alice.email) == []


@pytest.mark.django_db(transaction=True)
def test_no_code_reaches_a_secretariat_sender_or_reply_to_address(
    celery_worker, alice, outbox, settings
):
    settings.DEFAULT_FROM_EMAIL = "市区町村会事務局 <jimukyoku@renkei.example.jp>"
    User.objects.create_superuser("root", "root@npo.example.jp", "x-long-passphrase")
    MailingList.objects.create(name="全会員", slug="all", reply_to="reply@renkei.example.jp")
    for address in (
        "root@npo.example.jp",
        "jimukyoku@renkei.example.jp",
        "reply@renkei.example.jp",
    ):
        response = Client().post(CODE_REQUEST, {"email": address})
        assert response.status_code == 302  # the same answer as for anyone
    Client().post(CODE_REQUEST, {"email": alice.email})
    celery_worker.wait_for(lambda: len(outbox.to(alice.email)) == 1)
    assert [m.to for m in outbox.messages()] == [alice.email]


def test_a_code_request_for_a_login_that_lost_the_portal_meanwhile_ends_in_a_clear_message(
    client, bob, monkeypatch
):
    codes = []
    monkeypatch.setattr(
        "association.emails.send_login_code",
        lambda email, *, code, expires_at: codes.append(code),
    )
    client.post(CODE_REQUEST, {"email": bob.email})
    services.deactivate_contact(bob)
    response = client.post(CODE_CONFIRM, {"code": codes[-1]}, follow=True)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "現在ログインできません" in response.content.decode()


def test_switching_to_another_members_login_needs_that_very_address(client, alice, bob, adachi):
    twin = services.add_contact(adachi, name="佐藤 美咲", email=alice.email)
    # bob, logged in by code, tries to switch into alice's login at 足立区.
    client.force_login(bob.user)
    session = client.session
    session["portal_login_address"] = alice.email  # even with her address in the session
    session.save()
    assert client.post(reverse("portal:switch", args=["131211"])).status_code == 403
    assert client.session["_auth_user_id"] == str(bob.user.pk)

    # alice, logged in by a code to her address, may enter both memberships.
    alice_client = Client()
    alice_client.force_login(alice.user)
    session = alice_client.session
    session["portal_login_address"] = alice.email
    session.save()
    choose = alice_client.get(reverse("portal:home")).content.decode()
    assert "東京都江戸川区" in choose and "東京都足立区" in choose
    response = alice_client.post(reverse("portal:switch", args=["131211"]))
    assert response["Location"] == reverse("portal:member", args=["131211"])
    assert twin.user is not None
    assert alice_client.session["_auth_user_id"] == str(twin.user.pk)

    # Once the secretariat moves the adachi contact to another address, the switch is gone.
    services.update_contact(twin, email="misaki.sato@city.adachi.example.jp")
    alice_client.force_login(alice.user)
    session = alice_client.session
    session["portal_login_address"] = alice.email
    session.save()
    assert alice_client.post(reverse("portal:switch", args=["131211"])).status_code == 403


def test_the_code_request_answers_the_same_page_for_a_known_and_an_unknown_address(
    alice, monkeypatch
):
    monkeypatch.setattr("association.emails.send_login_code", lambda *a, **k: None)
    known = Client().post(CODE_REQUEST, {"email": alice.email}, follow=True)
    unknown = Client().post(CODE_REQUEST, {"email": "nobody@city.adachi.example.jp"}, follow=True)
    strip = lambda html: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)  # noqa: E731
    assert known.status_code == unknown.status_code == 200
    known_html = strip(known.content.decode()).replace(alice.email, "ADDRESS")
    unknown_html = strip(unknown.content.decode()).replace(
        "nobody@city.adachi.example.jp", "ADDRESS"
    )
    assert known_html == unknown_html
