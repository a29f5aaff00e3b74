import pytest
from django.urls import reverse

from association.models import Contact


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice.user)
    return client


@pytest.fixture
def as_bob(client, bob):
    client.force_login(bob.user)
    return client


def member_url(contact):
    return reverse("portal:member", args=[contact.member.local_government_id])


def test_it_shows_a_staff_member_their_municipality_and_its_contacts(as_bob, alice, bob):
    response = as_bob.get(reverse("portal:home"), follow=True)
    html = response.content.decode()
    assert "東京都江戸川区" in html
    assert alice.name in html and bob.name in html
    assert "担当者を追加" not in html  # bob is not the coordinator


def test_it_refuses_another_municipalitys_page(as_bob, charlie):
    response = as_bob.get(member_url(charlie))
    assert response.status_code == 403
    assert charlie.email not in response.content.decode()


def test_it_refuses_a_staff_member_adding_a_colleague(as_bob, edogawa):
    url = reverse("portal:contact_add", args=[edogawa.local_government_id])
    response = as_bob.post(
        url, {"name": "新人", "email": "new@city.edogawa.example.jp", "role": "staff"}
    )
    assert response.status_code == 403
    assert not Contact.objects.filter(email="new@city.edogawa.example.jp").exists()


def test_a_coordinator_adds_a_colleague(as_alice, edogawa):
    url = reverse("portal:contact_add", args=[edogawa.local_government_id])
    response = as_alice.post(
        url,
        {
            "name": "山本 さくら",
            "kana": "やまもと さくら",
            "email": "Ｓ-Yamamoto@city.edogawa.example.jp",
            "role": "staff",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(name="山本 さくら")
    assert contact.email == "s-yamamoto@city.edogawa.example.jp"
    assert contact.user is not None


def test_a_coordinator_sees_a_clear_message_for_a_duplicate_address(as_alice, edogawa, bob):
    url = reverse("portal:contact_add", args=[edogawa.local_government_id])
    response = as_alice.post(url, {"name": "重複", "email": bob.email, "role": "staff"})
    assert response.status_code == 200
    assert "すでに登録されています" in response.content.decode()


def test_a_coordinator_cannot_add_to_another_municipality(as_alice, adachi):
    url = reverse("portal:contact_add", args=[adachi.local_government_id])
    response = as_alice.post(url, {"name": "侵入", "email": "x@example.jp", "role": "staff"})
    assert response.status_code == 403
    assert not Contact.objects.filter(name="侵入").exists()


def test_a_coordinator_hands_over_bob_to_a_new_person(as_alice, edogawa, bob):
    url = reverse("portal:hand_over", args=[edogawa.local_government_id, bob.pk])
    response = as_alice.post(
        url, {"name": "中村 拓也", "email": "t-nakamura@city.edogawa.example.jp"}
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert not bob.is_active
    assert bob.successor.name == "中村 拓也"


def test_a_coordinator_cannot_hand_over_another_municipalitys_contact(as_alice, charlie, adachi):
    url = reverse("portal:hand_over", args=[adachi.local_government_id, charlie.pk])
    response = as_alice.post(url, {"name": "乗っ取り", "email": "evil@example.jp"})
    assert response.status_code == 403
    charlie.refresh_from_db()
    assert charlie.is_active


def test_the_portal_home_works_in_english(as_bob):
    as_bob.cookies["django_language"] = "en"
    response = as_bob.get(reverse("portal:home"), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert '<html lang="en">' in response.content.decode()


def test_the_portal_home_runs_a_fixed_number_of_queries(
    as_alice, edogawa, django_assert_max_num_queries
):
    from association import services

    for n in range(10):
        services.add_contact(edogawa, name=f"職員{n}", email=f"staff{n}@city.edogawa.example.jp")
    with django_assert_max_num_queries(8):
        as_alice.get(reverse("portal:member", args=[edogawa.local_government_id]))
