"""Every admin and portal page that grows with the data runs a bounded number of queries, the
same with five times the rows (bench/pages.py measures their time at 1,000 and 100,000)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from association import services as registry_services
from association.models import Contact, LocalGovernment, Member
from events import services as events
from events.models import Training
from mailing import services as mailing
from mailing.models import Bulletin, Delivery, MailingList

MAX_QUERIES = 15


class World:
    """Members, contacts, a sent bulletin per step, events, opt-outs, suppressions,
    registrations and outbox mail, all made through the services."""

    def __init__(self) -> None:
        self.list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
        start = timezone.now() + dt.timedelta(days=30)
        self.training = events.save_training(
            Training(
                kind=Training.Kind.NATIONAL,
                title="令和8年度 全体研修会",
                starts_at=start,
                ends_at=start + dt.timedelta(hours=3),
                capacity=1000,
                per_member_limit=100,
                status=Training.Status.PUBLISHED,
                nendo=0,
            )
        )
        self.governments = iter(LocalGovernment.objects.municipalities().current().order_by("code"))
        self.steps = 0

    def grow(self, members: int, per_member: int) -> None:
        self.steps += 1
        added: list[Contact] = []
        for _ in range(members):
            government = next(self.governments)
            member = registry_services.admit_member(government)
            for i in range(per_member):
                added.append(
                    registry_services.add_contact(
                        member,
                        name=f"担当 {self.steps}-{i}",
                        kana=f"たんとう {self.steps}-{i}",
                        email=f"s{self.steps}-{i}@lg{government.code}.example.jp",
                    )
                )
        mailing.opt_out(self.list, added[0], source="portal")
        mailing.suppress_address(added[1].email, reason="manual")
        for contact in added:
            events.register_for_training(self.training, contact=contact)
        bulletin = mailing.save_bulletin(
            None, mailing_list=self.list, subject=f"お知らせ {self.steps}", body="本文"
        )
        mailing.start_bulletin(bulletin)
        mailing.snapshot_audience(bulletin.pk)
        while mailing.drain_bulletin(bulletin.pk):
            pass
        sent = Delivery.objects.filter(bulletin=bulletin, status="sent")
        for n, delivery in enumerate(sent[:3]):
            mailing.record_provider_event(
                mailing.EventInput(
                    provider="test",
                    event_id=f"ev-{self.steps}-{n}",
                    event_type="bounced" if n else "delivered",
                    message_id=delivery.provider_message_id,
                    recipient=delivery.email,
                )
            )
        for n in range(members * per_member):
            EmailMessage(f"件名 {n}", "本文", to=[f"x{n}@example.jp"]).send()
        self.bulletin = Bulletin.objects.get(pk=bulletin.pk)
        self.contact = added[2]


@pytest.fixture
def world(registry) -> World:
    return World()


def admin_pages(world: World) -> dict[str, str]:
    contact = world.contact
    return {
        "bulletin report": reverse("admin:mailing_bulletin_change", args=[world.bulletin.pk]),
        "bulletin progress": reverse("admin:mailing_bulletin_progress", args=[world.bulletin.pk]),
        "bulletins": reverse("admin:mailing_bulletin_changelist"),
        "deliveries": reverse("admin:mailing_delivery_changelist"),
        "deliveries searched by address": reverse("admin:mailing_delivery_changelist")
        + f"?q={contact.email.upper()}",
        "deliveries of a bulletin": reverse("admin:mailing_delivery_changelist")
        + f"?bulletin__id__exact={world.bulletin.pk}",
        "contacts": reverse("admin:association_contact_changelist"),
        "contacts searched": reverse("admin:association_contact_changelist") + "?q=たんとう",
        "member": reverse("admin:association_member_change", args=[contact.member_id]),
        "registrations": reverse("admin:events_registration_changelist"),
        "trainings": reverse("admin:events_training_changelist"),
        "training": reverse("admin:events_training_change", args=[world.training.pk]),
        "subscriptions": reverse("admin:mailing_subscription_changelist"),
        "suppressions": reverse("admin:mailing_suppression_changelist"),
        "audit log": reverse("admin:association_auditentry_changelist"),
        "audit log filtered": reverse("admin:association_auditentry_changelist")
        + "?object_type=contact",
        "provider events": reverse("admin:mailing_providerevent_changelist"),
        "outbox": reverse("outbox_list"),
    }


def portal_pages(world: World) -> dict[str, str]:
    code = world.contact.member.local_government_id
    return {
        "portal home": reverse("portal:member", args=[code]),
        "portal preferences": reverse("mailing:preferences"),
        "portal archive": reverse("mailing:archive"),
        "portal archived bulletin": reverse("mailing:archive_detail", args=[world.bulletin.pk]),
        "portal trainings": reverse("events:member", args=[code]),
        "portal training": reverse("events:detail", args=[code, world.training.pk]),
        "portal attendance history": reverse("papers:attendance_history", args=[code]),
    }


def queries_of(client: Client, url: str, django_assert_max_num_queries: Callable) -> int:
    """Queries of a second request (within the bound both times): the first may also fold the
    delivery tally or fill a cache."""
    for _ in range(2):
        with django_assert_max_num_queries(MAX_QUERIES) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
    return len(captured)


def admin_client_for(client: Client) -> Client:
    from association.models import User

    user = User.objects.filter(username="root").first() or User.objects.create_superuser(
        "root", "root@example.jp", "x-long-pass"
    )
    client.force_login(user)
    return client


ADMIN_PAGES = [
    "bulletin report",
    "bulletin progress",
    "bulletins",
    "deliveries",
    "deliveries searched by address",
    "deliveries of a bulletin",
    "contacts",
    "contacts searched",
    "member",
    "registrations",
    "trainings",
    "training",
    "subscriptions",
    "suppressions",
    "audit log",
    "audit log filtered",
    "provider events",
    "outbox",
]
PORTAL_PAGES = [
    "portal home",
    "portal preferences",
    "portal archive",
    "portal archived bulletin",
    "portal trainings",
    "portal training",
    "portal attendance history",
]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_an_admin_page_runs_the_same_bounded_queries_with_five_times_the_rows(
    client, world, page, settings, django_assert_max_num_queries
):
    settings.DEBUG = page == "outbox"  # the outbox exists only with DEBUG on
    admin = admin_client_for(client)
    world.grow(members=2, per_member=3)
    small = queries_of(admin, admin_pages(world)[page], django_assert_max_num_queries)

    world.grow(members=6, per_member=5)
    large = queries_of(admin, admin_pages(world)[page], django_assert_max_num_queries)

    assert large == small, f"{page}: {small} queries with 6 contacts, {large} with 36"


def test_the_member_page_stays_bounded_for_a_staff_member_whose_permissions_come_from_a_group(
    client, world, django_assert_max_num_queries
):
    """Not a superuser: the page also asks what its viewer may do (one query, see
    association/backends.py), and still stays within the bound."""
    from django.contrib.auth.models import Group, Permission

    from association.models import User

    desk = Group.objects.create(name="事務局")
    desk.permissions.set(Permission.objects.filter(content_type__app_label="association"))
    staff = User.objects.create_user("desk", "desk@example.jp", "x-long-pass", is_staff=True)
    staff.groups.add(desk)
    client.force_login(staff)
    world.grow(members=2, per_member=3)
    small = queries_of(client, admin_pages(world)["member"], django_assert_max_num_queries)

    world.grow(members=6, per_member=5)
    large = queries_of(client, admin_pages(world)["member"], django_assert_max_num_queries)

    assert large == small


@pytest.mark.parametrize("page", PORTAL_PAGES)
def test_a_portal_page_runs_the_same_bounded_queries_with_five_times_the_rows(
    client, world, page, django_assert_max_num_queries
):
    world.grow(members=2, per_member=3)
    client.force_login(world.contact.user)
    small = queries_of(client, portal_pages(world)[page], django_assert_max_num_queries)
    contact = world.contact

    world.grow(members=6, per_member=5)
    world.contact = contact  # the same person's pages, with more of everything around them
    large = queries_of(client, portal_pages(world)[page], django_assert_max_num_queries)

    assert large == small, f"{page}: {small} queries, then {large}"


def test_the_delivery_search_finds_an_address_on_its_index_and_a_name_as_before(client, world):
    admin = admin_client_for(client)
    world.grow(members=2, per_member=3)
    url = reverse("admin:mailing_delivery_changelist")

    by_address = admin.get(url + f"?q= {world.contact.email.upper()} ").content.decode()
    by_name = admin.get(url + "?q=担当 1-2").content.decode()
    malformed = admin.get(url + "?q=@@").status_code

    assert by_address.count(world.contact.email) >= 1
    assert "担当 1-2" in by_name
    assert malformed == 200


def test_a_list_past_ten_thousand_rows_says_so_instead_of_counting_them(world):
    from association.admin_lists import CappedPaginator

    world.grow(members=2, per_member=3)
    paginator = CappedPaginator(Member.objects.order_by("pk"), 1)
    paginator.cap = 1

    assert paginator.count == 1 and paginator.capped
    exact = CappedPaginator(Member.objects.order_by("pk"), 1)
    assert exact.count == Member.objects.count() and not exact.capped
