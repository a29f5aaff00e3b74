"""Editing questions in the admin: the question set's own page, through the services."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from django.urls import reverse

from association.models import User
from questions import services
from questions.models import Question

from .conftest import full_answers

Kind = Question.Kind


@pytest.fixture
def admin_client(client, db):
    user = User.objects.create_superuser("jimukyoku", "jimu@renkei.example.jp", "pw-For-tests-1")
    client.force_login(user)
    return client


def inline_post(
    question_set, changes: dict[int, dict[str, str]], extra: Sequence[dict[str, str]] = ()
):
    questions = list(question_set.questions.all())
    data = {
        "title": question_set.title,
        "questions-TOTAL_FORMS": str(len(questions) + len(extra)),
        "questions-INITIAL_FORMS": str(len(questions)),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
    }
    rows = [
        {
            "id": str(q.pk),
            "question_set": str(question_set.pk),
            "order": str(q.order),
            "kind": q.kind,
            "text": q.text,
            "required": "on" if q.required else "",
            "help_text": q.help_text,
            "choices_text": "\n".join(q.choices),
            "columns_text": "\n".join(
                c["label"] + ("|数値" if c["kind"] == "number" else "") for c in q.columns
            ),
            "max_rows": str(q.max_rows),
            "unit": q.unit,
            "min_value": "" if q.min_value is None else str(q.min_value),
            "max_value": "" if q.max_value is None else str(q.max_value),
        }
        | changes.get(q.pk, {})
        for q in questions
    ] + list(extra)
    for index, row in enumerate(rows):
        for key, value in row.items():
            if value != "":
                data[f"questions-{index}-{key}"] = value
    return data


def test_it_adds_a_question_with_its_options_one_per_line(admin_client, survey):
    url = reverse("admin:questions_questionset_change", args=[survey.pk])
    extra = {
        "question_set": str(survey.pk),
        "order": "20",
        "kind": Kind.SINGLE_CHOICE,
        "text": "相談窓口の設置",
        "choices_text": "設置済み\r\n検討中\r\n\r\n予定なし",
        "max_rows": "20",
    }
    response = admin_client.post(url, inline_post(survey, {}, [extra]))
    assert response.status_code == 302, response.content.decode()[:3000]
    added = survey.questions.get(text="相談窓口の設置")
    assert added.choices == ["設置済み", "検討中", "予定なし"]


def test_an_answered_questions_type_cannot_change_in_the_admin(admin_client, survey):
    services.save_answers(services.start_answer_set(survey), full_answers(survey))
    budget = survey.questions.get(text="自殺対策の予算額")
    url = reverse("admin:questions_questionset_change", args=[survey.pk])
    response = admin_client.post(url, inline_post(survey, {budget.pk: {"kind": Kind.SHORT_TEXT}}))
    assert response.status_code == 200
    assert "回答がすでにあるため、回答の形式は変更できません" in response.content.decode()
    budget.refresh_from_db()
    assert budget.kind == Kind.NUMBER


def test_the_kind_menu_offers_no_blank_line(admin_client, survey):
    page = admin_client.get(reverse("admin:questions_questionset_change", args=[survey.pk]))
    assert page.status_code == 200
    assert "---------" not in page.content.decode().split('name="questions-0-kind"')[1][:2000]
