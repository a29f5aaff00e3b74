"""The delivery tally the database keeps (triggers of mailing migration 0006) always equals a
count of the deliveries, whatever statement changed them, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from association import services as association
from association.models import Contact
from mailing import services, tally
from mailing.models import Bulletin, Delivery, DeliveryTally

from .helpers import make_contacts

pytestmark = pytest.mark.django_db


def counted(bulletin: Bulletin) -> dict[str, int]:
    rows = Delivery.objects.filter(bulletin=bulletin).values_list("status").annotate(Count("pk"))
    return dict(rows.order_by())


def started(mailing_list, subject: str = "お知らせ") -> Bulletin:
    bulletin = services.save_bulletin(None, mailing_list=mailing_list, subject=subject, body="本文")
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    return Bulletin.objects.get(pk=bulletin.pk)


def test_the_tally_follows_snapshot_sending_events_opt_outs_erasure_and_cancel(
    registry, all_members_list
):
    contacts = make_contacts(24, per_member=4)
    services.suppress_address(contacts[0].email, reason="manual")
    services.opt_out(all_members_list, contacts[1], source="portal")
    bulletin = started(all_members_list)
    assert services.bulletin_progress(bulletin).counts == counted(bulletin)
    assert counted(bulletin) == {"queued": 22, "skipped": 2}

    services.drain_bulletin(bulletin.pk)
    sent = Delivery.objects.filter(bulletin=bulletin, status="sent")
    for n, delivery in enumerate(sent[:3]):
        services.record_provider_event(
            services.EventInput(
                provider="test",
                event_id=f"ev-{n}",
                event_type="bounced" if n else "delivered",
                message_id=delivery.provider_message_id,
                recipient=delivery.email,
            )
        )
    assert services.bulletin_progress(bulletin).counts == counted(bulletin)
    assert counted(bulletin)["sent"] + counted(bulletin).get("delivered", 0) > 0

    second = started(all_members_list, "二通目")
    services.opt_out(all_members_list, contacts[5], source="link")
    association.erase_contact(contacts[6])
    services.cancel_bulletin(second)
    for one in (bulletin, second):
        assert services.bulletin_progress(one).counts == counted(one)
    assert counted(second).get("cancelled", 0) > 0


def test_the_tally_folds_into_one_row_per_status_without_changing_a_count(
    registry, all_members_list, monkeypatch
):
    make_contacts(12, per_member=3)
    bulletin = started(all_members_list)
    services.drain_bulletin(bulletin.pk)
    before = services.bulletin_progress(bulletin).counts
    assert DeliveryTally.objects.filter(bulletin_id=bulletin.pk).count() > 1
    monkeypatch.setattr(DeliveryTally, "FOLD_AFTER", 0)

    assert services.bulletin_progress(bulletin).counts == before  # read, then folded
    assert services.bulletin_progress(bulletin).counts == before == counted(bulletin)
    rows = DeliveryTally.objects.filter(bulletin_id=bulletin.pk)
    assert rows.count() == len(before)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(Delivery.Status.values),
            st.sampled_from(Delivery.Status.values),
            st.integers(min_value=1, max_value=9),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_update_statement_keeps_the_tally_equal_to_a_count(registry, all_members_list, steps):
    if not Contact.objects.exists():  # examples share one test database
        make_contacts(9, per_member=3)
    bulletin = started(all_members_list, "任意の更新")
    for source, target, limit in steps:
        ids = list(
            Delivery.objects.filter(bulletin=bulletin, status=source).values_list("pk", flat=True)[
                :limit
            ]
        )
        # One statement for several rows, as the pipeline writes them (also rows that stay).
        Delivery.objects.filter(pk__in=ids).update(status=target)
        Delivery.objects.filter(bulletin=bulletin, status=target).update(attempts=1)
        assert services.bulletin_progress(bulletin).counts == counted(bulletin)
    Bulletin.objects.filter(pk=bulletin.pk).delete()
    assert sum(DeliveryTally.objects.counts(bulletin.pk).values()) == 0


@pytest.mark.django_db(transaction=True)
def test_two_folds_at_once_keep_every_count(registry, all_members_list):
    make_contacts(20, per_member=4)
    bulletin = started(all_members_list)
    services.drain_bulletin(bulletin.pk)
    expected = counted(bulletin)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def fold() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                DeliveryTally.objects.fold(bulletin.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert DeliveryTally.objects.counts(bulletin.pk) == expected


@pytest.mark.django_db(transaction=True)
def test_migrate_puts_back_triggers_a_table_rebuild_dropped_and_recounts(
    registry, all_members_list
):
    make_contacts(6, per_member=3)
    bulletin = started(all_members_list)
    with connection.cursor() as cursor:  # what SQLite does when a migration rebuilds the table
        for name in tally.NAMES:
            cursor.execute(
                f"DROP TRIGGER IF EXISTS {name}"
                + (" ON mailing_delivery" if connection.vendor == "postgresql" else "")
            )
    Delivery.objects.filter(bulletin=bulletin).update(status="sent")
    assert not tally.installed()

    call_command("migrate", verbosity=0)

    assert tally.installed()
    assert services.bulletin_progress(bulletin).counts == counted(bulletin) == {"sent": 6}
