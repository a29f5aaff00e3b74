"""Calendars that follow changes (issue 10 §5), read back with icalendar's parser: one UID per
registration; REQUEST with ORGANIZER and ATTENDEE (RFC 5546) while a seat is held, SEQUENCE
that grows; CANCEL on cancellation, on substitution (to the one who gave up the seat) and when
the training is called off."""

from __future__ import annotations

from icalendar import Calendar

from events import services

from .conftest import deliver_pending


def events_of(mail):  # type: ignore[no-untyped-def]
    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    calendar = Calendar.from_ical(attachment.get_content())
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_a_cancellation_sends_method_cancel_with_the_same_uid_and_a_higher_sequence(
    make_training, bob, outbox
):
    training = make_training()
    registration = services.register_for_training(training, contact=bob)
    deliver_pending()
    services.cancel_registration(registration, actor=bob)
    deliver_pending()

    confirmed, cancelled = outbox.to(bob.email)
    cal1, ev1 = events_of(confirmed)
    cal2, ev2 = events_of(cancelled)
    assert cal1["METHOD"] == "REQUEST" and ev1["STATUS"] == "CONFIRMED"
    assert str(ev1["ORGANIZER"]) == "mailto:jimukyoku@renkei.example.jp"
    assert str(ev1["ATTENDEE"]) == f"mailto:{bob.email}"
    assert cal2["METHOD"] == "CANCEL" and ev2["STATUS"] == "CANCELLED"
    assert ev1["UID"] == ev2["UID"]
    assert ev2.decoded("SEQUENCE") > ev1.decoded("SEQUENCE")
    assert "URL" not in ev2


def test_a_substitution_cancels_the_old_holders_entry_and_requests_the_new_one(
    make_training, alice, bob, outbox
):
    training = make_training()
    registration = services.register_for_training(training, contact=alice, actor=alice)
    deliver_pending()
    services.substitute_registration(registration, contact=bob, actor=alice)
    deliver_pending()

    cal_old, ev_old = events_of(outbox.to(alice.email)[-1])
    cal_new, ev_new = events_of(outbox.to(bob.email)[-1])
    assert cal_old["METHOD"] == "CANCEL" and cal_new["METHOD"] == "REQUEST"
    assert ev_old["UID"] == ev_new["UID"]
    assert str(ev_new["ATTENDEE"]) == f"mailto:{bob.email}"


def test_calling_a_training_off_cancels_every_entry(make_training, alice, charlie, outbox):
    training = make_training()
    for contact in (alice, charlie):
        services.register_for_training(training, contact=contact)
    deliver_pending()
    services.call_off_training(training, reason="荒天のため")
    deliver_pending()

    for address in (alice.email, charlie.email):
        calendar, event = events_of(outbox.to(address)[-1])
        assert calendar["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"


def test_a_waiting_person_gets_no_calendar_entry_until_promoted(
    make_training, alice, charlie, outbox
):
    training = make_training(capacity=1)
    seat = services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=charlie)
    deliver_pending()
    assert list(outbox.to(charlie.email)[0].message.iter_attachments()) == []

    services.cancel_registration(seat)
    services.promote_waiting_list(training)
    deliver_pending()

    calendar, event = events_of(outbox.to(charlie.email)[-1])
    assert calendar["METHOD"] == "REQUEST" and event["STATUS"] == "CONFIRMED"
