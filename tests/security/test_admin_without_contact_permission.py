"""Attack: a staff account with every permission except the contact view permission walks every
admin page (issue 8 §5): every changelist, search, change form, add form, export and custom view
that the apps register. Not one name or address of a contact appears."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from association import services
from association.models import AuditEntry, Contact, User
from events import services as events_services
from events.models import Registration, Training
from mailing import services as mailing
from mailing.models import Bulletin, Delivery, MailingList, Suppression


@pytest.fixture
def people(alice, bob, charlie, root) -> list[Contact]:
    """Contacts with a life in every app: lists, bulletins, bounces, trainings, hand-overs."""
    mailing_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    mailing.add_to_list(mailing_list, charlie, by=root)
    mailing.opt_out(mailing_list, bob, source="portal", by=root)
    bulletin = mailing.save_bulletin(
        None, mailing_list=mailing_list, subject="第1号", body="{{ 氏名 }} 様\n\n本文"
    )
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)
    while mailing.drain_bulletin(bulletin.pk):
        pass
    delivery = Delivery.objects.get(bulletin=bulletin, contact=alice)
    mailing.record_provider_event(
        mailing.EventInput(
            provider="postmark",
            event_id="e1",
            event_type="bounced",
            message_id=delivery.provider_message_id,
            recipient=alice.email,
            description=f"550 <{alice.email}> unknown",
        )
    )
    Delivery.objects.filter(pk=delivery.pk).update(error=f"550 <{alice.email}> unknown")
    mailing.suppress_address(charlie.email, reason=Suppression.Reason.MANUAL, by=root)
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
    for contact in (alice, bob, charlie):
        events_services.register_for_training(training, contact=contact)
    registration = Registration.objects.get(contact=bob)
    events_services.cancel_registration(registration, by=root)
    successor = services.hand_over_contact(
        alice,
        by=root,
        name="田中 翔",
        kana="たなか しょう",
        email="sho.tanaka@city.edogawa.example.jp",
    )
    return [alice, bob, charlie, successor]


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", "root@renkei.example.jp", "x-long-pass-123")


@pytest.fixture
def clerk(db) -> User:
    """Every permission of every app, save association.view_contact."""
    user = User.objects.create_user("clerk", "clerk@renkei.example.jp", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(codename="view_contact"))
    assert user.has_perm("association.change_contact")
    assert not user.has_perm("association.view_contact")
    return user


def secrets_of(contacts: list[Contact]) -> list[str]:
    found = []
    for contact in Contact.objects.filter(pk__in=[c.pk for c in contacts]):
        found += [contact.name, contact.email, contact.email.split("@")[0]]
        found += [v for v in (contact.kana, contact.phone, contact.department) if v]
    return found


# Random per-page tokens: a 64-character CSRF token holds "bob" about once in 4,000 pages.
RANDOM_TOKENS = re.compile(r'(name="csrfmiddlewaretoken" value|nonce)="[^"]*"')


def _leaks(html: str, secrets: list[str], query: str = "") -> list[str]:
    html = RANDOM_TOKENS.sub("", html)
    if query:  # the search box and the page's links repeat the query itself
        secrets = [s for s in secrets if s not in query and query not in s]
    return [secret for secret in secrets if secret in html]


def _admin_urls(model_admin: Any, objects: dict[str, list[Any]]) -> list[str]:
    """Every GET-able URL of MODEL_ADMIN, the custom ones included, filled with real ids."""
    urls = []
    for pattern in model_admin.get_urls():
        if isinstance(pattern, URLResolver) or not isinstance(pattern, URLPattern):
            continue
        name = pattern.name
        if not name or name.endswith(("_delete", "_autocomplete")):
            continue
        route = str(pattern.pattern)
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if not params:
            urls.append(reverse(f"admin:{name}"))
            continue
        if params in (["object_id"], ["pk"]):
            for obj in objects.get(model_admin.model._meta.label, [])[:3]:
                urls.append(reverse(f"admin:{name}", args=[obj.pk]))
    return urls


def test_a_clerk_without_the_contact_permission_sees_no_one_anywhere(client, people, clerk):
    secrets = secrets_of(people)
    assert len(secrets) > 12
    objects = {
        model._meta.label: list(model._default_manager.order_by("-pk")[:3])
        for model in admin.site._registry
    }
    client.force_login(clerk)
    visited = 0
    for model, model_admin in admin.site._registry.items():
        for url in _admin_urls(model_admin, objects):
            response = client.get(url)
            assert response.status_code in (200, 302, 403, 404, 405), url
            if response.status_code == 200 and response.get("Content-Type", "").startswith(
                "text/html"
            ):
                visited += 1
                assert _leaks(response.content.decode(), secrets) == [], url
            elif response.status_code == 200:
                visited += 1
                assert _leaks(response.content.decode("utf-8", "replace"), secrets) == [], url
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for query in ("alice@city.edogawa.example.jp", "佐藤", "さとう", "charlie"):
            response = client.get(changelist, {"q": query})
            if response.status_code != 200:
                continue
            assert _leaks(response.content.decode(), secrets, query) == [], (changelist, query)
            result = response.context["cl"]
            if model in (Registration, Delivery, AuditEntry) or model._meta.label in (
                "mailing.Subscription",
                "events.Notice",
            ):
                # A search by a person's name or address does not narrow the list: it would tell
                # that they are registered, on a list, or bounced (the query is ignored, or
                # searches only fields that hold no one's data).
                unfiltered = client.get(changelist).context["cl"].result_count
                assert result.result_count in (0, unfiltered), (changelist, query)
    assert visited > 30

    # Exports: the contact export and the participant exports are refused.
    assert client.get(reverse("admin:association_contact_export")).status_code == 403
    training = Training.objects.get()
    assert client.get(reverse("admin:events_training_csv", args=[training.pk])).status_code == 403
    response = client.post(
        reverse("admin:events_registration_changelist"),
        {
            "action": "export_csv",
            "_selected_action": list(Registration.objects.values_list("pk", flat=True)),
        },
    )
    assert _leaks(response.content.decode("utf-8", "replace"), secrets) == []
    # The admin home's recent actions and the bulletin's report page too.
    page = client.get(reverse("admin:index")).content.decode()
    assert _leaks(page, secrets) == []
    bulletin = Bulletin.objects.get()
    page = client.get(reverse("admin:mailing_bulletin_change", args=[bulletin.pk])).content.decode()
    assert "失敗・不達 1 件" in page
    assert _leaks(page, secrets) == []


def test_the_same_pages_show_people_to_the_secretariat(client, people, root):
    """The walk above can fail: with the permission, the names are there."""
    client.force_login(root)
    for name in ("registration", "notice"):
        page = client.get(reverse(f"admin:events_{name}_changelist")).content.decode()
        assert "高橋 由美子" in page or "charlie@" in page
    page = client.get(reverse("admin:association_auditentry_changelist")).content.decode()
    assert "佐藤 美咲" in page
    page = client.get(reverse("admin:mailing_delivery_changelist"), {"q": "alice@"})
    assert page.context["cl"].result_count == 1


def test_exports_and_suppression_changes_are_audited_with_who_when_and_what(client, people, root):
    client.force_login(root)
    assert (
        client.get(reverse("admin:association_contact_export"), {"format": "csv"}).status_code
        == 200
    )
    training = Training.objects.get()
    assert client.get(reverse("admin:events_training_xlsx", args=[training.pk])).status_code == 200
    suppression = Suppression.objects.get(reason=Suppression.Reason.MANUAL)
    response = client.post(
        reverse("admin:mailing_suppression_delete", args=[suppression.pk]), {"post": "yes"}
    )
    assert response.status_code == 302

    exported = AuditEntry.objects.get(action="contacts_exported")
    assert exported.actor == root and exported.created_at
    assert exported.changes["format"] == "csv" and exported.changes["rows"] == "3"
    participants = AuditEntry.objects.get(action="participants_exported")
    assert participants.changes == {"format": "xlsx", "rows": "2", "trainings": str(training.pk)}
    added = AuditEntry.objects.filter(action="suppression_added")
    assert added.count() == 2  # the bounce (by no one) and the secretariat's own
    removed = AuditEntry.objects.get(action="suppression_removed")
    assert removed.actor == root
    rendered = removed.render(show_people=True)
    assert "高橋 由美子" in rendered and "charlie@" not in rendered
    assert "charlie@" not in str(removed.changes)
