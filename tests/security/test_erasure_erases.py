"""Attack on the promise 「個人情報を削除する」 (issue 8 §4): after erasing a person who has lived a
full life in Renkei (renamed, moved address, logged in, on a list, bounced, registered for a
training, edited in the admin), search EVERY text column of EVERY table for anything of hers.
Another person with the same name and kana keeps every row (erasure works by id)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from association import services
from association.models import AuditEntry, Contact, User
from events import services as events_services
from events.models import Training
from mailing import services as mailing
from mailing.models import Bulletin, Delivery, MailingList, Suppression

OLD_NAME = "田中 美咲"
NAME = "佐藤 美咲"
KANA = "さとう みさき"
OLD_EMAIL = "misaki.tanaka@city.edogawa.example.jp"
EMAIL = "misaki.sato@city.edogawa.example.jp"
PHONE = "03-5662-0001"
TITLE = "係長 自殺対策担当"
DEPARTMENT = "健康部 保健予防課 いのち支援係"


def scan(value: str) -> list[tuple[str, str, object]]:
    """(table, column, primary key) of every row whose column contains VALUE as text."""
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            key = "id" if "id" in columns else columns[0]
            q = connection.ops.quote_name
            for column in columns:
                cursor.execute(
                    f"SELECT {q(key)} FROM {q(table)} WHERE CAST({q(column)} AS TEXT) LIKE %s",
                    [f"%{value}%"],
                )
                hits += [(table, column, row[0]) for row in cursor.fetchall()]
    return hits


def _sent_bulletin(mailing_list: MailingList, subject: str) -> Bulletin:
    bulletin = mailing.save_bulletin(
        None, mailing_list=mailing_list, subject=subject, body="{{ 氏名 }} 様\n\n本文です。"
    )
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)
    while mailing.drain_bulletin(bulletin.pk):
        pass
    return bulletin


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", "root@renkei.example.jp", "x-long-pass-123")


def test_erasing_a_person_leaves_nothing_of_her_in_any_table(client, root, edogawa, adachi):
    mailing_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    misaki = services.add_contact(
        edogawa, name=OLD_NAME, kana=KANA, email=OLD_EMAIL, role="coordinator"
    )
    namesake = services.add_contact(adachi, name=NAME, kana=KANA, email="sato@city.adachi.jp")
    colleague = services.add_contact(edogawa, name="鈴木 健太", email="suzuki@city.edogawa.jp")

    # Mail to her old name and address; the provider bounces it, quoting the address.
    first = _sent_bulletin(mailing_list, "第1号")
    delivery = Delivery.objects.get(bulletin=first, contact=misaki)
    mailing.record_provider_event(
        mailing.EventInput(
            provider="postmark",
            event_id="evt-1",
            event_type="bounced",
            message_id=delivery.provider_message_id or "pm-1",
            recipient=OLD_EMAIL,
            description=f"550 5.1.1 <{OLD_EMAIL}>: Recipient address rejected ({OLD_NAME})",
        )
    )
    Delivery.objects.filter(pk=delivery.pk).update(error=f"550 {OLD_EMAIL} unknown")
    assert Suppression.objects.filter(email=OLD_EMAIL).exists()

    # She marries and moves: the secretariat changes her in the admin (django_admin_log).
    client.force_login(root)
    change = reverse("admin:association_contact_change", args=[misaki.pk])
    response = client.post(
        change,
        {
            "member": edogawa.pk,
            "name": NAME,
            "kana": KANA,
            "department": DEPARTMENT,
            "title": TITLE,
            "email": EMAIL,
            "phone": PHONE,
            "role": "coordinator",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    misaki.refresh_from_db()
    assert misaki.email == EMAIL and misaki.user is not None
    assert not User.objects.filter(username=OLD_EMAIL).exists()  # the old login went at once

    # She logs in, registers for a training, opts out of a list; another bulletin reaches her.
    portal = client.__class__()
    portal.force_login(misaki.user)
    assert portal.get(reverse("portal:home")).status_code in (200, 302)
    start = timezone.localtime() + dt.timedelta(days=20)
    training = events_services.save_training(
        Training(
            kind=Training.Kind.NATIONAL,
            title="全体研修会",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            capacity=5,
            per_member_limit=3,
            status=Training.Status.PUBLISHED,
            nendo=0,
        )
    )
    events_services.register_for_training(training, contact=misaki)
    events_services.register_for_training(training, contact=namesake)
    events_services.deliver_pending_notices()
    mailing.unsuppress_address(OLD_EMAIL, by=root)
    mailing.suppress_address(OLD_EMAIL, reason=Suppression.Reason.MANUAL, by=root, note=OLD_EMAIL)
    _sent_bulletin(mailing_list, "第2号")
    services.hand_over_contact(colleague, successor=misaki, by=root)
    her_login = misaki.user.pk

    def her_sessions() -> int:
        owners = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
        return owners.count(str(her_login))

    assert her_sessions() == 1

    # Every value of hers is somewhere before (the scan finds what it looks for).
    for value in (OLD_NAME, NAME, OLD_EMAIL, EMAIL, PHONE, TITLE, DEPARTMENT):
        assert scan(value), value

    response = client.post(
        reverse("admin:association_contact_changelist"),
        {"action": "erase_selected", "_selected_action": [misaki.pk]},
    )
    assert response.status_code == 302

    for value in (OLD_NAME, OLD_EMAIL, EMAIL, PHONE, TITLE, DEPARTMENT, "misaki"):
        assert scan(value) == [], value
    # Her name and kana are also her namesake's: found only in the namesake's own rows.
    theirs = {("association_contact", namesake.pk)} | {
        ("mailing_delivery", pk)
        for pk in Delivery.objects.filter(contact=namesake).values_list("pk", flat=True)
    }
    for value in (NAME, KANA):
        assert {(table, pk) for table, _column, pk in scan(value)} <= theirs, value
    assert her_sessions() == 0
    assert portal.get(reverse("portal:home")).status_code == 302  # logged out
    assert not User.objects.filter(contact=misaki).exists()

    # The erased address is still never mailed: the suppression kept its hash.
    suppression = Suppression.objects.get()
    assert suppression.email == "" and suppression.note == ""
    assert mailing.is_suppressed(OLD_EMAIL)

    # The namesake lost nothing.
    namesake.refresh_from_db()
    assert (namesake.name, namesake.kana, namesake.email) == (NAME, KANA, "sato@city.adachi.jp")
    assert Delivery.objects.filter(contact=namesake, recipient_name=NAME).count() == 2
    entries = AuditEntry.objects.filter(person_links__contact=namesake).prefetch_related(
        "person_links__contact"
    )
    assert entries.exists()
    assert all(NAME in entry.render(show_people=True) for entry in entries)
    erased_entries = AuditEntry.objects.filter(person_links__contact=misaki)
    assert erased_entries.count() >= 5
    for entry in erased_entries.exclude(action="contact_erased"):
        assert "（削除済み）" in entry.render(show_people=True), entry.summary
    assert not LogEntry.objects.filter(object_repr__contains="美咲").exists()


def test_an_erased_address_added_again_is_still_not_mailed(edogawa, adachi):
    mailing_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    person = services.add_contact(edogawa, name=NAME, email=EMAIL)
    mailing.suppress_address(EMAIL, reason=Suppression.Reason.HARD_BOUNCE)
    services.erase_contact(person)
    assert scan(EMAIL) == []

    again = services.add_contact(adachi, name="佐藤 美咲", email=EMAIL.upper())
    bulletin = _sent_bulletin(mailing_list, "第3号")

    row = Delivery.objects.get(bulletin=bulletin, contact=again)
    assert row.status == Delivery.Status.SKIPPED
    assert row.skip_reason == Delivery.SkipReason.SUPPRESSED
    assert mailing.members_without_reachable_contact().filter(pk=adachi.pk).exists()


def test_erasing_one_person_touches_no_entry_about_another_with_the_same_name(edogawa, adachi):
    """The reproduction of the issue: one 佐藤 美咲 erased wiped the entries of seven others."""
    others = [
        services.add_contact(adachi, name=NAME, email=f"sato{n}@city.adachi.jp") for n in range(7)
    ]
    erased = services.add_contact(edogawa, name=NAME, email=EMAIL)
    before = {
        e.pk: (e.summary, e.changes, e.render(show_people=True))
        for e in AuditEntry.objects.filter(person_links__contact__in=others)
    }
    services.erase_contact(erased)
    after = {
        e.pk: (e.summary, e.changes, e.render(show_people=True))
        for e in AuditEntry.objects.filter(person_links__contact__in=others)
    }
    assert after == before and len(before) == 7
    assert all(NAME in rendered for _s, _c, rendered in after.values())
    assert Contact.objects.filter(name=NAME).count() == 7
