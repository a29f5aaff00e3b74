"""照会 for the inquiries tests, made through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from events import services as events
from events.models import Registration
from events.workdays import is_working_day
from inquiries import services
from inquiries.models import Inquiry, Reply
from questions import services as questions
from questions.models import Question, QuestionSet
from tests.events.conftest import make_training

Kind = Question.Kind


def working_day_after(days: int) -> dt.date:
    day = timezone.localdate() + dt.timedelta(days=days)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_questions(question_set: QuestionSet) -> None:
    add = questions.save_question
    add(question_set, kind=Kind.SHORT_TEXT, text="担当課名", required=True)
    add(question_set, kind=Kind.NUMBER, text="自殺対策の予算額", unit="千円", min_value=Decimal(0))
    add(
        question_set,
        kind=Kind.SINGLE_CHOICE,
        text="計画の策定状況",
        required=True,
        choices=["策定済み", "策定中", "未策定"],
    )
    add(
        question_set,
        kind=Kind.MULTIPLE_CHOICE,
        text="連携している機関",
        choices=["保健所", "医療機関", "学校", "民間団体"],
    )
    add(question_set, kind=Kind.YES_NO, text="ゲートキーパー研修を実施していますか")
    add(question_set, kind=Kind.LONG_TEXT, text="課題")
    add(
        question_set,
        kind=Kind.TABLE,
        text="主な事業",
        columns=[
            {"label": "事業名", "kind": "text"},
            {"label": "予算額（千円）", "kind": "number"},
        ],
        max_rows=5,
    )


def by_text(inquiry: Inquiry) -> dict[str, Question]:
    return {q.text: q for q in inquiry.question_set.questions.all()}


def answers(inquiry: Inquiry, overrides: dict[str, Any] | None = None) -> dict[int, Any]:
    q = by_text(inquiry)
    values: dict[str, Any] = {
        "担当課名": "健康部 保健予防課",
        "自殺対策の予算額": "12,500",
        "計画の策定状況": "策定済み",
        "連携している機関": ["学校", "保健所"],
        "ゲートキーパー研修を実施していますか": True,
        "課題": "若年層への周知",
        "主な事業": [["こころの相談窓口", "3,000"]],
    }
    values.update(overrides or {})
    return {q[text].pk: value for text, value in values.items()}


@pytest.fixture
def make_inquiry(db) -> Callable[..., Inquiry]:
    def make(**values: Any) -> Inquiry:
        fields: dict[str, Any] = {
            "title": "令和8年度 自殺対策計画の策定状況について",
            "purpose": "総会資料にまとめるため",
            "body": "ご多用のところ恐れ入りますが、ご回答をお願いします。",
            "all_members": True,
            "deadline": working_day_after(14),
            "reminder_days": [3, 1],
        }
        fields.update(values)
        inquiry = services.save_inquiry(Inquiry(**fields))
        add_questions(inquiry.question_set)
        return inquiry

    return make


@pytest.fixture
def inquiry(make_inquiry, edogawa, adachi, alice, bob, charlie) -> Inquiry:
    """Sent to all members (江戸川区 and 足立区)."""
    return services.send_inquiry(make_inquiry())


def reply_of(inquiry: Inquiry, member) -> Reply:  # type: ignore[no-untyped-def]
    return Reply.objects.get(inquiry=inquiry, member=member)


@pytest.fixture
def attended(make_training, alice, bob, charlie):
    """A training that has ended: alice and charlie attended, bob was absent."""
    training = make_training(capacity=10)
    for contact in (alice, bob, charlie):
        events.register_for_training(training, contact=contact)
    registrations = Registration.objects.filter(training=training)
    events.mark_attendance(
        registrations.exclude(contact=bob),
        attendance=Registration.Attendance.ATTENDED,
        now=training.ends_at,
    )
    events.mark_attendance(
        registrations.filter(contact=bob),
        attendance=Registration.Attendance.ABSENT,
        now=training.ends_at,
    )
    return training


def deliver_bulletins() -> int:
    """Send the 照会 bulletins started so far, as the worker would (unit tests never commit, so
    the tasks queued on commit never reach the broker). Returns the bulletins sent."""
    from mailing import services as mailing
    from mailing.models import Bulletin

    sent = 0
    for bulletin in Bulletin.objects.filter(status=Bulletin.Status.SENDING):
        mailing.snapshot_audience(bulletin.pk)
        while mailing.drain_bulletin(bulletin.pk):
            pass
        sent += 1
    return sent


__all__ = ["make_training"]
