"""Participant lists for the secretariat: CSV (UTF-8 with BOM, so Excel opens it) and .xlsx."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.http import HttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from association.nendo import wareki
from questions.models import Answer, Question
from questions.values import display

from .models import Registration
from .portal import waitlist_places

HEADER = [
    "研修会",
    "開催日",
    "ブロック",
    "都道府県",
    "団体コード",
    "団体名",
    "氏名",
    "ふりがな",
    "所属",
    "役職",
    "メールアドレス",
    "電話番号",
    "状態",
    "キャンセル待ち順",
    "申込日時",
    "出欠",
]


def _safe(value: object) -> object:
    # A cell that starts like a formula would run as one in Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def training_questions_of(registrations: list[Registration]) -> list[Question]:
    """The questions of the one training REGISTRATIONS are of; none when they are of several."""
    trainings = {r.training_id: r.training for r in registrations}
    if len(trainings) != 1:
        return []
    [training] = trainings.values()
    if training.question_set_id is None:
        return []
    return list(Question.objects.filter(question_set=training.question_set_id))


def answer_texts(registrations: list[Registration], questions: list[Question]) -> list[list[str]]:
    """Per registration, its answer to each of QUESTIONS as one line of text ("" unanswered),
    in one query."""
    answers: dict[tuple[int | None, int], object] = {}
    sets = [r.answer_set_id for r in registrations if r.answer_set_id]
    if questions and sets:
        for set_id, question_id, value in Answer.objects.filter(
            answer_set_id__in=sets, value__isnull=False
        ).values_list("answer_set_id", "question_id", "value"):
            answers[(set_id, question_id)] = value
    return [
        [
            display(q, answers[(r.answer_set_id, q.pk)])
            if (r.answer_set_id, q.pk) in answers
            else ""
            for q in questions
        ]
        for r in registrations
    ]


def attach_answers(registrations: list[Registration]) -> None:
    """Give each registration `answer_lines`, [(question, answer)] of the answered ones, for
    the secretariat's list of registrations."""
    questions = training_questions_of(registrations)
    for registration, texts in zip(
        registrations, answer_texts(registrations, questions), strict=True
    ):
        registration.answer_lines = [  # type: ignore[attr-defined]
            (q.text, text) for q, text in zip(questions, texts, strict=True) if text
        ]


class Sheet:
    """The header and rows of one export: the fixed columns, then one per question of the
    training when the registrations are of one training that asks questions."""

    def __init__(self, registrations: Iterable[Registration]) -> None:
        self.registrations = list(registrations)
        self.questions = training_questions_of(self.registrations)
        self.header = [*HEADER, *(q.text for q in self.questions)]

    def rows(self) -> Iterator[list[object]]:
        texts = answer_texts(self.registrations, self.questions)
        for row, extra in zip(participant_rows(self.registrations), texts, strict=True):
            yield [*row, *(_safe(value) for value in extra)]


def participant_rows(registrations: Iterable[Registration]) -> Iterator[list[object]]:
    """REGISTRATIONS from Registration.objects.with_people()."""
    registrations = list(registrations)
    places = waitlist_places(
        sorted({r.training_id for r in registrations if r.status == "waitlisted"})
    )
    for r in registrations:
        lg = r.member.local_government
        contact = r.contact
        yield [
            _safe(value)
            for value in (
                r.training.title,
                wareki(r.training.starts_at),
                r.member.block.name,
                lg.prefecture.name,
                lg.code,
                lg.full_name,
                contact.name,
                contact.kana,
                contact.department,
                contact.title,
                contact.email,
                contact.phone,
                r.get_status_display(),
                places.get(r.pk, ""),
                timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M"),
                r.get_attendance_display() if r.is_confirmed else "",
            )
        ]


def csv_response(registrations: Iterable[Registration], filename: str) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    sheet = Sheet(registrations)
    writer.writerow(sheet.header)
    writer.writerows(sheet.rows())
    response = HttpResponse(
        buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(registrations: Iterable[Registration], filename: str) -> HttpResponse:
    book = Workbook()
    data = Sheet(registrations)
    sheet = book.active
    assert sheet is not None
    sheet.title = "参加者"
    sheet.append(data.header)
    for row in data.rows():
        sheet.append(row)
    for index, title in enumerate(data.header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, len(title) * 2 + 4)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
