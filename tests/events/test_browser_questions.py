"""A training that asks questions, in Chromium: the coordinator's form (answers per colleague)
and a staff member's own form pass axe-core's WCAG 2.0/2.1 A/AA rules, and a coordinator
answers for a colleague and registers her."""

from __future__ import annotations

import pytest

from events.models import Registration
from questions import services as questions
from questions.models import Question

from .test_accessibility import violations
from .test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 375])
def test_a_coordinator_answers_for_a_colleague_on_a_form_without_wcag_violations(
    page, celery_worker, make_training, alice, bob, outbox, width
):
    training = make_training(title="自殺対策 全体研修会")
    assert training.question_set is not None
    questions.save_question(
        training.question_set, text="配慮事項（合理的配慮）", kind=Question.Kind.LONG_TEXT, order=1
    )
    party = questions.save_question(
        training.question_set,
        text="懇親会の出欠",
        kind=Question.Kind.SINGLE_CHOICE,
        choices=["出席", "欠席"],
        required=True,
        order=2,
    )
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, alice, outbox)
    page.goto(f"/trainings/m/131237/{training.pk}/")
    assert violations(page) == []

    page.get_by_label(bob.name).check()
    page.locator(f"#id_c{bob.pk}-q{party.pk}_0").check()
    page.get_by_role("button", name="選んだ方を申し込む").click()
    page.wait_for_load_state()

    assert f"{bob.name} さんの参加が確定しました" in page.locator(".messages").inner_text()
    assert violations(page) == []
    registration = Registration.objects.get(contact=bob)
    assert registration.answer_set is not None
