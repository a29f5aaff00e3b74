"""Published 照会 results are listed in the portal's bulletin archive beside the bulletins, by
the results pages' own rule: the secretariat and active members' staff, never a guest
municipality; unpublished results never."""

from __future__ import annotations

import pytest
from django.urls import reverse

from association import services as association
from inquiries import services
from tests.conftest import lg

from .conftest import answers, reply_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(inquiry, edogawa, alice):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    inquiry.published = True
    return services.save_inquiry(inquiry)


def _archive(client, **query) -> str:
    response = client.get(reverse("mailing:archive"), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_member_finds_published_results_in_the_archive(client, charlie, published):
    client.force_login(charlie.user)  # 足立区: any active member's staff, as the results page
    html = _archive(client)
    assert reverse("inquiries:published", args=[published.pk]) in html
    assert published.title in html
    assert client.get(reverse("inquiries:published", args=[published.pk])).status_code == 200


def test_unpublished_results_are_not_listed(client, bob, inquiry):
    client.force_login(bob.user)
    html = _archive(client)
    assert reverse("inquiries:published", args=[inquiry.pk]) not in html
    assert inquiry.title not in html


def test_the_archive_search_narrows_the_results_with_the_same_folding(client, bob, published):
    client.force_login(bob.user)
    link = reverse("inquiries:published", args=[published.pk])
    for typed in ["策定状況", "計画\u3000策定", "自殺対策計画", "令和８年度"]:
        assert link in _archive(client, q=typed), typed
    assert link not in _archive(client, q="総会")
    # A chosen list holds bulletins only; a search that cannot be read shows nothing.
    assert link not in _archive(client, mailing_list="99999")


def test_a_guest_municipality_sees_no_archive_and_no_results(client, published, registry):
    guest = association.register_guest(lg("東京都墨田区"))
    outsider = association.add_contact(guest, name="非会員 職員", email="x@city.sumida.example.jp")
    client.force_login(outsider.user)
    assert client.get(reverse("mailing:archive")).status_code == 403
    assert client.get(reverse("inquiries:published", args=[published.pk])).status_code == 403


def test_the_secretariat_sees_the_results_in_the_archive(admin_client, published):
    assert reverse("inquiries:published", args=[published.pk]) in _archive(admin_client)
