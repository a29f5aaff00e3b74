"""§1 and §4: a 照会 goes to every member's coordinators, one answer per municipality, drafts
by staff, submission by the coordinator, the deadline, reopening, reminders to the others."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from association import services as registry
from inquiries import emails, services
from inquiries.models import Inquiry, Reminder, Reply
from mailing.models import Bulletin
from questions.models import AnswerChange

from .conftest import answers, by_text, deliver_bulletins, reply_of, working_day_after


def test_it_asks_each_member_once_and_mails_only_their_coordinators(
    inquiry, edogawa, adachi, alice, bob, charlie, outbox
):
    assert inquiry.status == Inquiry.Status.OPEN
    assert set(inquiry.replies.values_list("member_id", flat=True)) == {edogawa.pk, adachi.pk}
    assert services.announce_inquiry(inquiry.pk) == 2
    assert services.announce_inquiry(inquiry.pk) == 0  # a task run twice mails no one twice
    assert deliver_bulletins() == 1  # one bulletin, naming each coordinator
    to = sorted(m.to for m in outbox.messages())
    assert to == [alice.email, charlie.email]  # bob is staff, not the coordinator
    mail = outbox.to(alice.email)[0]
    assert mail.subject.startswith("【照会】令和8年度 自殺対策計画の策定状況について")
    assert emails.answer_link(inquiry) in mail.text.splitlines()  # in full, on its own line
    assert "佐藤 美咲 様" in mail.text
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<inquiries." in mail.message["List-Id"]


def test_a_member_with_no_coordinator_is_asked_through_all_its_staff(
    make_inquiry, edogawa, bob, outbox
):
    inquiry = services.send_inquiry(make_inquiry())
    services.announce_inquiry(inquiry.pk)
    deliver_bulletins()
    assert [m.to for m in outbox.messages()] == [bob.email]


def test_sending_twice_opens_once(inquiry):
    again = services.send_inquiry(inquiry)
    assert again.status == Inquiry.Status.OPEN
    assert inquiry.replies.count() == 2


def test_a_inquiry_without_questions_or_audience_cannot_be_sent(make_inquiry, edogawa):
    empty = services.save_inquiry(
        Inquiry(title="設問なし", all_members=True, deadline=working_day_after(10))
    )
    with pytest.raises(ValidationError) as refused:
        services.send_inquiry(empty)
    assert "設問がありません" in " ".join(refused.value.messages)
    nobody = make_inquiry(all_members=False)
    with pytest.raises(ValidationError) as refused:
        services.send_inquiry(nobody)
    assert "宛先の団体がありません" in " ".join(refused.value.messages)
    assert Reply.objects.count() == 0


def test_a_deadline_on_a_holiday_or_in_the_past_is_refused(make_inquiry, edogawa):
    year = timezone.localdate().year + 1
    for day, words in (
        (dt.date(year, 1, 2), "営業日ではありません"),  # 年末年始
        (dt.date(year, 5, 3), "営業日ではありません"),  # 憲法記念日
        (timezone.localdate() - dt.timedelta(days=1), "過ぎています"),
    ):
        with pytest.raises(ValidationError) as refused:
            services.send_inquiry(make_inquiry(deadline=day))
        assert words in " ".join(refused.value.messages)


def test_staff_draft_the_coordinator_submits(inquiry, edogawa, alice, bob):
    reply = reply_of(inquiry, edogawa)
    services.save_reply(reply, answers(inquiry), contact=bob)
    reply.refresh_from_db()
    assert reply.status == Reply.Status.DRAFT
    with pytest.raises(PermissionDenied):
        services.save_reply(reply, answers(inquiry), contact=bob, submit=True)
    services.save_reply(reply, {}, contact=alice, submit=True)
    reply.refresh_from_db()
    assert reply.status == Reply.Status.SUBMITTED
    # Once submitted, only the coordinator changes it.
    q = by_text(inquiry)
    with pytest.raises(PermissionDenied):
        services.save_reply(reply, {q["課題"].pk: "変更"}, contact=bob)
    names = set(AnswerChange.objects.values_list("actor_name", flat=True))
    assert names == {"鈴木 健太"}


def test_a_submission_needs_the_required_answers(inquiry, edogawa, alice):
    reply = reply_of(inquiry, edogawa)
    q = by_text(inquiry)
    with pytest.raises(ValidationError) as refused:
        services.save_reply(reply, {q["担当課名"].pk: "保健予防課"}, contact=alice, submit=True)
    assert str(q["計画の策定状況"].pk) in refused.value.error_dict
    reply.refresh_from_db()
    assert reply.status == Reply.Status.NOT_STARTED
    assert not AnswerChange.objects.exists()


def test_another_municipality_can_never_answer_for_edogawa(inquiry, edogawa, charlie):
    reply = reply_of(inquiry, edogawa)
    with pytest.raises(PermissionDenied):
        services.save_reply(reply, answers(inquiry), contact=charlie, submit=True)
    with pytest.raises(PermissionDenied):
        services.upload_reply(reply, b"PK\x03\x04", contact=charlie)
    assert not AnswerChange.objects.exists()


def test_a_replayed_submission_changes_nothing(inquiry, edogawa, alice):
    reply = reply_of(inquiry, edogawa)
    assert services.save_reply(reply, answers(inquiry), contact=alice, submit=True)
    first = Reply.objects.get(pk=reply.pk).submitted_at
    assert services.save_reply(reply, answers(inquiry), contact=alice, submit=True) == []
    assert Reply.objects.get(pk=reply.pk).submitted_at == first
    assert AnswerChange.objects.count() == 7


def test_a_stale_form_does_not_overwrite_a_colleagues_save(inquiry, edogawa, alice, bob):
    reply = reply_of(inquiry, edogawa)
    q = by_text(inquiry)
    services.save_reply(reply, {q["課題"].pk: "鈴木の案"}, contact=bob, expected_revision=0)
    with pytest.raises(ValidationError) as refused:
        services.save_reply(reply, {q["課題"].pk: "佐藤の案"}, contact=alice, expected_revision=0)
    assert refused.value.code == "stale"


def test_after_the_deadline_only_a_reopened_municipality_may_answer(
    inquiry, edogawa, adachi, alice, charlie, monkeypatch
):
    after = inquiry.closes_at + dt.timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: after)
    with pytest.raises(ValidationError) as refused:
        services.save_reply(
            reply_of(inquiry, adachi), answers(inquiry), contact=charlie, submit=True
        )
    assert "回答期限" in refused.value.messages[0] and "事務局" in refused.value.messages[0]
    services.reopen_reply(
        reply_of(inquiry, adachi), until=timezone.localdate(after) + dt.timedelta(days=3)
    )
    services.save_reply(reply_of(inquiry, adachi), answers(inquiry), contact=charlie, submit=True)
    assert reply_of(inquiry, adachi).is_submitted
    with pytest.raises(ValidationError):  # 江戸川区 was not reopened
        services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice)


def test_the_secretariat_answers_on_a_municipalitys_behalf_even_late(
    inquiry, edogawa, monkeypatch, django_user_model
):
    staff = django_user_model.objects.create(username="jimukyoku", is_staff=True)
    after = inquiry.closes_at + dt.timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: after)
    reply = reply_of(inquiry, edogawa)
    services.save_reply(reply, answers(inquiry), by=staff, submit=True)
    change = AnswerChange.objects.first()
    assert change is not None and change.via == "事務局" and change.changed_by == staff


def test_reminders_reach_only_those_who_have_not_submitted(
    inquiry, edogawa, alice, charlie, outbox
):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    assert services.remind_unsubmitted(inquiry) == 1
    deliver_bulletins()
    reminders = [m for m in outbox.messages() if "ご回答のお願い" in m.subject]
    assert [m.to for m in reminders] == [charlie.email]
    with pytest.raises(ValidationError):  # a second click at once reminds no one twice
        services.remind_unsubmitted(inquiry)


def test_each_reminder_day_is_sent_once_and_a_late_start_sends_one_round(inquiry, edogawa, adachi):
    deadline = inquiry.deadline
    from events.workdays import working_days_before

    day1 = working_days_before(deadline, 1)
    now = timezone.make_aware(dt.datetime.combine(day1, dt.time(9)))
    assert services.queue_due_reminders(now=now) == 2  # both members, the d1 round only
    assert services.queue_due_reminders(now=now) == 0
    assert set(Reminder.objects.values_list("key", flat=True)) == {"d3", "d1"}
    assert Reminder.objects.get(key="d3").recipients == 0


def test_erasure_keeps_the_answers_and_takes_the_name_from_the_history(inquiry, edogawa, alice):
    reply = reply_of(inquiry, edogawa)
    services.save_reply(reply, answers(inquiry), contact=alice, submit=True)
    registry.erase_contact(alice)
    assert services.questions.answer_values(reply.answer_set)[by_text(inquiry)["課題"].pk]
    assert set(AnswerChange.objects.values_list("actor_name", flat=True)) == {""}
    assert Reply.objects.get(pk=reply.pk).is_submitted


def test_a_question_type_cannot_change_once_answered(inquiry, edogawa, alice):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice)
    question = by_text(inquiry)["自殺対策の予算額"]
    with pytest.raises(ValidationError):
        services.questions.save_question(inquiry.question_set, question, kind="short_text")


def test_a_submitted_answer_stays_complete_when_the_coordinator_changes_it(inquiry, edogawa, alice):
    reply = reply_of(inquiry, edogawa)
    services.save_reply(reply, answers(inquiry), contact=alice, submit=True)
    q = by_text(inquiry)
    with pytest.raises(ValidationError):  # a "draft" that blanks a required answer
        services.save_reply(reply, {q["計画の策定状況"].pk: ""}, contact=alice)
    services.save_reply(reply, {q["課題"].pk: "修正しました"}, contact=alice)
    reply.refresh_from_db()
    assert reply.is_submitted


def test_the_request_link_opens_the_readers_own_municipalitys_answer(
    inquiry, edogawa, alice, bob, charlie, client
):
    url = reverse("inquiries:answer_mine", args=[inquiry.pk])
    client.force_login(bob.user)  # staff, not named in the mail, may still follow the link
    assert client.get(url)["Location"] == reverse(
        "inquiries:answer", args=[edogawa.local_government_id, inquiry.pk]
    )
    client.force_login(charlie.user)
    assert client.get(url)["Location"].startswith(
        f"/inquiries/m/{charlie.member.local_government_id}/"
    )
    draft = services.save_inquiry(
        Inquiry(title="下書き", all_members=True, deadline=working_day_after(10))
    )
    assert client.get(reverse("inquiries:answer_mine", args=[draft.pk])).status_code == 404


def test_a_reminders_archive_copy_is_for_the_members_reminded(inquiry, edogawa, alice, charlie):
    services.announce_inquiry(inquiry.pk)
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    services.remind_unsubmitted(inquiry)
    deliver_bulletins()
    request, reminder = Bulletin.objects.order_by("id")
    for contact, readable in ((alice, {request.pk}), (charlie, {request.pk, reminder.pk})):
        client = Client()
        client.force_login(contact.user)
        seen = {
            b.pk
            for b in (request, reminder)
            if client.get(reverse("mailing:archive_detail", args=[b.pk])).status_code == 200
        }
        assert seen == readable, contact
