"""Every change to 照会 and surveys. Each function is one transaction and names the act. A
照会's request and reminders go as one bulletin to the coordinators named (mailing's
pipeline: List-Unsubscribe, an archive copy for the members asked); a survey's mail is queued
through the postbox in the same transaction (one attendee per message).

For the admin, the portal, tasks and other apps:

  save_inquiry(inquiry, *, by)                      create or change a draft (question set made)
  check_question(inquiry, *, required, was_required)   no new required question once
                                                    answers are submitted
  check_sendable(inquiry) -> None                   ValidationError: no question, no audience,
                                                    a deadline that is past or not a working day
  send_inquiry(inquiry, *, by) -> Inquiry           schedule or open it; twice sends once
  open_due_inquiries(now=None) -> list[int]         beat: the scheduled ones whose time came
  announce_inquiry(inquiry_id) -> int               worker: the request mail, once per person
  save_reply(reply, values, *, contact=None, by=None, submit=False, via, expected_revision)
      the one rule for an answer: own municipality only, open until the deadline (or the
      day the secretariat reopened it to), drafts by any staff, submission by a coordinator,
      a submitted answer changed only by a coordinator; the secretariat may always
  upload_reply(reply, data, *, contact=None, by=None, submit=False) -> changed question ids
  reopen_reply(reply, *, until, by)                 the secretariat reopens one municipality
  remind_unsubmitted(inquiry, *, by=None, key=None) -> int   reminders to those who have not
  queue_due_reminders(now=None) -> int              beat: the reminder days
  create_survey(training, *, by, anonymous, deadline) -> Inquiry
  answer_survey(inquiry, contact, values) -> None   an attendee answers (once)
  survey_before_certificate(training, contact) -> Inquiry | None   the certificate's gate
  survey_done(training, contact) -> bool            the same, as a yes or no
  invite_attendee(inquiry, contact)                 an attendee marked late, invited on the spot
  progress / unsubmitted / summary / export_xlsx    what the secretariat reads
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from association.emails import queue as queue_mail
from association.models import Contact, Member, User
from association.nendo import wareki
from association.services import audit
from events.models import Registration, Training
from events.workdays import is_working_day, working_days_before
from mailing import audience
from mailing import services as mailing
from mailing.models import Suppression
from mailing.rendering import compile_body
from postbox.models import OutgoingMail
from questions import aggregate, xlsx
from questions import services as questions
from questions.values import clean_line

from . import emails
from .models import Inquiry, Invitation, Reminder, Reply

logger = logging.getLogger(__name__)

MAX_REMINDER_DAYS = 20
MANUAL_REMINDER_GAP = dt.timedelta(minutes=10)
VIA_WEB = "ウェブ"
VIA_EXCEL = "Excel"
VIA_SECRETARIAT = "事務局"


def _actor(by: User | None) -> User | None:
    return by if by is not None and by.is_authenticated else None


# --- composing and sending ---------------------------------------------------------------


def clean_reminder_days(raw: Any) -> list[int]:
    if raw in (None, ""):
        return []
    items = raw if isinstance(raw, list) else str(raw).replace("、", ",").split(",")
    days: set[int] = set()
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not text.isdigit() or not 1 <= int(text) <= MAX_REMINDER_DAYS:
            raise ValidationError(
                {
                    "reminder_days": _(
                        "督促は期限の1〜%(n)d営業日前で、「3, 1」のように数字で指定してください。"
                    )
                    % {"n": MAX_REMINDER_DAYS}
                }
            )
        days.add(int(text))
    return sorted(days, reverse=True)


@transaction.atomic
def save_inquiry(inquiry: Inquiry, *, by: User | None = None) -> Inquiry:
    """Create INQUIRY (with its question set) or save a draft; a sent one keeps its questions'
    audience and deadline as sent, except the texts and the publishing choices."""
    inquiry.title = clean_line(inquiry.title)[:200]
    inquiry.purpose = clean_line(inquiry.purpose)[:300]
    inquiry.reminder_days = clean_reminder_days(inquiry.reminder_days)
    if not inquiry.title:
        raise ValidationError({"title": _("件名を入力してください。")})
    if inquiry.kind == Inquiry.Kind.SURVEY and inquiry.training_id is None:
        raise ValidationError({"training": _("アンケートの研修会を選んでください。")})
    if inquiry.is_survey and inquiry.opens_at is None and inquiry.training is not None:
        inquiry.opens_at = inquiry.training.ends_at  # sent when the training ends
    if inquiry.kind == Inquiry.Kind.INQUIRY and inquiry.anonymous:
        raise ValidationError(
            {"anonymous": _("照会は団体としての回答のため、無記名にはできません。")}
        )
    if inquiry.pk is None:
        inquiry.question_set = questions.create_question_set(title=inquiry.title)
        inquiry.created_by = _actor(by)
        inquiry.save()
        audit(by, "inquiry_created", inquiry, f"「{inquiry.title}」を作成")
        return inquiry
    before = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if before.status not in Inquiry.EDITABLE:
        frozen = ("deadline", "kind", "training_id", "anonymous", "all_members", "partners")
        changed = [name for name in frozen if getattr(before, name) != getattr(inquiry, name)]
        if changed or before.member_kinds != inquiry.member_kinds:
            raise ValidationError(
                _("送信した後は、回答期限と宛先は変えられません（期限の延長は団体ごとの再開で）。")
            )
        inquiry.status = before.status
        inquiry.sent_at = before.sent_at
    inquiry.save()
    return inquiry


def check_question(inquiry: Inquiry, *, required: bool, was_required: bool = False) -> None:
    """Refuse a new required question, or an optional one made required, once answers have
    been submitted.

    Why refuse rather than require it only of those who have not submitted yet: a
    secretariat reads 「必須」 as "every answer has it". Answers submitted without it would be
    complete and incomplete at once: counted as submitted while the question's totals miss
    them, and a coordinator correcting a typo would be stopped by a question they were never
    asked. The message says what to do instead: add it as optional and ask the members who
    have submitted (a reminder, or reopening one) to add it."""
    if not required or was_required or inquiry.pk is None:
        return
    submitted = inquiry.replies.submitted().count()
    if submitted:
        raise ValidationError(
            _(
                "すでに%(n)d件の回答が提出されているため、必須の設問は追加できません"
                "（必須に変えることもできません）。提出済みの回答にはこの設問の答えがなく、"
                "集計がそろわないためです。「必須」を外して任意の設問として追加し、"
                "提出済みの団体には督促や再開で回答の追加をお願いしてください。"
            )
            % {"n": submitted},
            code="submitted",
        )


def audience_members(inquiry: Inquiry) -> QuerySet[Member]:
    """The members a 照会 asks: the mailing lists' own rule over the registry."""
    return audience.rule_members(inquiry)


def _survey_registrations(inquiry: Inquiry) -> QuerySet[Registration]:
    return Registration.objects.filter(
        training=inquiry.training,
        attendance=Registration.Attendance.ATTENDED,
        contact__is_active=True,
    ).exclude(status=Registration.Status.CANCELLED)


def check_sendable(inquiry: Inquiry, *, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    errors: list[str] = []
    if not inquiry.question_set.questions.exists():
        errors.append(_("設問がありません。設問を1つ以上追加してください。"))
    if not inquiry.is_survey and not audience_members(inquiry).exists():
        errors.append(
            _("宛先の団体がありません。「全会員」・ブロック・都道府県などを指定してください。")
        )
    today = timezone.localdate(now)
    if inquiry.deadline < today or (
        inquiry.opens_at is not None and inquiry.deadline < timezone.localdate(inquiry.opens_at)
    ):
        errors.append(_("回答期限が過ぎています。今日以降の日付にしてください。"))
    elif not is_working_day(inquiry.deadline):
        errors.append(
            _("回答期限の%(day)sは営業日ではありません（土日祝・12/29〜1/3を除く）。")
            % {"day": wareki(inquiry.deadline)}
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def send_inquiry(inquiry: Inquiry, *, by: User | None = None) -> Inquiry:
    """Send now, or at opens_at. Only a draft is sent: a second click changes nothing."""
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if inquiry.status != Inquiry.Status.DRAFT:
        return inquiry
    check_sendable(inquiry)
    if inquiry.opens_at is not None and inquiry.opens_at > timezone.now():
        inquiry.status = Inquiry.Status.SCHEDULED
        inquiry.save(update_fields=["status", "updated_at"])
        audit(by, "inquiry_scheduled", inquiry, f"「{inquiry.title}」の送信を予約")
        return inquiry
    _open(inquiry)
    audit(by, "inquiry_sent", inquiry, f"「{inquiry.title}」を送信")
    return inquiry


def _open(inquiry: Inquiry) -> None:
    """Fix the audience (one reply per member, or one invitation per attendee) and queue the
    request mail for a worker."""
    from .tasks import announce_inquiry_task

    if inquiry.is_survey:
        _invite_attendees(inquiry)
    else:
        members = list(audience_members(inquiry).order_by("local_government_id"))
        sets = questions.start_answer_sets(inquiry.question_set, len(members))
        Reply.objects.bulk_create(
            [
                Reply(inquiry=inquiry, member=member, answer_set=answer_set)
                for member, answer_set in zip(members, sets, strict=True)
            ],
            ignore_conflicts=True,
        )
    inquiry.status = Inquiry.Status.OPEN
    inquiry.sent_at = timezone.now()
    inquiry.save(update_fields=["status", "sent_at", "updated_at"])
    announce_inquiry_task.delay_on_commit(inquiry.pk)


def _invite_attendees(inquiry: Inquiry) -> int:
    """An invitation for each attendee not yet invited: attendance is often recorded after the
    training has ended, so beat calls this again while the survey is open."""
    invited = set(inquiry.invitations.values_list("contact_id", flat=True))
    new = [
        Invitation(inquiry=inquiry, registration=r, contact_id=r.contact_id)
        for r in _survey_registrations(inquiry).order_by("id")
        if r.contact_id not in invited
    ]
    Invitation.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def invite_new_attendees(*, now: dt.datetime | None = None) -> int:
    """Beat: attendees marked since an open survey was sent get it too."""
    from .tasks import announce_inquiry_task

    today = timezone.localdate(now or timezone.now())
    count = 0
    for inquiry in Inquiry.objects.filter(
        kind=Inquiry.Kind.SURVEY, status=Inquiry.Status.OPEN, deadline__gte=today
    ):
        with transaction.atomic():
            added = _invite_attendees(inquiry)
            if added:
                announce_inquiry_task.delay_on_commit(inquiry.pk)
            count += added
    return count


def open_due_inquiries(*, now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    opened = []
    for pk in Inquiry.objects.filter(
        status=Inquiry.Status.SCHEDULED, opens_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            inquiry = Inquiry.objects.select_for_update().get(pk=pk)
            if inquiry.status != Inquiry.Status.SCHEDULED:
                continue
            try:
                check_sendable(inquiry, now=now)
            except ValidationError:
                logger.warning("scheduled inquiry %s could not be sent", pk)
                inquiry.status = Inquiry.Status.DRAFT
                inquiry.save(update_fields=["status", "updated_at"])
                continue
            _open(inquiry)
            opened.append(pk)
    return opened


def mail_recipients(members: Sequence[int]) -> dict[int, list[Contact]]:
    """The people a 照会 is addressed to at each member: its coordinators (取りまとめ担当), or
    every active staff member where it has none, leaving out suppressed addresses."""
    contacts = (
        Contact.objects.active()
        .filter(member_id__in=members)
        .annotate(
            suppressed=Exists(
                Suppression.objects.matching(OuterRef("email"), OuterRef("email_hash"))
            )
        )
        .filter(suppressed=False)
        .select_related("member__local_government__prefecture")
        .order_by("member_id", "kana", "id")
    )
    found: dict[int, list[Contact]] = {}
    for contact in contacts:
        found.setdefault(contact.member_id, []).append(contact)
    return {
        member_id: [c for c in people if c.is_coordinator] or people
        for member_id, people in found.items()
    }


def answer_url(inquiry: Inquiry, member: Member | None = None) -> str:
    if inquiry.is_survey or member is None:
        return settings.SITE_URL + reverse("inquiries:survey", args=[inquiry.pk])
    return settings.SITE_URL + reverse(
        "inquiries:answer", args=[member.local_government_id, inquiry.pk]
    )


NO_BODY = ("", "")  # reminders repeat only the title, the deadline and the link


def _body(inquiry: Inquiry) -> tuple[str, str]:
    """The request's body as text and sanitised HTML, rendered once per round of mail."""
    if not inquiry.body.strip():
        return "", ""
    body = compile_body(inquiry.body)
    return body.text, body.html


def _mail_context(inquiry: Inquiry, contact: Contact, body: tuple[str, str]) -> dict[str, object]:
    return {
        "inquiry": inquiry,
        "contact": contact,
        "member_name": contact.member.name,
        "deadline": wareki(inquiry.deadline),
        "url": answer_url(inquiry, contact.member),
        "body_text": body[0],
        "body_html": body[1],
        "secretariat_email": settings.DEFAULT_FROM_EMAIL,
    }


def _queue(
    template: str, inquiry: Inquiry, contact: Contact, kind: str, body: tuple[str, str]
) -> None:
    queue_mail(
        template,
        _mail_context(inquiry, contact, body),
        to=contact.email,
        kind=kind,
        contact_id=contact.pk,
        reference=f"inquiry:{inquiry.pk}",
    )


def announce_inquiry(inquiry_id: int) -> int:
    """The request, once per reply (or invitation): the rows are claimed as they are mailed,
    so two workers, or a task run twice, ask each person once. A 照会's is one bulletin to
    the coordinators of the members claimed; returns the people it names (or mails)."""
    inquiry = Inquiry.objects.filter(pk=inquiry_id, status=Inquiry.Status.OPEN).first()
    if inquiry is None:
        return 0
    sent = 0
    body = _body(inquiry)
    with transaction.atomic():
        if inquiry.is_survey:
            invitations = list(
                Invitation.objects.select_for_update(skip_locked=True)
                .filter(inquiry=inquiry, announced=False)
                .select_related("contact__member__local_government__prefecture")
            )
            for invitation in invitations:
                _queue(
                    "survey_request", inquiry, invitation.contact, OutgoingMail.Kind.INQUIRY, body
                )
                sent += 1
            Invitation.objects.filter(pk__in=[i.pk for i in invitations]).update(announced=True)
            return sent
        replies = list(
            Reply.objects.select_for_update(skip_locked=True).filter(
                inquiry=inquiry, announced_at__isnull=True
            )
        )
        people = mail_recipients([r.member_id for r in replies if r.member_id])
        contacts = [c for r in replies for c in people.get(r.member_id or 0, [])]
        _send_bulletin(inquiry, emails.request_bulletin(inquiry), contacts)
        Reply.objects.filter(pk__in=[r.pk for r in replies]).update(announced_at=timezone.now())
    return len(contacts)


INQUIRY_LIST_SLUG = "inquiries"


def _send_bulletin(inquiry: Inquiry, message: tuple[str, str], contacts: list[Contact]) -> None:
    """A 照会's request or reminder: one bulletin to the people named, through the 照会 list
    (the pipeline's builder, List-Unsubscribe, retries; the archive copy for their members)."""
    if not contacts:
        return
    mailing_list = mailing.service_list(
        getattr(settings, "INQUIRY_MAILING_LIST", INQUIRY_LIST_SLUG),
        name=_("照会"),
        description=_(
            "会員団体への照会（調査）の依頼と督促です。各団体の取りまとめ担当の方"
            "（いなければ担当者の皆さま）にお送りしています。"
        ),
    )
    subject, body = message
    mailing.send_addressed_bulletin(mailing_list, subject=subject, body=body, contacts=contacts)


# --- answering ---------------------------------------------------------------------------


def deadline_message(reply: Reply) -> str:
    return _(
        "回答期限（%(day)s）を過ぎたため、回答を受け付けていません。"
        "期限後に回答・修正が必要な場合は、事務局にご連絡ください。"
    ) % {"day": wareki(timezone.localdate(reply.closes_at()))}


def check_may_answer(
    reply: Reply, *, contact: Contact | None, by: User | None, submit: bool
) -> None:
    """The one rule for changing a municipality's answer (see the module)."""
    if contact is None:
        if by is None or not by.is_staff:
            raise PermissionDenied(_("この回答を変更する権限がありません。"))
        return  # the secretariat, on the municipality's behalf (an answer that came by mail)
    if reply.member_id is None or contact.member_id != reply.member_id or not contact.is_active:
        raise PermissionDenied(_("この団体の回答を変更する権限がありません。"))
    if not reply.is_open():
        raise ValidationError(deadline_message(reply), code="closed")
    if submit and not contact.is_coordinator:
        raise PermissionDenied(_("回答の提出は取りまとめ担当の方のみ行えます。"))
    if reply.is_submitted and not contact.is_coordinator:
        raise PermissionDenied(_("提出済みの回答を変更できるのは取りまとめ担当の方のみです。"))


def _who(contact: Contact | None, by: User | None) -> dict[str, str]:
    if contact is not None:
        return {"actor_ref": f"contact:{contact.pk}", "actor_name": contact.name}
    if by is not None:
        return {"actor_ref": f"user:{by.pk}", "actor_name": _("事務局（%(u)s）") % {"u": by}}
    return {"actor_ref": "", "actor_name": ""}


@transaction.atomic
def save_reply(
    reply: Reply,
    values: Mapping[int, Any],
    *,
    contact: Contact | None = None,
    by: User | None = None,
    submit: bool = False,
    via: str = VIA_WEB,
    expected_revision: int | None = None,
) -> list[int]:
    """Save a draft (any staff of the municipality) or submit (a coordinator): all or
    nothing; every change kept with who, when and how. A submission repeated with the same
    answers changes nothing."""
    reply = (
        Reply.objects.select_for_update().select_related("inquiry", "answer_set").get(pk=reply.pk)
    )
    if reply.inquiry.is_survey:
        raise ValidationError(_("アンケートはアンケートの回答ページから回答してください。"))
    check_may_answer(reply, contact=contact, by=by, submit=submit)
    # A submitted answer stays complete: changing it is submitting it again.
    submit = submit or reply.is_submitted
    if contact is None and by is not None:
        via = VIA_SECRETARIAT if via == VIA_WEB else f"{VIA_SECRETARIAT}（{via}）"
    changed = questions.save_answers(
        reply.answer_set,
        values,
        by=by,
        via=via,
        expected_revision=expected_revision,
        require_complete=submit,
        **_who(contact, by),
    )
    fields = ["updated_at"]
    if submit and (not reply.is_submitted or changed):
        reply.status = Reply.Status.SUBMITTED
        reply.submitted_at = timezone.now()
        fields += ["status", "submitted_at"]
    elif reply.status == Reply.Status.NOT_STARTED and changed:
        reply.status = Reply.Status.DRAFT
        fields.append("status")
    if len(fields) > 1:
        reply.save(update_fields=fields)
    return changed


def form_header(reply: Reply) -> list[tuple[str, str]]:
    member = reply.member
    assert member is not None
    return [(_("団体名"), member.name), (_("団体コード"), member.local_government_id)]


def xlsx_form(reply: Reply) -> bytes:
    """The 調査票, pre-filled with the municipality's name and code and its answers so far."""
    inquiry = reply.inquiry
    return xlsx.write_form(
        inquiry.question_set,
        title=inquiry.title,
        header=form_header(reply),
        answers=questions.answer_values(reply.answer_set),
        note=_("回答期限: %(day)s。黄色の欄に記入し、会員ポータルからアップロードしてください。")
        % {"day": wareki(inquiry.deadline)},
    )


@transaction.atomic
def upload_reply(
    reply: Reply,
    data: bytes,
    *,
    contact: Contact | None = None,
    by: User | None = None,
    submit: bool = False,
) -> list[int]:
    """A filled-in 調査票 back: all or nothing, each problem with its sheet and cell; a file
    of another municipality (its code in the header) is refused."""
    reply = Reply.objects.select_related("inquiry__question_set", "member__local_government").get(
        pk=reply.pk
    )
    check_may_answer(reply, contact=contact, by=by, submit=submit)
    reading = xlsx.read_form(reply.inquiry.question_set, data)
    if not reading.ok:
        raise ValidationError(reading.messages(), code="file")
    code = reading.header.get(_("団体コード"), "")
    assert reply.member is not None
    if code and code != reply.member.local_government_id:
        raise ValidationError(
            _(
                "この調査票は別の団体（団体コード %(code)s）のものです。"
                "%(name)sの調査票をダウンロードして記入してください。"
            )
            % {"code": code[:10], "name": reply.member.name},
            code="other_member",
        )
    return save_reply(reply, reading.values, contact=contact, by=by, submit=submit, via=VIA_EXCEL)


@transaction.atomic
def reopen_reply(reply: Reply, *, until: dt.date, by: User | None = None) -> Reply:
    """After the deadline, let one municipality answer or correct until UNTIL."""
    reply = (
        Reply.objects.select_for_update(of=("self",))
        .select_related("inquiry", "member")
        .get(pk=reply.pk)
    )
    if until < timezone.localdate():
        raise ValidationError(_("再開の期限は今日以降の日付にしてください。"))
    reply.reopened_until = until
    reply.save(update_fields=["reopened_until", "updated_at"])
    audit(
        by,
        "inquiry_reopened",
        reply.inquiry,
        f"「{reply.inquiry.title}」: {reply.member}の回答を{wareki(until)}まで再開",
    )
    return reply


# --- reminders ---------------------------------------------------------------------------


@transaction.atomic
def remind_unsubmitted(inquiry: Inquiry, *, by: User | None = None, key: str | None = None) -> int:
    """One reminder to each person asked who has not answered. A scheduled round (KEY) is
    sent once; a click is refused within a few minutes of the last one (two clicks, or two
    people at once, remind once). Returns the messages queued."""
    inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
    if inquiry.status != Inquiry.Status.OPEN:
        raise ValidationError(_("回答受付中の照会だけ督促できます。"))
    now = timezone.now()
    if key is None:
        recent = inquiry.reminders.filter(
            key__startswith="manual:", sent_at__gt=now - MANUAL_REMINDER_GAP
        ).exists()
        if recent:
            raise ValidationError(
                _("督促は送信したばかりです。%(n)d分ほど空けてから送ってください。")
                % {"n": MANUAL_REMINDER_GAP.seconds // 60},
                code="recent",
            )
        key = f"manual:{now.isoformat()}"
    try:
        with transaction.atomic():
            round_ = Reminder.objects.create(inquiry=inquiry, key=key, sent_by=_actor(by))
    except IntegrityError:
        return 0
    count = 0
    if inquiry.is_survey:
        for invitation in Invitation.objects.filter(
            inquiry=inquiry, answered=False, contact__is_active=True
        ).select_related("contact__member__local_government__prefecture"):
            _queue(
                "survey_reminder",
                inquiry,
                invitation.contact,
                OutgoingMail.Kind.INQUIRY_REMINDER,
                NO_BODY,
            )
            count += 1
    else:
        now_open = [
            r for r in inquiry.replies.unsubmitted().select_related("inquiry") if r.is_open(now)
        ]
        people = mail_recipients([r.member_id for r in now_open if r.member_id])
        contacts = [c for r in now_open for c in people.get(r.member_id or 0, [])]
        _send_bulletin(inquiry, emails.reminder_bulletin(inquiry), contacts)
        count = len(contacts)
    round_.recipients = count
    round_.save(update_fields=["recipients"])
    if by is not None:
        audit(by, "inquiry_reminded", inquiry, f"「{inquiry.title}」の督促（{count}通）")
    return count


def queue_due_reminders(*, now: dt.datetime | None = None) -> int:
    """Beat: each reminder day's round, once. A 照会 sent late that is past several reminder
    days at once gets one round, not several."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for inquiry in Inquiry.objects.filter(status=Inquiry.Status.OPEN, deadline__gte=today):
        due = [
            d for d in inquiry.reminder_days if working_days_before(inquiry.deadline, d) <= today
        ]
        if not due:
            continue
        done = set(inquiry.reminders.values_list("key", flat=True))
        keys = [f"d{d}" for d in due if f"d{d}" not in done]
        if not keys:
            continue
        # The latest round due is the one to send; earlier ones are recorded as passed.
        latest = min(due)
        for stale in keys:
            if stale != f"d{latest}":
                Reminder.objects.get_or_create(inquiry=inquiry, key=stale)
        if f"d{latest}" in keys:
            sent += remind_unsubmitted(inquiry, key=f"d{latest}")
    return sent


# --- surveys -------------------------------------------------------------------------------


@transaction.atomic
def create_survey(
    training: Training,
    *,
    by: User | None = None,
    anonymous: bool = True,
    deadline: dt.date | None = None,
    title: str = "",
) -> Inquiry:
    """A training's survey, sent when the training ends (opens_at = its end) to those marked
    attended; closing by default 5 working days after."""
    if deadline is None:
        day = timezone.localdate(training.ends_at)
        count = 0
        while count < 5:
            day += dt.timedelta(days=1)
            if is_working_day(day):
                count += 1
        deadline = day
    inquiry = Inquiry(
        kind=Inquiry.Kind.SURVEY,
        title=title or _("「%(t)s」アンケート") % {"t": training.title},
        training=training,
        anonymous=anonymous,
        opens_at=training.ends_at,
        deadline=deadline,
        reminder_days=[1],
    )
    return save_inquiry(inquiry, by=by)


def invitation_for(inquiry: Inquiry, contact: Contact) -> Invitation | None:
    return Invitation.objects.filter(inquiry=inquiry, contact=contact).first()


@transaction.atomic
def answer_survey(inquiry: Inquiry, contact: Contact, values: Mapping[int, Any]) -> None:
    """An attendee's answers, once. Anonymous: the reply is made with no member, no person,
    no history of who; only the invitation learns that this person has answered."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("inquiry")
        .filter(inquiry=inquiry, contact=contact)
        .first()
    )
    if invitation is None:
        raise PermissionDenied(_("このアンケートの対象ではありません。"))
    inquiry = invitation.inquiry
    if inquiry.status != Inquiry.Status.OPEN or inquiry.is_past_deadline():
        raise ValidationError(
            _("このアンケートは%(day)sで締め切りました。") % {"day": wareki(inquiry.deadline)},
            code="closed",
        )
    if invitation.answered:
        raise ValidationError(_("このアンケートにはすでに回答いただいています。"), code="answered")
    answer_set = questions.start_answer_set(inquiry.question_set)
    who: dict[str, Any] = {}
    if not inquiry.anonymous:
        who = {"by": contact.user, **_who(contact, None)}
    questions.save_answers(answer_set, values, require_complete=True, via=VIA_WEB, **who)
    Reply.objects.create(
        inquiry=inquiry,
        answer_set=answer_set,
        member=None if inquiry.anonymous else contact.member,
        contact=None if inquiry.anonymous else contact,
        status=Reply.Status.SUBMITTED,
        submitted_at=None if inquiry.anonymous else timezone.now(),
    )
    Invitation.objects.filter(pk=invitation.pk).update(answered=True)


def open_surveys_for(contact: Contact) -> list[Invitation]:
    """The surveys CONTACT is asked to answer now (the portal home lists them)."""
    return list(
        Invitation.objects.filter(
            contact=contact,
            answered=False,
            inquiry__status=Inquiry.Status.OPEN,
            inquiry__deadline__gte=timezone.localdate(),
        ).select_related("inquiry")
    )


CERTIFICATE_GATES = (Inquiry.Status.SCHEDULED, Inquiry.Status.OPEN)


def survey_before_certificate(training: Training, contact: Contact) -> Inquiry | None:
    """The survey of TRAINING that CONTACT must answer before their 参加証明書, or None.

    A survey gates the certificate when the secretariat asked for it and has sent it (or set
    it to open at the training's end); a draft gates nothing yet. Who has answered is read
    from the person's Invitation only, so an anonymous survey gates as a named one does
    without its answer ever being linked to them. No invitation is not an answer: an
    attendee marked after the survey opened waits for theirs (the survey page makes it).
    After the deadline the gate stays shut: the secretariat, who asked for the answers,
    issues the certificate from the admin."""
    return surveys_before_certificates([(training.pk, contact.pk)]).get((training.pk, contact.pk))


def surveys_before_certificates(
    pairs: Iterable[tuple[int, int]],
) -> dict[tuple[int, int], Inquiry]:
    """survey_before_certificate() for many (training id, contact id) PAIRS at once, in two
    queries (the portal's 参加履歴 lists every training attended): the pairs still waiting for
    an answer, each with the survey to answer first."""
    pairs = list(pairs)
    if not pairs:
        return {}
    surveys = list(
        Inquiry.objects.filter(
            training_id__in={training for training, _contact in pairs},
            kind=Inquiry.Kind.SURVEY,
            required_for_certificate=True,
            status__in=CERTIFICATE_GATES,
        ).order_by("deadline", "id")
    )
    answered = set(
        Invitation.objects.filter(
            inquiry__in=surveys,
            contact_id__in={contact for _training, contact in pairs},
            answered=True,
        ).values_list("inquiry_id", "contact_id")
    )
    waiting: dict[tuple[int, int], Inquiry] = {}
    for training, contact in pairs:
        for survey in surveys:
            if survey.training_id == training and (survey.pk, contact) not in answered:
                waiting[(training, contact)] = survey
                break
    return waiting


def survey_done(training: Training, contact: Contact) -> bool:
    """Whether CONTACT may have the training's certificate as far as surveys go."""
    return survey_before_certificate(training, contact) is None


@transaction.atomic
def invite_attendee(inquiry: Inquiry, contact: Contact) -> Invitation | None:
    """CONTACT's invitation to an open survey, made on the spot for an attendee marked after
    it opened (beat's invite_new_attendees would make it within minutes; the certificate
    page sends them here now). None for anyone who did not attend."""
    invitation = invitation_for(inquiry, contact)
    if invitation is not None or inquiry.status != Inquiry.Status.OPEN:
        return invitation
    registration = _survey_registrations(inquiry).filter(contact=contact).first()
    if registration is None:
        return None
    # They are on the page already: no request mail.
    Invitation.objects.bulk_create(
        [Invitation(inquiry=inquiry, registration=registration, contact=contact, announced=True)],
        ignore_conflicts=True,
    )
    return invitation_for(inquiry, contact)


# --- what the secretariat reads ------------------------------------------------------------


@dataclass
class Rate:
    name: str
    asked: int = 0
    submitted: int = 0

    @property
    def share(self) -> float:
        return self.submitted / self.asked if self.asked else 0.0


@dataclass
class Progress:
    overall: Rate
    blocks: list[Rate] = field(default_factory=list)


def replies_of(inquiry: Inquiry) -> QuerySet[Reply]:
    return inquiry.replies.select_related(
        "member__local_government__prefecture__block", "member__block_override"
    ).order_by("member__local_government_id", "id")


def progress(inquiry: Inquiry) -> Progress:
    if inquiry.is_survey:
        asked = inquiry.invitations.count()
        answered = inquiry.invitations.filter(answered=True).count()
        return Progress(overall=Rate(_("全体"), asked, answered))
    overall = Rate(_("全体"))
    blocks: dict[str, Rate] = OrderedDict()
    rows = sorted(
        replies_of(inquiry),
        key=lambda r: (r.member.block.sort_order, r.member.block.pk) if r.member else (0, 0),
    )
    for reply in rows:
        assert reply.member is not None
        rate = blocks.setdefault(reply.member.block.name, Rate(reply.member.block.name))
        for target in (overall, rate):
            target.asked += 1
            target.submitted += reply.is_submitted
    return Progress(overall=overall, blocks=list(blocks.values()))


def unsubmitted(inquiry: Inquiry) -> list[tuple[Reply, list[Contact]]]:
    """Who has not submitted, each with the people a reminder would reach."""
    replies = list(replies_of(inquiry).filter(~Q(status=Reply.Status.SUBMITTED)))
    people = mail_recipients([r.member_id for r in replies if r.member_id])
    return [(reply, people.get(reply.member_id or 0, [])) for reply in replies]


def _entries(inquiry: Inquiry) -> list[aggregate.Entry]:
    if inquiry.is_survey:
        return [
            aggregate.Entry(
                reply.answer_set_id,
                reply.member.name if reply.member and not inquiry.anonymous else "",
            )
            for reply in inquiry.replies.select_related("member__local_government__prefecture")
        ]
    return [
        aggregate.Entry(
            reply.answer_set_id,
            reply.member.name,
            {
                "block": reply.member.block.name,
                "prefecture": reply.member.local_government.prefecture.name,
            },
        )
        for reply in replies_of(inquiry).filter(status=Reply.Status.SUBMITTED)
        if reply.member is not None
    ]


def summary(inquiry: Inquiry, *, include_text: bool = True) -> list[aggregate.Summary]:
    """Per question, over submitted answers: counts and shares, sums and means, by block and
    prefecture; free text with the municipality (never for an anonymous survey's person)."""
    keys = () if inquiry.is_survey else ("block", "prefecture")
    return aggregate.summarise(
        inquiry.question_set, _entries(inquiry), group_keys=keys, include_text=include_text
    )


def export_xlsx(inquiry: Inquiry, *, by: User | None = None) -> bytes:
    """One row per municipality (codes as text, Japanese headers), tables on their own sheet."""
    if inquiry.is_survey:
        header = [_("回答番号")]
        rows: list[tuple[Sequence[Any], int | None]] = [
            ([str(number)], reply.answer_set_id)
            for number, reply in enumerate(
                inquiry.replies.order_by("?" if inquiry.anonymous else "id"), start=1
            )
        ]
    else:
        header = [
            _("団体コード"),
            _("団体名"),
            _("都道府県"),
            _("ブロック"),
            _("状態"),
            _("提出日時"),
        ]
        rows = []
        for reply in replies_of(inquiry):
            member = reply.member
            assert member is not None
            submitted = (
                timezone.localtime(reply.submitted_at).strftime("%Y-%m-%d %H:%M")
                if reply.submitted_at
                else ""
            )
            rows.append(
                (
                    [
                        member.local_government_id,
                        member.name,
                        member.local_government.prefecture.name,
                        member.block.name,
                        reply.get_status_display(),
                        submitted,
                    ],
                    reply.answer_set_id if reply.is_submitted else None,
                )
            )
    audit(by, "inquiry_exported", inquiry, f"「{inquiry.title}」の回答を書き出し")
    return xlsx.export_answers(inquiry.question_set, header=header, rows=rows)


def history(reply: Reply) -> Any:
    return questions.history(reply.answer_set)
