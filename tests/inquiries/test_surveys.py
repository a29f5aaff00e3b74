"""§3: a training's survey reaches only those marked attended, once each; anonymous answers
keep no link to the person; the certificate's hook."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from association.models import Contact, Member, User
from events import services as events
from events.models import Registration
from inquiries import services
from inquiries.models import Inquiry, Invitation, Reply
from postbox.models import OutgoingMail
from questions import services as questions
from questions.models import Answer, AnswerChange, AnswerSet, Question

Kind = Question.Kind


def make_survey(training, *, anonymous: bool) -> Inquiry:  # type: ignore[no-untyped-def]
    survey = services.create_survey(training, anonymous=anonymous)
    questions.save_question(
        survey.question_set,
        kind=Kind.SINGLE_CHOICE,
        text="満足度",
        required=True,
        choices=["満足", "やや満足", "不満"],
    )
    questions.save_question(survey.question_set, kind=Kind.LONG_TEXT, text="ご意見")
    return survey


def opened(survey: Inquiry) -> Inquiry:
    assert services.send_inquiry(survey).status == Inquiry.Status.SCHEDULED
    assert survey.training is not None
    after = survey.training.ends_at + dt.timedelta(minutes=1)
    assert services.open_due_inquiries(now=after) == [survey.pk]
    survey.refresh_from_db()
    services.announce_inquiry(survey.pk)
    return survey


def values(survey: Inquiry, choice: str = "満足", text: str = "分かりやすかった") -> dict[int, str]:
    q = {q.text: q for q in survey.question_set.questions.all()}
    return {q["満足度"].pk: choice, q["ご意見"].pk: text}


def test_the_survey_opens_when_the_training_ends_and_reaches_only_attendees(
    attended, alice, bob, charlie, outbox
):
    survey = make_survey(attended, anonymous=True)
    assert survey.opens_at == attended.ends_at
    opened(survey)
    mails = OutgoingMail.objects.filter(reference=f"inquiry:{survey.pk}")
    assert sorted(mails.values_list("to", flat=True)) == sorted([alice.email, charlie.email])
    assert services.announce_inquiry(survey.pk) == 0
    with pytest.raises(PermissionDenied):
        services.answer_survey(survey, bob, values(survey))


def test_an_attendee_marked_later_is_invited_too(attended, bob):
    survey = opened(make_survey(attended, anonymous=True))
    events.mark_attendance(
        Registration.objects.filter(training=attended, contact=bob),
        attendance=Registration.Attendance.ATTENDED,
        now=attended.ends_at,
    )
    assert services.invite_new_attendees() == 1
    assert services.invite_new_attendees() == 0
    services.announce_inquiry(survey.pk)
    assert OutgoingMail.objects.filter(to=bob.email, reference=f"inquiry:{survey.pk}").count() == 1


def test_an_anonymous_answer_keeps_no_link_to_the_person(attended, alice, charlie):
    survey = opened(make_survey(attended, anonymous=True))
    services.answer_survey(survey, alice, values(survey, text="佐藤より: 良かった"))
    reply = Reply.objects.get(inquiry=survey)
    assert (reply.member_id, reply.contact_id, reply.submitted_at) == (None, None, None)
    change_rows = AnswerChange.objects.filter(answer_set=reply.answer_set)
    assert set(change_rows.values_list("actor_ref", "actor_name", "changed_by")) == {("", "", None)}
    assert Invitation.objects.get(inquiry=survey, contact=alice).answered
    # No relation of the answer's rows leads to a person, a login, a member or a registration…
    people = (Contact, User, Member, Registration, Invitation)
    rows = [
        reply,
        reply.answer_set,
        *Answer.objects.filter(answer_set=reply.answer_set),
        *change_rows,
    ]
    for row in rows:
        for field in row._meta.concrete_fields:
            if field.is_relation and field.related_model in people:
                assert getattr(row, field.attname) is None, (type(row).__name__, field.name)
    # …and the invitation, which knows the person, knows neither the answer nor when.
    for field in Invitation._meta.concrete_fields:
        assert not (field.is_relation and field.related_model in (Reply, AnswerSet))
        assert field.get_internal_type() not in ("DateTimeField", "DateField")
    # The aggregate and the export name no one.
    summary = services.summary(survey)
    assert summary[1].texts == [("", "佐藤より: 良かった")]
    assert Answer.objects.filter(answer_set=reply.answer_set).count() == 2


def test_a_named_answer_is_the_persons_and_answering_twice_is_refused(attended, alice):
    survey = opened(make_survey(attended, anonymous=False))
    services.answer_survey(survey, alice, values(survey))
    with pytest.raises(ValidationError) as refused:
        services.answer_survey(survey, alice, values(survey, choice="不満"))
    assert "すでに回答" in refused.value.messages[0]
    reply = Reply.objects.get(inquiry=survey)
    assert reply.contact == alice and reply.member == alice.member
    assert Reply.objects.count() == 1


def test_the_certificate_hook_waits_for_a_required_survey(attended, alice, charlie):
    survey = make_survey(attended, anonymous=True)
    survey.required_for_certificate = True
    services.save_inquiry(survey)
    opened(survey)
    assert not services.survey_done(attended, alice)
    services.answer_survey(survey, alice, values(survey))
    assert services.survey_done(attended, alice)
    assert not services.survey_done(attended, charlie)


def test_the_reminder_goes_only_to_attendees_who_have_not_answered(attended, alice, charlie):
    survey = opened(make_survey(attended, anonymous=True))
    services.answer_survey(survey, alice, values(survey))
    assert services.remind_unsubmitted(survey) == 1
    reminder = OutgoingMail.objects.get(kind=OutgoingMail.Kind.INQUIRY_REMINDER)
    assert reminder.to == charlie.email


def test_the_portal_survey_page_takes_an_answer_once(attended, alice, bob):
    survey = opened(make_survey(attended, anonymous=True))
    client = Client()
    client.force_login(alice.user)
    url = reverse("inquiries:survey", args=[survey.pk])
    home = client.get(reverse("portal:member", args=[alice.member.local_government_id]))
    assert survey.title in home.content.decode()
    page = client.get(url).content.decode()
    assert "無記名" in page
    q = {q.text: q for q in survey.question_set.questions.all()}
    missing = client.post(url, {f"q{q['ご意見'].pk}": "x"})
    assert missing.status_code == 400 and "「満足度」を選んでください" in missing.content.decode()
    assert client.post(url, {f"q{q['満足度'].pk}": "満足"}).status_code == 302
    assert "回答は受け付け済み" in client.get(url).content.decode()
    assert Reply.objects.filter(inquiry=survey).count() == 1
    absent = Client()
    absent.force_login(bob.user)
    assert absent.get(url).status_code == 404


def test_the_secretariat_counts_and_exports_a_survey_as_a_inquiry(
    admin_client, attended, alice, charlie
):
    import io

    import openpyxl

    survey = opened(make_survey(attended, anonymous=True))
    services.answer_survey(survey, alice, values(survey, text="佐藤の感想"))
    services.answer_survey(survey, charlie, values(survey, choice="不満", text="高橋の感想"))
    page = admin_client.get(reverse("admin:inquiries_inquiry_results", args=[survey.pk]))
    html = page.content.decode()
    assert "満足: 1（50.0%）" in html and "不満: 1（50.0%）" in html
    assert alice.member.name not in html  # anonymous: no municipality beside the text
    progress = admin_client.get(reverse("admin:inquiries_inquiry_progress", args=[survey.pk]))
    assert "100%" in progress.content.decode()
    export = admin_client.get(reverse("admin:inquiries_inquiry_export", args=[survey.pk]))
    rows = list(openpyxl.load_workbook(io.BytesIO(export.content)).worksheets[0].values)
    assert rows[0][0] == "回答番号" and len(rows) == 3
    assert {row[2] for row in rows[1:]} == {"佐藤の感想", "高橋の感想"}
