"""A person who leaves (hand-over, deactivation, erasure) takes no seat with them (review)."""

import pytest

from association import services as association_services
from association.models import AuditEntry
from events import services
from events.models import Registration


@pytest.fixture
def full_training(make_training, alice, charlie):
    """One seat: alice holds it, charlie waits."""
    training = make_training(capacity=1)
    services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=charlie)
    return training


def status_of(contact, training):
    return (
        Registration.objects.exclude(status=Registration.Status.CANCELLED)
        .get(training=training, contact=contact)
        .status
    )


def test_a_hand_over_moves_the_seat_to_the_successor(full_training, alice, bob):
    association_services.hand_over_contact(alice, successor=bob)
    assert status_of(bob, full_training) == Registration.Status.CONFIRMED
    assert not Registration.objects.active().filter(contact=alice).exists()


def test_a_hand_over_to_someone_already_registered_frees_the_seat(
    make_training, alice, bob, charlie
):
    training = make_training(capacity=2)
    services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=bob)
    services.register_for_training(training, contact=charlie)  # waits
    association_services.hand_over_contact(alice, successor=bob)
    assert not Registration.objects.active().filter(contact=alice).exists()
    services.promote_waiting_list(training)
    assert status_of(charlie, training) == Registration.Status.CONFIRMED


def test_deactivating_a_contact_gives_their_seat_to_the_waiting_list(full_training, alice, charlie):
    association_services.deactivate_contact(alice)
    services.promote_waiting_list(full_training)
    assert status_of(charlie, full_training) == Registration.Status.CONFIRMED


def test_a_deactivated_person_on_the_waiting_list_is_never_promoted(
    make_training, alice, bob, charlie
):
    training = make_training(capacity=1)
    services.register_for_training(training, contact=charlie)
    services.register_for_training(training, contact=bob)  # waits
    bob.is_active = False  # deactivated outside the services (e.g. an older row): still skipped
    bob.save(update_fields=["is_active"])
    services.register_for_training(training, contact=alice)  # waits behind bob
    charlie_reg = Registration.objects.get(contact=charlie)
    services.cancel_registration(charlie_reg)
    services.promote_waiting_list(training)
    assert status_of(alice, training) == Registration.Status.CONFIRMED
    assert status_of(bob, training) == Registration.Status.WAITLISTED


def test_erasing_a_contact_frees_the_seat_and_scrubs_the_audit_log(full_training, alice, charlie):
    association_services.erase_contact(alice)
    services.promote_waiting_list(full_training)
    assert status_of(charlie, full_training) == Registration.Status.CONFIRMED
    for entry in AuditEntry.objects.all():
        assert "佐藤 美咲" not in entry.summary
        assert alice.email not in str(entry.changes)
