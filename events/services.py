"""Every change to trainings and registrations. Each function is one transaction that names the
act; the mail it owes is a Notice row written in the same transaction and sent on commit.

Seats are counted while the training row is locked (SELECT … FOR UPDATE on PostgreSQL; on
SQLite every write transaction begins IMMEDIATE, which takes the database's write lock), so
capacity and the per-member limit hold however many requests arrive at once."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from association.models import Contact, Member, User
from association.nendo import nendo_of, wareki
from association.services import audit
from questions import services as questions

from . import seats
from .models import CalendarFeed, Notice, Registration, Training, TrainingSession
from .tasks import promote_waiting_list_task, send_training_notices_task

# Changing one of these tells every registrant.
ESSENTIAL_FIELDS = ("starts_at", "ends_at", "venue_name", "venue_address", "online_url")


# --- who may act for whom -------------------------------------------------------------------


def _check_actor(
    actor: Contact | None, contact: Contact, *, coordinator_only: bool = False
) -> None:
    """ACTOR (the portal user's own contact record) acts for CONTACT: themselves, or, as
    coordinator, a colleague of the same member. None is the secretariat or the system."""
    if actor is None:
        return
    if actor.member_id != contact.member_id:
        raise PermissionDenied(_("他の団体の担当者の申込みは操作できません。"))
    if not actor.is_active:
        raise PermissionDenied(_("この担当者登録は無効です。"))
    if actor.is_coordinator:
        return
    if coordinator_only or actor.pk != contact.pk:
        raise PermissionDenied(_("同じ団体の方の申込みは取りまとめ担当の方のみ行えます。"))


OVER_REFUSAL = _lazy(
    "この研修会は終了しているため、申込みの取消・差し替えはできません。"
    "出欠の訂正は事務局にご連絡ください。"
)


def _check_not_over(training: Training, actor: Contact | None, now: dt.datetime) -> None:
    """Once a training is over its registrations are the record of who came (attendance is the
    secretariat's): staff and coordinators can no longer cancel or substitute them."""
    if actor is not None and training.is_over_at(now):
        raise PermissionDenied(OVER_REFUSAL)


def _check_can_register(training: Training, contact: Contact, now: dt.datetime) -> None:
    if not contact.is_active:
        raise ValidationError(
            _("%(name)s さんの担当者登録は無効です。") % {"name": contact.name}, code="inactive"
        )
    if not training.is_open_at(now):
        if training.status != Training.Status.PUBLISHED:
            message = _("この研修会は現在申込みを受け付けていません（%(status)s）。") % {
                "status": training.get_status_display()
            }
        elif training.opens_at is not None and now < training.opens_at:
            message = _("申込みの受付は%(day)sからです。") % {"day": wareki(training.opens_at)}
        else:
            message = _("申込みの受付は%(day)sで締め切りました。") % {
                "day": wareki(training.last_registration_day)
            }
        raise ValidationError(message, code="closed")
    if not training.admits(contact.member, now):
        if contact.member.status == Member.Status.GUEST:
            message = _("この研修会は会員団体の方が対象です（非会員の市区町村は参加できません）。")
        elif training.block is not None and training.others_from is not None:
            message = _(
                "この研修会は%(block)sブロックの会員団体が対象です。他ブロックからの申込みは%(day)sからです。"
            ) % {"block": training.block.name, "day": wareki(training.others_from)}
        elif training.block is not None:
            message = _("この研修会は%(block)sブロックの会員団体が対象です。") % {
                "block": training.block.name
            }
        else:
            message = _("この研修会の対象ではありません。")
        raise ValidationError(message, code="ineligible")


def _notify(
    registration: Registration, kind: str, *, contact: Contact | None = None, **extra: str
) -> Notice:
    notice = Notice.objects.create(
        registration=registration, contact=contact or registration.contact, kind=kind, **extra
    )
    transaction.on_commit(wake_notice_sender)
    return notice


def training_questions(training: Training) -> list[Any]:
    """The questions TRAINING's registration form asks, in order (none for most trainings)."""
    if training.question_set_id is None:
        return []
    return list(training.question_set.questions.all())  # type: ignore[union-attr]


@transaction.atomic
def answer_training_questions(
    registration: Registration,
    answers: Mapping[int, Any],
    *,
    actor: Contact | None = None,
    by: User | None = None,
) -> Registration:
    """Store a participant's answers to the training's questions, all required ones answered
    or none stored (ValidationError keyed by question id). Answered again, they replace the
    earlier answers; each change is kept by the questions app with who made it."""
    training = registration.training
    if training.question_set_id is None:
        return registration
    if registration.answer_set_id is None:
        registration.answer_set = questions.start_answer_set(training.question_set)  # type: ignore[arg-type]
        registration.save(update_fields=["answer_set"])
    questions.save_answers(
        registration.answer_set,  # type: ignore[arg-type]
        answers,
        by=by,
        actor_ref=f"contact:{actor.pk}" if actor is not None else "",
        via="portal",
        require_complete=True,
    )
    return registration


@transaction.atomic
def erase_training_answers(contact: Contact) -> int:
    """CONTACT's data is erased: their answers to trainings' questions (配慮事項 and the like)
    and the answers' history go with it; the registration rows stay, without answers."""
    registrations = list(
        Registration.objects.filter(contact=contact, answer_set__isnull=False).select_related(
            "answer_set"
        )
    )
    for registration in registrations:
        answer_set = registration.answer_set
        registration.answer_set = None
        registration.save(update_fields=["answer_set"])
        questions.delete_answer_set(answer_set)  # type: ignore[arg-type]
    return len(registrations)


def _lock(training: Training) -> Training:
    return (
        Training.objects.select_for_update(of=("self",)).select_related("block").get(pk=training.pk)
    )


# --- registrations ---------------------------------------------------------------------------
#
# The seat rule is written once, in SQL, in events/seats.py (why SQL: see its note).


def register_for_training(
    training: Training,
    *,
    contact: Contact,
    actor: Contact | None = None,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> Registration:
    """Take a seat, or a place on the waiting list when the training or the member is full.
    Registering someone who already holds a seat or a place returns that registration."""
    now = now or timezone.now()
    _check_actor(actor, contact)
    _check_can_register(training, contact, now)
    by_id = by.pk if by is not None and by.is_authenticated else None
    taken = seats.take_seat(
        training_id=training.pk,
        contact_id=contact.pk,
        member_id=contact.member_id,
        by_id=by_id,
        now=now,
    )
    transaction.on_commit(wake_notice_sender)  # its notice, and any promotion's
    if taken is None:
        existing = Registration.objects.active().filter(training=training, contact=contact)
        if registration := existing.first():
            return registration
        # Not published any more: the training changed since the checks above.
        training = Training.objects.select_related("block").get(pk=training.pk)
        _check_can_register(training, contact, now)
        raise ValidationError(_("この研修会は現在申込みを受け付けていません。"), code="closed")
    registration = Registration(
        pk=taken[0],
        training=training,
        contact=contact,
        member_id=contact.member_id,
        status=taken[1],
        registered_by_id=by_id,
        created_at=now,
        confirmed_at=now if taken[1] == Registration.Status.CONFIRMED else None,
    )
    registration._state.adding = False
    registration.known_place = taken[2]
    return registration


def cancel_registration(
    registration: Registration,
    *,
    actor: Contact | None = None,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> Registration:
    """Give up a seat or a waiting-list place. A freed seat goes to the waiting list through a
    task queued on commit (and, should that task be late, to the next registration)."""
    now = now or timezone.now()
    _check_actor(actor, registration.contact)
    with transaction.atomic():
        training = _lock(registration.training)
        _check_not_over(training, actor, now)
        registration = Registration.objects.select_related("contact", "member").get(
            pk=registration.pk
        )
        if registration.status == Registration.Status.CANCELLED:
            return registration
        was_confirmed = registration.is_confirmed
        registration.status = Registration.Status.CANCELLED
        registration.cancelled_at = now
        registration.sequence += 1
        registration.save(update_fields=["status", "cancelled_at", "sequence"])
        _notify(registration, Notice.Kind.CANCELLED)
        if was_confirmed and training.status in (
            Training.Status.PUBLISHED,
            Training.Status.CLOSED,
        ):
            promote_waiting_list_task.delay_on_commit(training.pk)
        audit(
            by,
            "registration_cancelled",
            registration,
            f"{training.title}: {{contact}}（{registration.member}）の申込みを取消",
            people={"contact": registration.contact},
        )
    return registration


def promote_waiting_list(
    training: Training, *, now: dt.datetime | None = None
) -> list[Registration]:
    """Fill free seats from the waiting list. Safe to run any number of times."""
    now = now or timezone.now()
    with transaction.atomic():
        training = _lock(training)
        if training.status not in (Training.Status.PUBLISHED, Training.Status.CLOSED):
            return []
        promoted = seats.promote(training_id=training.pk, now=now)
        if promoted:
            transaction.on_commit(wake_notice_sender)
        ids = [registration_id for registration_id, _contact in promoted]
        return sorted(Registration.objects.filter(pk__in=ids), key=lambda r: ids.index(r.pk))


def substitute_registration(
    registration: Registration,
    *,
    contact: Contact,
    actor: Contact | None = None,
    by: User | None = None,
) -> Registration:
    """差し替え: a colleague of the same member takes over the seat (or the waiting-list place)."""
    _check_actor(actor, registration.contact, coordinator_only=True)
    with transaction.atomic():
        training = _lock(registration.training)
        _check_not_over(training, actor, timezone.now())
        registration = Registration.objects.select_related("contact").get(pk=registration.pk)
        previous = registration.contact
        if registration.status == Registration.Status.CANCELLED:
            raise ValidationError(_("取り消された申込みは差し替えできません。"), code="cancelled")
        if contact.member_id != registration.member_id:
            raise PermissionDenied(_("差し替えは同じ団体の担当者に限ります。"))
        if not contact.is_active:
            raise ValidationError(
                _("%(name)s さんの担当者登録は無効です。") % {"name": contact.name}, code="inactive"
            )
        if contact.pk == previous.pk:
            return registration
        if Registration.objects.active().filter(training=training, contact=contact).exists():
            raise ValidationError(
                _("%(name)s さんはすでにこの研修会に申し込まれています。") % {"name": contact.name},
                code="duplicate",
            )
        registration.contact = contact
        registration.substituted_from = previous
        registration.sequence += 1
        registration.save(update_fields=["contact", "substituted_from", "sequence"])
        _notify(registration, Notice.Kind.SUBSTITUTED)
        _notify(registration, Notice.Kind.SUBSTITUTED, contact=previous)
        audit(
            by,
            "registration_substituted",
            registration,
            f"{training.title}: {{old}} から {{new}} へ差し替え",
            people={"old": previous, "new": contact},
        )
    return registration


# --- the member's calendar feed ---------------------------------------------------------------


def issue_calendar_feed(member: Member, *, actor: Contact, by: User | None = None) -> CalendarFeed:
    """A new secret feed URL for MEMBER; the one before it stops working. Coordinators only."""
    if actor.member_id != member.pk or not actor.is_active or not actor.is_coordinator:
        raise PermissionDenied(_("この操作は取りまとめ担当の方のみ行えます。"))
    with transaction.atomic():
        now = timezone.now()
        member.calendar_feeds.filter(revoked_at__isnull=True).update(revoked_at=now)
        feed = CalendarFeed.objects.create(member=member, token=secrets.token_urlsafe(32))
        audit(
            by,
            "calendar_feed_issued",
            feed,
            f"{member.name}: カレンダー配信URLを発行（以前のURLは無効）",
        )
    return feed


def revoke_calendar_feeds(member: Member, *, actor: Contact, by: User | None = None) -> int:
    if actor.member_id != member.pk or not actor.is_active or not actor.is_coordinator:
        raise PermissionDenied(_("この操作は取りまとめ担当の方のみ行えます。"))
    with transaction.atomic():
        count = member.calendar_feeds.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        audit(by, "calendar_feed_revoked", member, f"{member.name}: カレンダー配信URLを無効化")
    return count


# --- the secretariat -------------------------------------------------------------------------


def register_on_behalf(training: Training, *, contact: Contact, by: User | None) -> Registration:
    """代理申込み: the secretariat registers a contact of an eligible member, by the same rules
    and with the same mail as the portal; audited."""
    with transaction.atomic():
        registration = register_for_training(training, contact=contact, by=by)
        audit(
            by,
            "registration_on_behalf",
            registration,
            f"{training.title}: {{contact}}（{contact.member}）を事務局が代理申込み"
            f"（{registration.get_status_display()}）",
            people={"contact": contact},
        )
    return registration


def confirm_out_of_turn(
    registration: Registration, *, reason: str, by: User | None, now: dt.datetime | None = None
) -> Registration:
    """The secretariat gives a waiting person a seat out of turn or beyond the member's limit
    (never beyond the capacity), with a reason; the person is told as a promotion; audited."""
    reason = _reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        training, registration = _locked_in_status(
            registration,
            Registration.Status.WAITLISTED,
            _("キャンセル待ちの申込みだけを参加確定にできます。"),
        )
        if not seats.confirm_out_of_turn(
            training_id=training.pk, registration_id=registration.pk, now=now
        ):
            raise ValidationError(
                _("定員に空きがありません。定員を増やしてから参加確定にしてください。"),
                code="full",
            )
        transaction.on_commit(wake_notice_sender)
        audit(
            by,
            "registration_confirmed_out_of_turn",
            registration,
            f"{training.title}: {{contact}}（{registration.member}）をキャンセル待ちから参加確定に",
            people={"contact": registration.contact},
            reason=reason,
        )
    registration.refresh_from_db()
    return registration


def _locked_in_status(
    registration: Registration, status: str, refusal: str
) -> tuple[Training, Registration]:
    """Inside the caller's transaction: lock REGISTRATION's training, read the registration
    again under that lock, and refuse (REFUSAL) unless it is in STATUS."""
    training = _lock(registration.training)
    registration = Registration.objects.select_related("contact", "member").get(pk=registration.pk)
    if registration.status != status:
        raise ValidationError(refusal, code="status")
    return training, registration


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(_("理由を入力してください。"), code="reason")
    return reason[:200]


def move_to_waiting_list(
    registration: Registration,
    *,
    at_head: bool,
    reason: str,
    by: User | None,
    now: dt.datetime | None = None,
) -> list[Registration]:
    """The secretariat puts a confirmed person back on the waiting list, at its head or its
    tail, with a reason. The seat freed goes to whoever the waiting list owes it to, by the
    seat rule (events/seats.py); both are told through their notices; audited. Returns the
    people promoted."""
    reason = _reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        training, registration = _locked_in_status(
            registration,
            Registration.Status.CONFIRMED,
            _("参加確定の申込みだけをキャンセル待ちに移せます。"),
        )
        try:
            promoted = seats.move_to_waiting_list(
                training_id=training.pk, registration_id=registration.pk, at_head=at_head, now=now
            )
        except seats.SeatCameBack:
            raise ValidationError(
                _(
                    "キャンセル待ちに席を受けられる方がいないため、"
                    "%(name)s さんをキャンセル待ちに移せません。"
                )
                % {"name": registration.contact.name},
                code="no_one_waiting",
            ) from None
        if promoted is None:
            raise ValidationError(
                _("参加確定の申込みだけをキャンセル待ちに移せます。"), code="status"
            )
        transaction.on_commit(wake_notice_sender)
        where = "先頭" if at_head else "最後"
        audit(
            by,
            "registration_moved_to_waiting_list",
            registration,
            f"{training.title}: {{contact}}（{registration.member}）を参加確定からキャンセル待ちの{where}へ",
            people={"contact": registration.contact},
            reason=reason,
            promoted=",".join(str(pk) for pk, _contact in promoted),
        )
    ids = [pk for pk, _contact in promoted]
    return sorted(Registration.objects.filter(pk__in=ids), key=lambda r: ids.index(r.pk))


def reorder_waiting_list(
    registration: Registration, *, place: int, reason: str, by: User | None
) -> int:
    """The secretariat moves a waiting person to PLACE (1 is the head; beyond the end means
    the end) with a reason; audited. Returns the place taken. A free seat still goes by the
    seat rule, so the waiting list is promoted after the move."""
    reason = _reason(reason)
    with transaction.atomic():
        training = _lock(registration.training)
        order = list(
            Registration.objects.waitlisted().filter(training=training).values_list("pk", flat=True)
        )
        if registration.pk not in order:
            raise ValidationError(
                _("キャンセル待ちの申込みだけを並べ替えられます。"), code="status"
            )
        before = order.index(registration.pk) + 1
        order.remove(registration.pk)
        after = min(max(place, 1), len(order) + 1)
        order.insert(after - 1, registration.pk)
        if after != before:
            seats.set_queue(training_id=training.pk, order=order)
            if seats.promote(training_id=training.pk, now=timezone.now()):
                transaction.on_commit(wake_notice_sender)
            audit(
                by,
                "waiting_list_reordered",
                registration,
                f"{training.title}: {{contact}} のキャンセル待ちの順番を {before} → {after}",
                people={"contact": registration.contact},
                reason=reason,
            )
    return after


def describe_changes(before: Training, after: Training) -> list[str]:
    """変更前 → 変更後, one line per field registrants must hear about, in the words of the
    mail (the secretariat's own text and the calendar's dates, nothing typed in the portal)."""
    lines = []
    for field in ESSENTIAL_FIELDS:
        old, new = getattr(before, field), getattr(after, field)
        if old == new:
            continue
        label = str(getattr(Training._meta.get_field(field), "verbose_name", field))
        lines.append(f"{label}: {_change_value(old)} → {_change_value(new)}")
    return lines


def _change_value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value)
        return f"{wareki(local)}{local:%H:%M}"
    return str(value) if value else _("（なし）")


def save_training(
    training: Training, *, changed: Iterable[str] = (), by: User | None = None
) -> Training:
    """Save a training edited in the admin. A change of time or place tells every registrant
    what changed (変更前 → 変更後); the programme moves with the start; more seats (or a
    higher limit) move the waiting list up; setting the status to cancelled calls the training
    off."""
    changed = set(changed)
    with transaction.atomic():
        is_new = training.pk is None
        if not training.nendo:
            training.nendo = nendo_of(training.starts_at)
        if training.kind == Training.Kind.NATIONAL:
            training.block = None
        if training.question_set_id is None:
            training.question_set = questions.create_question_set(title=training.title[:200])
        lines: list[str] = []
        if not is_new:
            before = Training.objects.select_for_update().get(pk=training.pk)
            changed |= {f for f in ESSENTIAL_FIELDS if getattr(before, f) != getattr(training, f)}
            if (
                training.status == Training.Status.CANCELLED
                and before.status != Training.Status.CANCELLED
            ):
                training.status = before.status
                training.save()
                return call_off_training(training, by=by)
            lines = describe_changes(before, training)
        essential = [f for f in ESSENTIAL_FIELDS if f in changed]
        if not is_new and essential:
            training.revision = before.revision + 1
        training.save()
        if not is_new and training.starts_at != before.starts_at:
            # The programme keeps its times relative to the start.
            shift = training.starts_at - before.starts_at
            TrainingSession.objects.filter(training=training).update(
                starts_at=F("starts_at") + shift, ends_at=F("ends_at") + shift
            )
        if not is_new and (
            training.capacity > before.capacity
            or training.per_member_limit > before.per_member_limit
        ):
            # More room: the waiting list moves up.
            promote_waiting_list_task.delay_on_commit(training.pk)
        if not is_new and lines and training.status != Training.Status.DRAFT:
            for registration in training.registrations.active().select_related("contact"):
                _notify(registration, Notice.Kind.CHANGED, body="\n".join(lines))
        audit(
            by, "training_saved", training, f"研修会「{training.title}」を保存", changed=essential
        )
    return training


def call_off_training(training: Training, *, by: User | None = None, reason: str = "") -> Training:
    """中止: the training is cancelled and every registrant is told."""
    with transaction.atomic():
        training = _lock(training)
        if training.status == Training.Status.CANCELLED:
            return training
        training.status = Training.Status.CANCELLED
        training.revision += 1
        training.save(update_fields=["status", "revision", "updated_at"])
        for registration in training.registrations.active().select_related("contact"):
            _notify(registration, Notice.Kind.CALLED_OFF, body=reason)
        audit(by, "training_called_off", training, f"研修会「{training.title}」を中止")
    return training


def mail_registrants(
    training: Training,
    *,
    subject: str,
    body: str,
    by: User | None = None,
    include_waitlisted: bool = False,
) -> int:
    """One message per registrant, on the transactional queue."""
    subject, body = subject.strip(), body.strip()
    if not subject or not body:
        raise ValidationError(_("件名と本文を入力してください。"), code="empty")
    statuses = [Registration.Status.CONFIRMED]
    if include_waitlisted:
        statuses.append(Registration.Status.WAITLISTED)
    with transaction.atomic():
        registrations = training.registrations.filter(status__in=statuses).select_related("contact")
        count = 0
        for registration in registrations:
            _notify(registration, Notice.Kind.MESSAGE, subject=subject[:200], body=body)
            count += 1
        audit(
            by, "training_mailed", training, f"研修会「{training.title}」の申込者 {count} 名へ連絡"
        )
    return count


def mark_attendance(
    registrations: Iterable[Registration],
    *,
    attendance: str,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> int:
    """出席/欠席 for the confirmed REGISTRATIONS whose training has begun; the others are left
    as they are (an attendance recorded in advance would give a 参加証明書 for a training nobody
    has attended yet). Returns how many were marked."""
    if attendance not in Registration.Attendance.values:
        raise ValidationError(_("出欠の値が正しくありません。"), code="attendance")
    now = now or timezone.now()
    ids = [r.pk for r in registrations]
    with transaction.atomic():
        marked = list(
            Registration.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, status=Registration.Status.CONFIRMED, training__starts_at__lte=now)
            .select_related("training")
        )
        Registration.objects.filter(pk__in=[r.pk for r in marked]).update(attendance=attendance)
        for registration in marked:
            audit(
                by,
                "attendance_marked",
                registration,
                f"{registration.training.title}: {{contact}} の出欠を「{Registration.Attendance(attendance).label}」に",
                people={"contact": registration.contact_id},
            )
    return len(marked)


# 52 weeks keeps the weekday, which is what a yearly training keeps.
A_YEAR_ON = dt.timedelta(weeks=52)


def duplicate_training(training: Training, *, by: User | None = None) -> Training:
    """A draft copy for the next 年度, a year later on the same weekday, with its programme;
    the 年度 in the title moves too (令和8年度 → 令和9年度, 2026年度 → 2027年度)."""
    with transaction.atomic():
        copy = Training.objects.get(pk=training.pk)
        copy.pk = None
        copy.nendo = training.nendo + 1
        copy.title = next_nendo_title(training.title, training.nendo)
        copy.status = Training.Status.DRAFT
        copy.revision = 0
        copy.starts_at = training.starts_at + A_YEAR_ON
        copy.ends_at = training.ends_at + A_YEAR_ON
        copy.opens_at = training.opens_at and training.opens_at + A_YEAR_ON
        copy.closes_at = training.closes_at and training.closes_at + A_YEAR_ON
        copy.others_from = training.others_from and training.others_from + A_YEAR_ON
        copy.online_url = ""
        # The form asks the same questions next year, in a set of its own (answers stay here).
        copy.question_set = (
            questions.copy_question_set(training.question_set, title=copy.title[:200])
            if training.question_set is not None
            else None
        )
        copy.save()
        TrainingSession.objects.bulk_create(
            TrainingSession(
                training=copy,
                starts_at=s.starts_at + A_YEAR_ON,
                ends_at=s.ends_at + A_YEAR_ON,
                title=s.title,
                speaker=s.speaker,
            )
            for s in training.sessions.all()
        )
        audit(by, "training_duplicated", copy, f"研修会「{training.title}」を翌年度に複製")
    return copy


def next_nendo_title(title: str, nendo: int) -> str:
    from association.nendo import nendo_label

    return title.replace(nendo_label(nendo), nendo_label(nendo + 1)).replace(
        f"{nendo}年度", f"{nendo + 1}年度"
    )


# --- periodic work ---------------------------------------------------------------------------


def queue_due_reminders(*, now: dt.datetime | None = None) -> int:
    """Owe a reminder to each confirmed registrant of a training that starts in the next
    `reminder_days` days, but not on the day itself. A registration is claimed with a
    conditional UPDATE, so beat running twice (or on two machines) sends one reminder."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    tomorrow = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time()))
    horizon = tomorrow + dt.timedelta(days=31)
    trainings = Training.objects.filter(
        status__in=[Training.Status.PUBLISHED, Training.Status.CLOSED],
        starts_at__gte=tomorrow,
        starts_at__lt=horizon,
        reminder_days__gt=0,
    )
    queued = 0
    for training in trainings:
        start_day = timezone.localdate(training.starts_at)
        if (start_day - today).days > training.reminder_days:
            continue
        candidates = training.registrations.confirmed().filter(reminder_sent_at__isnull=True)
        for registration in candidates.select_related("contact"):
            with transaction.atomic():
                claimed = Registration.objects.filter(
                    pk=registration.pk,
                    status=Registration.Status.CONFIRMED,
                    reminder_sent_at__isnull=True,
                ).update(reminder_sent_at=now)
                if claimed:
                    _notify(registration, Notice.Kind.REMINDER)
                    queued += 1
    return queued


def close_due_trainings(*, now: dt.datetime | None = None) -> int:
    """Published trainings past their deadline close; trainings that have ended finish."""
    now = now or timezone.now()
    changed = Training.objects.filter(
        status__in=[Training.Status.PUBLISHED, Training.Status.CLOSED], ends_at__lt=now
    ).update(status=Training.Status.FINISHED, updated_at=now)
    for training in Training.objects.filter(status=Training.Status.PUBLISHED):
        if now >= training.registration_closes_at:
            changed += Training.objects.filter(
                pk=training.pk, status=Training.Status.PUBLISHED
            ).update(status=Training.Status.CLOSED, updated_at=now)
    return changed


# --- handing the mail that is owed to the postbox ---------------------------------------------
#
# The act writes a Notice row (cheap, inside its transaction, under the training's lock where
# it takes a seat); a worker renders it and queues it on the postbox (mail to one person: one
# message, retried, shown to the secretariat when it fails). Sending is the postbox's alone.

SENDER_FLAG = "events:notice-sender-queued"


def wake_notice_sender() -> None:
    """Queue the task that hands notices to the postbox unless one is queued already and has
    not started yet: one task per burst rather than one per notice. The task clears the flag
    before it looks for pending notices, so a notice committed before this call is always seen
    by a task that starts after it."""
    if cache.add(SENDER_FLAG, 1, timeout=60):
        send_training_notices_task.delay()


def deliver_pending_notices(*, limit: int = 1000) -> int:
    """Hand pending notices to the postbox, oldest first, each once. Safe to run in several
    workers at once."""
    cache.delete(SENDER_FLAG)
    pending = list(
        Notice.objects.filter(status=Notice.Status.PENDING)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(deliver_notice(notice_id) for notice_id in pending)


def deliver_notice(notice_id: int) -> bool:
    """Render one notice and queue it on the postbox, in one transaction, once. False when it
    was handed over already (or elsewhere meanwhile), or could not make a message."""
    from . import emails

    with transaction.atomic():
        # A second worker's UPDATE waits for this transaction and then finds the row taken.
        claimed = Notice.objects.filter(pk=notice_id, status=Notice.Status.PENDING).update(
            status=Notice.Status.SENT, sent_at=timezone.now()
        )
        if not claimed:
            return False
        notice = Notice.objects.select_related(
            "contact__member__local_government__prefecture",
            "registration__training__block",
            "registration__contact",
            "registration__member__local_government",
        ).get(pk=notice_id)
        try:
            with transaction.atomic():
                emails.queue_notice(notice)
                emails.queue_copies(notice)
        except ValidationError as exc:  # an address the postbox would not send to
            Notice.objects.filter(pk=notice_id).update(
                status=Notice.Status.FAILED, error=" ".join(exc.messages)[:300]
            )
            return False
    return True
