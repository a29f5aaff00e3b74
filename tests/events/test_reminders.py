import pytest

from events import services
from events.models import Notice

from .conftest import at, deliver_pending


@pytest.fixture
def training(make_training):
    return make_training(
        starts_at=at(2026, 6, 12, 13, 30), ends_at=at(2026, 6, 12, 16, 30), reminder_days=3
    )


def test_it_reminds_confirmed_registrants_once_even_when_beat_runs_twice(
    training, alice, bob, outbox
):
    services.register_for_training(training, contact=alice, now=at(2026, 5, 1))
    services.register_for_training(training, contact=bob, now=at(2026, 5, 1))
    deliver_pending()

    assert services.queue_due_reminders(now=at(2026, 6, 9, 8)) == 2
    assert services.queue_due_reminders(now=at(2026, 6, 9, 8, 15)) == 0
    assert services.queue_due_reminders(now=at(2026, 6, 10, 8)) == 0

    deliver_pending()
    reminders = [m for m in outbox.messages() if "開催のご案内" in m.subject]
    assert sorted(m.to for m in reminders) == sorted([alice.email, bob.email])
    assert "令和8年6月12日（金）13:30〜16:30" in reminders[0].subject


def test_it_sends_no_reminder_too_early_or_on_the_day_itself(training, bob):
    services.register_for_training(training, contact=bob, now=at(2026, 5, 1))

    assert services.queue_due_reminders(now=at(2026, 6, 8, 23)) == 0
    assert services.queue_due_reminders(now=at(2026, 6, 12, 8)) == 0
    assert not Notice.objects.filter(kind=Notice.Kind.REMINDER).exists()


def test_it_does_not_remind_the_waiting_list(make_training, edogawa, adachi, alice, charlie):
    training = make_training(
        starts_at=at(2026, 6, 12, 13, 30), ends_at=at(2026, 6, 12, 16, 30), capacity=1
    )
    services.register_for_training(training, contact=alice, now=at(2026, 5, 1))
    services.register_for_training(training, contact=charlie, now=at(2026, 5, 1))

    assert services.queue_due_reminders(now=at(2026, 6, 10, 8)) == 1
