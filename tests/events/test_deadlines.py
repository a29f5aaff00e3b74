import datetime as dt

from events import services
from events.models import Training
from events.workdays import is_working_day, working_days_before

from .conftest import at


def test_it_skips_a_weekend_and_golden_week_holidays():
    # 2026-05-07 (Thu): 5/6 振替休日, 5/5, 5/4 祝日, 5/2–3 weekend.
    assert working_days_before(dt.date(2026, 5, 7), 2) == dt.date(2026, 4, 30)


def test_it_skips_the_year_end_break_from_the_29th_to_the_3rd():
    assert not is_working_day(dt.date(2026, 12, 29))
    assert not is_working_day(dt.date(2027, 1, 4 - 1))
    assert working_days_before(dt.date(2027, 1, 6), 3) == dt.date(2026, 12, 28)


def test_it_closes_registration_at_the_end_of_the_last_working_day(make_training):
    training = make_training(
        starts_at=at(2026, 5, 7, 13, 30), ends_at=at(2026, 5, 7, 17), close_working_days=2
    )

    assert training.last_registration_day == dt.date(2026, 4, 30)
    assert training.registration_closes_at == at(2026, 5, 1)
    assert training.is_open_at(at(2026, 4, 30, 23, 59))
    assert not training.is_open_at(at(2026, 5, 1, 0, 0))


def test_it_prefers_an_explicit_deadline(make_training):
    training = make_training(
        starts_at=at(2026, 5, 7, 13, 30),
        ends_at=at(2026, 5, 7, 17),
        closes_at=at(2026, 4, 20, 17),
    )

    assert training.registration_closes_at == at(2026, 4, 20, 17)


def test_it_closes_trainings_past_their_deadline_and_finishes_those_that_ended(make_training):
    closing = make_training(starts_at=at(2026, 5, 7, 13, 30), ends_at=at(2026, 5, 7, 17))
    ended = make_training(starts_at=at(2026, 4, 1, 13, 30), ends_at=at(2026, 4, 1, 17))

    services.close_due_trainings(now=at(2026, 5, 2, 9))

    closing.refresh_from_db()
    ended.refresh_from_db()
    assert closing.status == Training.Status.CLOSED
    assert ended.status == Training.Status.FINISHED
