import datetime as dt

import pytest
from django.urls import reverse

from association import services
from association.models import Contact, Member, User
from tests.conftest import lg


@pytest.fixture
def secretariat(db):
    return User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")


@pytest.fixture
def admin_client_(client, secretariat):
    client.force_login(secretariat)
    return client


@pytest.fixture
def many_members(registry):
    names = [
        "東京都江戸川区",
        "東京都足立区",
        "東京都港区",
        "神奈川県座間市",
        "新潟県長岡市",
        "岩手県",
    ]
    for i, name in enumerate(names):
        member = services.admit_member(lg(name), joined_on=dt.date(2011, 7, 1))
        for n in range(3):
            services.add_contact(member, name=f"職員{i}-{n}", email=f"s{n}@m{i}.example.jp")


@pytest.mark.parametrize(
    "model", ["member", "contact", "agreement", "localgovernment", "prefecture", "auditentry"]
)
def test_every_registry_changelist_runs_a_fixed_number_of_queries(
    admin_client_, many_members, model, django_assert_max_num_queries
):
    url = reverse(f"admin:association_{model}_changelist")
    with django_assert_max_num_queries(12):
        response = admin_client_.get(url)
    assert response.status_code == 200


def test_the_member_changelist_filters_by_block_and_searches_by_kana(admin_client_, many_members):
    from association.models import Block

    kanto = Block.objects.get(name="関東")
    response = admin_client_.get(
        reverse("admin:association_member_changelist"), {"block": kanto.pk}
    )
    html = response.content.decode()
    assert "東京都港区" in html and "新潟県長岡市" not in html
    response = admin_client_.get(reverse("admin:association_member_changelist"), {"q": "ザマ"})
    html = response.content.decode()
    assert "神奈川県座間市" in html and "東京都港区" not in html


def test_adding_a_member_in_the_admin_records_the_join(admin_client_, registry):
    response = admin_client_.post(
        reverse("admin:association_member_add"),
        {
            "local_government": "131016",
            "status": "active",
            "kind": "member",
            "joined_on": "2024-04-01",
            "notes": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    member = Member.objects.get(local_government_id="131016")
    assert member.events.get().action == "joined"


def test_the_admin_hands_over_a_contact(admin_client_, alice, bob):
    url = reverse("admin:association_contact_hand_over", args=[alice.pk])
    response = admin_client_.post(url, {"existing": bob.pk})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.role == Contact.Role.COORDINATOR


def test_a_staff_account_without_permissions_cannot_see_contacts(client, alice):
    clerk = User.objects.create_user(
        "clerk", "clerk@example.jp", "x-long-passphrase", is_staff=True
    )
    client.force_login(clerk)
    response = client.get(reverse("admin:association_contact_changelist"))
    assert response.status_code == 403


def test_a_municipality_account_cannot_enter_the_admin(client, alice):
    client.force_login(alice.user)
    response = client.get(reverse("admin:association_contact_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_admin_withdraws_and_readmits_members_keeping_the_history(admin_client_, edogawa):
    url = reverse("admin:association_member_changelist")
    for action, act, status in (
        ("withdraw_selected", "withdraw", Member.Status.LEFT),
        ("readmit_selected", "readmit", Member.Status.ACTIVE),
    ):
        asked = admin_client_.post(url, {"action": action, "_selected_action": [edogawa.pk]})
        assert asked.status_code == 302  # to the confirmation page: nothing changed yet
        confirm = reverse(f"admin:association_member_{act}")
        admin_client_.post(confirm, {"ids": str(edogawa.pk), "on": "2026/4/1", "reason": "総会"})
        edogawa.refresh_from_db()
        assert edogawa.status == status
    assert list(edogawa.events.values_list("action", flat=True)) == ["joined", "left", "rejoined"]


def test_the_admin_records_a_non_member_municipality_as_a_guest(admin_client_, registry):
    response = admin_client_.post(
        reverse("admin:association_member_add"),
        {
            "local_government": "112038",
            "status": "guest",
            "kind": "member",
            "joined_on": "2026-11-01",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    member = Member.objects.get(local_government_id="112038")
    assert member.status == Member.Status.GUEST
    assert member.events.get().action == "guest"


def test_a_case_variant_duplicate_address_is_a_form_error_not_a_failure(
    admin_client_, alice, edogawa
):
    response = admin_client_.post(
        reverse("admin:association_contact_add"),
        {
            "member": edogawa.pk,
            "name": "別人",
            "email": "ALICE@CITY.EDOGAWA.EXAMPLE.JP",
            "role": "staff",
        },
    )
    assert response.status_code == 200
    assert "すでに登録されています" in response.content.decode()
    assert Contact.objects.filter(member=edogawa).count() == 1


def test_a_secretariat_address_cannot_become_a_contact(admin_client_, client, alice, edogawa):
    former = User.objects.create_superuser("former", "former@npo.example.jp", "x-long-pass")
    former.is_active = False
    former.save()
    response = admin_client_.post(
        reverse("admin:association_contact_add"),
        {"member": edogawa.pk, "name": "元職員", "email": "former@npo.example.jp", "role": "staff"},
    )
    assert "事務局のアカウント" in response.content.decode()
    # Nor through the portal, by a coordinator.
    client.force_login(alice.user)
    url = reverse("portal:contact_add", args=[edogawa.local_government_id])
    response = client.post(
        url, {"name": "元職員", "email": "Former@npo.example.jp", "role": "staff"}
    )
    assert "事務局のアカウント" in response.content.decode()
    former.refresh_from_db()
    assert not former.is_active
