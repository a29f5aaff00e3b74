"""§3: when a training's survey is required before the 参加証明書, the portal offers the
certificate only after that attendee has answered it (named or anonymous); a typed URL is
refused as the link is; no one else's answer opens it; the secretariat's download is never
held back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from association.models import User
from events import services as events
from events.models import Registration, Training
from inquiries import services
from inquiries.models import Inquiry, Invitation
from tests.inquiries.test_surveys import make_survey, opened, values

CERTIFICATE_LINK = "参加証明書（PDF）"
SURVEY_FIRST = "研修会アンケートにご回答いただいた後にダウンロードできます"


def required(training: Training, *, anonymous: bool = True) -> Inquiry:
    survey = make_survey(training, anonymous=anonymous)
    survey.required_for_certificate = True
    return services.save_inquiry(survey)


def registration_of(training: Training, contact) -> Registration:  # type: ignore[no-untyped-def]
    return Registration.objects.get(training=training, contact=contact)


def portal(contact) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(contact.user)
    return client


def training_page(client: Client, training: Training, contact) -> str:  # type: ignore[no-untyped-def]
    url = reverse("events:detail", args=[contact.member.local_government_id, training.pk])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def certificate(client: Client, training: Training, contact):  # type: ignore[no-untyped-def]
    url = reverse(
        "papers:my_certificate",
        args=[contact.member.local_government_id, registration_of(training, contact).pk],
    )
    return client.get(url)


@pytest.mark.parametrize("anonymous", [True, False])
def test_the_certificate_waits_for_the_attendees_own_answer(attended, alice, anonymous):
    survey = opened(required(attended, anonymous=anonymous))
    client = portal(alice)
    page = training_page(client, attended, alice)
    assert SURVEY_FIRST in page and CERTIFICATE_LINK not in page
    assert reverse("inquiries:survey", args=[survey.pk]) in page
    refused = certificate(client, attended, alice)  # the URL typed or bookmarked
    assert refused.status_code == 403 and refused["Content-Type"].startswith("text/html")
    assert SURVEY_FIRST in refused.content.decode()

    services.answer_survey(survey, alice, values(survey))
    page = training_page(client, attended, alice)
    assert CERTIFICATE_LINK in page and SURVEY_FIRST not in page
    pdf = certificate(client, attended, alice)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_another_persons_answer_does_not_open_my_certificate(attended, alice, bob, charlie):
    survey = opened(required(attended, anonymous=True))
    # 鈴木 (a colleague of 佐藤, marked attended late) and 高橋 (another municipality) answer.
    events.mark_attendance(
        Registration.objects.filter(training=attended, contact=bob),
        attendance=Registration.Attendance.ATTENDED,
        now=attended.ends_at,
    )
    services.invite_new_attendees()
    services.answer_survey(survey, bob, values(survey))
    services.answer_survey(survey, charlie, values(survey))
    assert not services.survey_done(attended, alice)
    assert certificate(portal(alice), attended, alice).status_code == 403
    assert certificate(portal(bob), attended, bob).status_code == 200
    # The coordinator keeps the office's papers: 鈴木's certificate (he answered) is hers to
    # fetch, hers is still not his, and her own still waits for her answer.
    url = reverse(
        "papers:my_certificate",
        args=[alice.member.local_government_id, registration_of(attended, bob).pk],
    )
    assert portal(alice).get(url).status_code == 200
    mine = reverse(
        "papers:my_certificate",
        args=[alice.member.local_government_id, registration_of(attended, alice).pk],
    )
    assert portal(bob).get(mine).status_code == 404


def test_an_attendee_marked_after_the_survey_opened_is_gated_and_invited_on_the_spot(attended, bob):
    survey = opened(required(attended))
    events.mark_attendance(
        Registration.objects.filter(training=attended, contact=bob),
        attendance=Registration.Attendance.ATTENDED,
        now=attended.ends_at,
    )
    assert not Invitation.objects.filter(inquiry=survey, contact=bob).exists()
    assert not services.survey_done(attended, bob)  # no invitation is not an answer
    client = portal(bob)
    assert certificate(client, attended, bob).status_code == 403
    page = client.get(reverse("inquiries:survey", args=[survey.pk]))
    assert page.status_code == 200
    invitation = Invitation.objects.get(inquiry=survey, contact=bob)
    assert invitation.announced and not invitation.answered
    assert services.invite_new_attendees() == 0  # beat finds nothing left to do


def test_a_scheduled_survey_gates_and_a_draft_or_unrequired_one_does_not(attended, alice):
    survey = make_survey(attended, anonymous=True)
    assert services.survey_done(attended, alice)  # not required
    survey.required_for_certificate = True
    services.save_inquiry(survey)
    assert services.survey_done(attended, alice)  # a draft: not sent, not asked yet
    services.send_inquiry(survey)
    survey.refresh_from_db()
    assert survey.status == Inquiry.Status.SCHEDULED
    assert not services.survey_done(attended, alice)
    page = training_page(portal(alice), attended, alice)
    assert "から受付" in page and CERTIFICATE_LINK not in page


def test_after_the_deadline_the_unanswered_are_sent_to_the_secretariat(attended, alice):
    survey = opened(required(attended))
    Inquiry.objects.filter(pk=survey.pk).update(
        deadline=timezone.localdate() - dt.timedelta(days=1)
    )
    refused = certificate(portal(alice), attended, alice)
    assert refused.status_code == 403
    assert "事務局にお問い合わせください" in refused.content.decode()


def test_the_secretariats_download_is_not_held_back(attended, alice, charlie):
    opened(required(attended))
    client = Client()
    client.force_login(User.objects.create_superuser("j", "j@example.jp", "x-long-passphrase"))
    response = client.get(reverse("office:certificates", args=[attended.pk]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_the_attendance_history_says_the_survey_comes_first_as_the_training_page_does(
    attended, alice
):
    survey = opened(required(attended))
    history = reverse("papers:attendance_history", args=[alice.member.local_government_id])
    certificate_url = reverse(
        "papers:my_certificate",
        args=[alice.member.local_government_id, registration_of(attended, alice).pk],
    )
    page = portal(alice).get(history).content.decode()
    assert "研修会アンケートにご回答いただいた後に" in page
    assert reverse("inquiries:survey", args=[survey.pk]) in page
    assert certificate_url not in page

    services.answer_survey(survey, alice, values(survey))
    page = portal(alice).get(history).content.decode()
    assert certificate_url in page
    assert "ご回答いただいた後に" not in page
