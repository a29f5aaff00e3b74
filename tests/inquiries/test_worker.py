"""With a real Celery worker: a training's survey reaches only its attendees."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from events import services as events
from events.models import Registration
from inquiries import services
from questions import services as questions
from questions.models import Question

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_training_survey_reaches_only_its_attendees(
    celery_worker, make_training, alice, bob, charlie, outbox
):
    training = make_training()
    for contact in (alice, bob, charlie):
        events.register_for_training(training, contact=contact)
    registrations = Registration.objects.filter(training=training)
    events.mark_attendance(
        registrations.exclude(contact=bob),
        attendance=Registration.Attendance.ATTENDED,
        now=training.ends_at,
    )
    survey = services.create_survey(training, anonymous=True)
    questions.save_question(
        survey.question_set,
        kind=Question.Kind.SINGLE_CHOICE,
        text="満足度",
        choices=["満足", "不満"],
    )
    survey.opens_at = timezone.now() - dt.timedelta(minutes=1)  # as if the training had ended
    services.save_inquiry(survey)
    services.send_inquiry(survey)

    def asked(contact) -> list:  # type: ignore[no-untyped-def]
        return [m for m in outbox.to(contact.email) if "アンケートのお願い" in m.subject]

    celery_worker.wait_for(lambda: bool(asked(alice)) and bool(asked(charlie)))
    mail = asked(alice)[0]
    assert "無記名" in mail.text
    assert f"\nhttp://localhost:8000/inquiries/surveys/{survey.pk}/\n" in mail.text
    assert not asked(bob)
    assert len(asked(alice)) == len(asked(charlie)) == 1
