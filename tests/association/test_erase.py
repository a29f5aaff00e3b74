import pytest
from django.urls import reverse

from association import services
from association.models import AuditEntry, Contact, User


def test_erasing_a_contact_removes_every_personal_field_and_the_login(bob):
    user_pk = bob.user.pk
    erased = services.erase_contact(bob)

    assert erased.name == "（削除済み）"
    assert (erased.kana, erased.department, erased.title, erased.phone) == ("", "", "", "")
    assert erased.email.endswith("@invalid.invalid")
    assert not erased.is_active
    assert not User.objects.filter(pk=user_pk).exists()
    entry = AuditEntry.objects.get(action="contact_erased")
    assert "鈴木" not in entry.summary and "bob@" not in str(entry.changes)


def test_erasing_keeps_a_login_still_used_for_another_municipality(alice, adachi):
    services.add_contact(adachi, name="佐藤 美咲", email=alice.email)
    services.erase_contact(alice)
    assert User.objects.filter(email=alice.email, is_active=True).exists()


def test_erasing_twice_is_harmless(bob):
    services.erase_contact(bob)
    services.erase_contact(bob)
    assert AuditEntry.objects.filter(action="contact_erased").count() == 1


def test_a_training_notice_not_yet_sent_to_an_erased_person_is_never_sent(bob, outbox):
    import datetime as dt

    from django.utils import timezone

    from events import services as events_services
    from events.models import Notice, Training
    from tests.events.conftest import deliver_pending

    start = timezone.localtime() + dt.timedelta(days=30)
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
    events_services.register_for_training(training, contact=bob)
    services.erase_contact(bob)
    deliver_pending()
    assert len(outbox) == 0  # not to bob's address, nor to the erased placeholder
    notices = Notice.objects.filter(contact=bob)
    assert notices.exists()
    for notice in notices:
        assert notice.status == Notice.Status.FAILED
        assert "削除" in notice.error


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", "root@example.jp", "x-long-pass"))
    return client


def test_only_a_superuser_may_erase_and_no_one_deletes_rows(superuser_client, client, bob):
    url = reverse("admin:association_contact_changelist")
    response = superuser_client.post(
        url, {"action": "erase_selected", "_selected_action": [bob.pk]}
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.name == "（削除済み）"
    assert Contact.objects.filter(pk=bob.pk).exists()
    page = superuser_client.get(url).content.decode()
    assert "delete_selected" not in page
