"""Every state change of mailing lists and bulletins. Each function is one transaction and
names the act; mail and other side effects are queued on commit.

For views, the admin and the portal (call these; never write mailing models directly):

Lists and subscriptions
  add_to_list(mailing_list, contact, *, by=None)         hand-add a contact outside the rule
  remove_from_list(mailing_list, contact, *, by=None)    undo a hand-add
  opt_out(mailing_list, contact, *, source, by=None)     the contact stops receiving the list;
                                                         survives any later rule change
  resubscribe(mailing_list, contact, *, source, by=None) undo an opt-out (or self-subscribe
                                                         where mailing_list.allow_self_subscribe)
  unsubscribe_by_token(token, *, source) -> UnsubscribeResult
      the one-click POST and the link page (GET shows, POST acts): idempotent, honoured at once,
      raises django.core.signing.BadSignature for a bad or expired token. The URL is
      tokens.unsubscribe_url(token) == /mail/unsubscribe/<token>/ (route it as
      `mailing:unsubscribe`; RFC 8058 POSTs `List-Unsubscribe=One-Click` to that same URL).
  read_unsubscribe_request(token) -> UnsubscribeResult   what a token would do (for the GET page)
  list_choices(contact) -> list[ListChoice]              the portal preference page; the page
                                                         lives at /mail/preferences/
                                                         (`mailing:preferences`)
  suppress_address(email, *, reason, by=None, note="") / unsuppress_address(email, *, by=None)

Bulletins
  save_bulletin(bulletin_or_None, *, mailing_list, subject, body, reply_to="", by=None)
      create or autosave; ValidationError for an unknown placeholder or once sending started
  preview_bulletin(bulletin, *, contact=None) -> sending.Rendered (subject, text, html, headers)
  archived_copy(bulletin) -> sending.Rendered             the archive's copy, addressed to 各位
  send_test_bulletin(bulletin, *, to, by=None)            a test copy, marked 【テスト送信】
  service_list(slug, *, name, description) -> MailingList  the list an app's addressed
                                                          bulletins go through
  send_addressed_bulletin(mailing_list, *, subject, body, contacts, by=None) -> Bulletin
      to the named people only, started at once; its archive copy is their members' alone
  start_bulletin(bulletin, *, by=None)                    send now; twice or from two places at
                                                          once still sends once
  schedule_bulletin(bulletin, *, at, by=None) / unschedule_bulletin(bulletin, *, by=None)
  pause_bulletin / resume_bulletin / cancel_bulletin(bulletin, *, by=None)

Reading
  bulletin_progress(bulletin) -> Progress                 one query; counts per status (tally)
  unreached_members(bulletin) -> QuerySet[Member]         members whose every address failed
  members_without_reachable_contact() -> QuerySet[Member] every contact suppressed or none
  audience.recipients(mailing_list) -> QuerySet[Contact]  who a send now would reach

The sending pipeline (called by mailing.tasks): snapshot_audience, drain_bulletin,
sweep_deliveries, start_due_bulletins; provider events: record_provider_event.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Concat, Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from association.models import Contact, Member, User
from association.privacy import address_hash, address_hashes
from association.services import audit, erased_email, normalise_email

from . import audience
from .builder import refuse_line_breaks
from .models import (
    Addressee,
    Bulletin,
    Delivery,
    DeliveryTally,
    Document,
    MailingList,
    ProviderEvent,
    Sender,
    Subscription,
    Suppression,
)
from .ratelimit import RateLimiter, messages_per_second
from .rendering import validate_placeholders
from .sending import (
    Composer,
    Outcome,
    Recipient,
    Rendered,
    open_transport,
    provider_key,
)
from .tokens import read_unsubscribe_token

logger = logging.getLogger(__name__)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# --- lists and subscriptions ---------------------------------------------------------------


def _set_subscription(
    mailing_list: MailingList,
    contact: Contact,
    status: str,
    *,
    source: str,
    by: User | None,
) -> Subscription:
    subscription, created = Subscription.objects.select_for_update().get_or_create(
        mailing_list=mailing_list,
        contact=contact,
        defaults={"status": status, "source": source, "changed_by": _actor(by)},
    )
    if not created and subscription.status != status:
        subscription.status = status
        subscription.source = source
        subscription.changed_by = _actor(by)
        subscription.save(update_fields=["status", "source", "changed_by", "updated_at"])
    return subscription


def _actor(by: User | None) -> User | None:
    return by if by is not None and by.is_authenticated else None


@transaction.atomic
def add_to_list(mailing_list: MailingList, contact: Contact, *, by: User | None = None) -> None:
    _set_subscription(mailing_list, contact, Subscription.Status.ADDED, source="secretariat", by=by)
    audit(
        by, "list_added", contact, f"{{contact}}（{contact.member}）: 「{mailing_list}」に手動登録"
    )


@transaction.atomic
def remove_from_list(
    mailing_list: MailingList, contact: Contact, *, by: User | None = None
) -> None:
    Subscription.objects.filter(
        mailing_list=mailing_list, contact=contact, status=Subscription.Status.ADDED
    ).delete()
    audit(
        by,
        "list_removed",
        contact,
        f"{{contact}}（{contact.member}）: 「{mailing_list}」の手動登録を解除",
    )


def _skip_pending(mailing_list: MailingList | None, email: str, reason: str) -> int:
    """An opt-out or a suppression is honoured at once, also by bulletins already sending: a
    row already claimed by a sender is taken from it too (the sender looks at its claimed rows
    every few messages and drops those that are no longer its own)."""
    pending = Delivery.objects.filter(email=email, status__in=Delivery.PENDING)
    if mailing_list is not None:
        pending = pending.filter(bulletin__mailing_list=mailing_list)
    return pending.update(
        status=Delivery.Status.SKIPPED,
        skip_reason=reason,
        claim_token="",
        updated_at=timezone.now(),
    )


@transaction.atomic
def opt_out(
    mailing_list: MailingList, contact: Contact, *, source: str, by: User | None = None
) -> None:
    _set_subscription(mailing_list, contact, Subscription.Status.OPTED_OUT, source=source, by=by)
    _skip_pending(mailing_list, contact.email, Delivery.SkipReason.OPTED_OUT)
    audit(
        by,
        "list_opted_out",
        contact,
        f"{{contact}}（{contact.member}）: 「{mailing_list}」の配信停止",
    )


@transaction.atomic
def resubscribe(
    mailing_list: MailingList, contact: Contact, *, source: str, by: User | None = None
) -> None:
    if contact.member.status != Member.Status.ACTIVE:
        raise ValidationError(
            _("会員団体の担当者の方のみメーリングリストに登録できます。"), code="not_member"
        )
    if audience.covers_by_rule(mailing_list, contact):
        Subscription.objects.filter(mailing_list=mailing_list, contact=contact).delete()
    elif mailing_list.allow_self_subscribe or (by is not None and by.is_staff):
        _set_subscription(mailing_list, contact, Subscription.Status.ADDED, source=source, by=by)
    else:
        raise ValidationError(_("このメーリングリストには登録できません。"), code="not_allowed")
    audit(
        by,
        "list_resubscribed",
        contact,
        f"{{contact}}（{contact.member}）: 「{mailing_list}」の配信を再開",
    )


@dataclass(frozen=True)
class UnsubscribeResult:
    mailing_list: MailingList
    email: str
    contacts: list[Contact]
    already: bool


def read_unsubscribe_request(token: str) -> UnsubscribeResult:
    request = read_unsubscribe_token(token)
    mailing_list = MailingList.objects.filter(pk=request.list_id).first()
    if mailing_list is None:
        raise signing.BadSignature("unknown list")
    contacts = list(Contact.objects.filter(email=request.email).select_related("member"))
    opted = set(
        Subscription.objects.filter(
            mailing_list=mailing_list,
            contact__in=contacts,
            status=Subscription.Status.OPTED_OUT,
        ).values_list("contact_id", flat=True)
    )
    return UnsubscribeResult(
        mailing_list=mailing_list,
        email=request.email,
        contacts=contacts,
        already=all(c.pk in opted for c in contacts),
    )


@transaction.atomic
def unsubscribe_by_token(token: str, *, source: str = "one_click") -> UnsubscribeResult:
    """Opt every contact with the token's address out of its list. Idempotent."""
    result = read_unsubscribe_request(token)
    for contact in result.contacts:
        _set_subscription(
            result.mailing_list, contact, Subscription.Status.OPTED_OUT, source=source, by=None
        )
    _skip_pending(result.mailing_list, result.email, Delivery.SkipReason.OPTED_OUT)
    if not result.already:
        for contact in result.contacts:
            audit(
                None,
                "list_opted_out",
                contact,
                f"{{contact}}（{contact.member}）: 「{result.mailing_list}」の配信停止",
            )
    return result


@dataclass(frozen=True)
class ListChoice:
    mailing_list: MailingList
    subscribed: bool
    by_rule: bool
    can_change: bool


def list_choices(contact: Contact) -> list[ListChoice]:
    """The lists a staff member sees on the portal preference page (none for the staff of a
    non-member municipality, whom no list reaches)."""
    if contact.member.status != Member.Status.ACTIVE:
        return []
    statuses = dict(
        Subscription.objects.filter(contact=contact).values_list("mailing_list_id", "status")
    )
    choices = []
    for mailing_list in MailingList.objects.filter(is_active=True).prefetch_related(
        "blocks", "prefectures"
    ):
        by_rule = audience.covers_by_rule(mailing_list, contact)
        status = statuses.get(mailing_list.pk)
        subscribed = status != Subscription.Status.OPTED_OUT and (
            by_rule or status == Subscription.Status.ADDED
        )
        if by_rule or status is not None or mailing_list.allow_self_subscribe:
            choices.append(
                ListChoice(
                    mailing_list=mailing_list,
                    subscribed=subscribed,
                    by_rule=by_rule,
                    can_change=by_rule or mailing_list.allow_self_subscribe or subscribed,
                )
            )
    return choices


def is_suppressed(email: str) -> bool:
    """Whether EMAIL may receive no bulletin (its row, or its hash under any current key)."""
    email = normalise_email(email)
    return Suppression.objects.filter(
        Q(email=email) | Q(email_hash__in=address_hashes(email))
    ).exists()


def _people_with(email_hash: str) -> dict[str, int]:
    ids = Contact.objects.filter(email_hash=email_hash).order_by("pk").values_list("pk", flat=True)
    return {("contact" if n == 0 else f"contact_{n + 1}"): pk for n, pk in enumerate(ids[:5])}


def _audit_suppression(by: User | None, action: str, suppression: Suppression, text: str) -> None:
    """Who changed the suppression list, when and what: the people with that address are
    linked by id (their names show to those who may see them); the address itself is named by
    its hash only, so that the log keeps no address after an erasure."""
    people = _people_with(suppression.email_hash)
    who = "、".join("{" + role + "}" for role in people) or _("担当者の登録がないアドレス")
    audit(
        by,
        action,
        suppression,
        f"{text}: {who}",
        people=people,
        reason=suppression.get_reason_display(),
        address_hash=suppression.email_hash[:16],
    )


@transaction.atomic
def suppress_address(
    email: str, *, reason: str, by: User | None = None, note: str = ""
) -> Suppression:
    email = normalise_email(email)
    email_hash = address_hash(email)
    suppression, created = Suppression.objects.get_or_create(
        email_hash=email_hash,
        defaults={"email": email, "reason": reason, "note": note[:300], "created_by": _actor(by)},
    )
    _skip_pending(None, email, Delivery.SkipReason.SUPPRESSED)
    if created:
        from . import emails

        _audit_suppression(by, "suppression_added", suppression, _("配信停止アドレスに登録"))
        members = list(
            Member.objects.filter(contacts__email_hash=email_hash)
            .values_list("pk", flat=True)
            .distinct()
        )
        if members:
            # In this transaction: the report and the suppression it reports commit together.
            emails.send_unreachable_members(members, email)
    return suppression


@transaction.atomic
def remove_suppression(suppression: Suppression, *, by: User | None = None) -> None:
    """The address may receive bulletins again (the secretariat's decision, audited)."""
    suppression = Suppression.objects.select_for_update().get(pk=suppression.pk)
    _audit_suppression(by, "suppression_removed", suppression, _("配信停止アドレスを解除"))
    suppression.delete()


def unsuppress_address(email: str, *, by: User | None = None) -> None:
    email = normalise_email(email)
    for suppression in Suppression.objects.filter(
        Q(email=email) | Q(email_hash=address_hash(email))
    ):
        remove_suppression(suppression, by=by)


def members_without_reachable_contact() -> QuerySet[Member]:
    reachable = Contact.objects.active().filter(member=OuterRef("pk"))
    reachable = reachable.exclude(
        Exists(Suppression.objects.matching(OuterRef("email"), OuterRef("email_hash")))
    )
    return Member.objects.active().exclude(Exists(reachable)).with_registry()


# --- bulletins: composing ------------------------------------------------------------------


@transaction.atomic
def save_bulletin(
    bulletin: Bulletin | None,
    *,
    mailing_list: MailingList,
    subject: str,
    body: str,
    reply_to: str = "",
    by: User | None = None,
) -> Bulletin:
    """Create a draft or save one (autosave calls this too)."""
    errors: dict[str, list[ValidationError]] = {}
    for name, value in (("subject", subject), ("body", body)):
        try:
            validate_placeholders(value)
        except ValidationError as exc:
            errors[name] = [exc]
    try:
        refuse_line_breaks(subject, field="subject", label=_("件名"))
    except ValidationError as exc:
        errors.setdefault("subject", []).extend(exc.error_dict["subject"])
    if errors:
        raise ValidationError(errors)
    if bulletin is None:
        return Bulletin.objects.create(
            mailing_list=mailing_list,
            subject=subject.strip(),
            body=body,
            reply_to=reply_to,
            created_by=_actor(by),
        )
    bulletin = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if not bulletin.is_editable:
        raise ValidationError(_("送信を始めた配信は編集できません。"), code="not_editable")
    bulletin.mailing_list = mailing_list
    bulletin.subject = subject.strip()
    bulletin.body = body
    bulletin.reply_to = reply_to
    bulletin.save(update_fields=["mailing_list", "subject", "body", "reply_to", "updated_at"])
    return bulletin


def preview_bulletin(bulletin: Bulletin, *, contact: Contact | None = None) -> Rendered:
    """The message as CONTACT (or 各位) would get it."""
    composer = Composer(bulletin)
    if contact is None:
        return composer.render(Recipient(email="example@example.jp"))
    contact = Contact.objects.select_related("member__local_government__prefecture").get(
        pk=contact.pk
    )
    return composer.render(Recipient.of_contact(contact))


def archived_copy(bulletin: Bulletin) -> Rendered:
    """What was sent, frozen at the start, addressed to 各位 (no personal data)."""
    if bulletin.sent_text:
        return Rendered(
            subject=bulletin.sent_subject, text=bulletin.sent_text, html=bulletin.sent_html
        )
    return _group_copy(bulletin)


def _group_copy(bulletin: Bulletin) -> Rendered:
    rendered = Composer(bulletin, archive=True).render(Recipient(email=""))
    return Rendered(subject=rendered.subject, text=rendered.text, html=rendered.html)


def fill_bulletin_search_text(**_signal: Any) -> int:
    """post_migrate: give bulletins started before the search column existed their folded
    search_text (a migration never imports the folding rule). A bulletin from before the sent_*
    copy is folded from the copy the archive shows instead. Cheap once filled: one query."""
    from association.search import search_text

    changed = []
    started = Bulletin.objects.filter(search_text="", started_at__isnull=False)
    for bulletin in started.select_related("mailing_list").iterator(chunk_size=500):
        copy = archived_copy(bulletin)
        bulletin.search_text = search_text(copy.subject, copy.text)
        changed.append(bulletin)
    Bulletin.objects.bulk_update(changed, ["search_text"], batch_size=500)
    return len(changed)


@transaction.atomic
def send_test_bulletin(bulletin: Bulletin, *, to: str, by: User | None = None) -> Bulletin:
    """A test copy, marked 【テスト送信】, sent by a worker exactly as a real delivery is (the
    same composer, transport and error rule); its outcome is written on the bulletin, and the
    compose page shows it: accepted by the provider, or the reason in Japanese."""
    from .tasks import send_test_bulletin_task

    validate_placeholders(bulletin.body)
    if is_suppressed(to):
        raise ValidationError(
            _("%(email)s は配信停止アドレスに登録されているため、テスト送信できません。")
            % {"email": normalise_email(to)},
            code="suppressed",
        )
    bulletin = _lock(bulletin)
    bulletin.test_state = Bulletin.TestState.SENDING
    bulletin.test_result = ""
    bulletin.test_requested_at = timezone.now()
    bulletin.save(update_fields=["test_state", "test_result", "test_requested_at"])
    send_test_bulletin_task.delay_on_commit(bulletin.pk, normalise_email(to))
    return bulletin


def send_test_message(bulletin_id: int, to: str) -> Outcome:
    """Send the test copy through the bulletin's own transport and record what happened."""
    bulletin = Bulletin.objects.select_related("mailing_list").get(pk=bulletin_id)
    contact = (
        Contact.objects.active()
        .filter(email=to)
        .select_related("member__local_government__prefecture")
        .first()
    )
    recipient = Recipient.of_contact(contact) if contact else Recipient(email=to)
    # The same builder and transport as the real send, marked 【テスト送信】.
    composer = Composer(bulletin, test=True)
    transport = open_transport()
    try:
        [outcome] = transport.send(composer, [recipient])
    except Exception as exc:  # whatever broke, the person at the compose page is told
        logger.exception("test send of bulletin %s failed", bulletin_id)
        outcome = Outcome("failed", error=f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        transport.close()
    if outcome.kind == "sent":
        state, result = Bulletin.TestState.SENT, ""
    else:
        state = Bulletin.TestState.FAILED
        result = outcome.reason or _("メールを送れませんでした（%(error)s）。") % {
            "error": outcome.error[:300]
        }
    Bulletin.objects.filter(pk=bulletin_id).update(test_state=state, test_result=result)
    return outcome


TEST_RESULT_LATE = dt.timedelta(minutes=2)


def test_send_label(bulletin: Bulletin, *, now: dt.datetime | None = None) -> str:
    """What the compose page says of the last test send."""
    if not bulletin.test_state or bulletin.test_requested_at is None:
        return ""
    at = timezone.localtime(bulletin.test_requested_at).strftime("%H:%M:%S")
    if bulletin.test_state == Bulletin.TestState.SENT:
        return _("テスト送信（%(at)s）: 配信業者が受け付けました。") % {"at": at}
    if bulletin.test_state == Bulletin.TestState.FAILED:
        return _("テスト送信（%(at)s）: 送れませんでした。理由: %(reason)s") % {
            "at": at,
            "reason": bulletin.test_result,
        }
    if (now or timezone.now()) - bulletin.test_requested_at > TEST_RESULT_LATE:
        return _(
            "テスト送信（%(at)s）: 結果がまだ届いていません。送信処理（ワーカー）が"
            "動いているか確認してください。"
        ) % {"at": at}
    return _("テスト送信（%(at)s）: 送信しています…") % {"at": at}


@transaction.atomic
def service_list(slug: str, *, name: str, description: str) -> MailingList:
    """The list another app sends its addressed bulletins through (a 照会's requests), made on
    first use. Its rule reaches no one, so nothing goes to it but to named people; the
    secretariat may rename it or change its texts in the admin, and an addressee may leave
    it with its unsubscribe link like any list."""
    mailing_list, _created = MailingList.objects.get_or_create(
        slug=slug, defaults={"name": name, "description": description, "subject_prefix": ""}
    )
    return mailing_list


@transaction.atomic
def send_addressed_bulletin(
    mailing_list: MailingList,
    *,
    subject: str,
    body: str,
    contacts: list[Contact],
    by: User | None = None,
) -> Bulletin | None:
    """A bulletin of MAILING_LIST to CONTACTS only (each a row with their member), started at
    once: it goes through the pipeline as any bulletin (the list's From, List-Id and
    List-Unsubscribe, one Delivery per address, retries, provider events) and its archive
    copy is shown to the addressed members' staff only. None when there is no one to send to.
    The bulletin and its addressees are written together, so no snapshot can see the one
    without the other."""
    people = {c.pk: c for c in contacts}
    if not people:
        return None
    bulletin = save_bulletin(None, mailing_list=mailing_list, subject=subject, body=body, by=by)
    Bulletin.objects.filter(pk=bulletin.pk).update(addressed=True)
    Addressee.objects.bulk_create(
        [Addressee(bulletin=bulletin, contact=c, member_id=c.member_id) for c in people.values()],
        ignore_conflicts=True,
    )
    return start_bulletin(bulletin, by=by)


# --- bulletins: starting, scheduling, pausing ----------------------------------------------


def _lock(bulletin: Bulletin) -> Bulletin:
    return Bulletin.objects.select_for_update().select_related("mailing_list").get(pk=bulletin.pk)


@transaction.atomic
def start_bulletin(bulletin: Bulletin, *, by: User | None = None) -> Bulletin:
    """Send now. Only a draft or a scheduled bulletin starts; anything else is a no-op, so two
    clicks, or a click and the scheduler, still send once."""
    from .tasks import snapshot_bulletin_task

    bulletin = _lock(bulletin)
    if bulletin.status not in Bulletin.EDITABLE:
        return bulletin
    validate_placeholders(bulletin.subject)
    validate_placeholders(bulletin.body)
    now = timezone.now()
    frozen = _group_copy(bulletin)
    bulletin.status = Bulletin.Status.SENDING
    bulletin.started_at = now
    bulletin.last_activity_at = now
    bulletin.sent_subject = frozen.subject
    bulletin.sent_text = frozen.text
    bulletin.sent_html = frozen.html
    bulletin.search_text = bulletin.folded()
    bulletin.save(
        update_fields=[
            "status",
            "started_at",
            "last_activity_at",
            "sent_subject",
            "sent_text",
            "sent_html",
            "search_text",
            "updated_at",
        ]
    )
    audit(by, "bulletin_started", bulletin, f"配信「{bulletin.subject}」の送信を開始")
    snapshot_bulletin_task.delay_on_commit(bulletin.pk)
    return bulletin


@transaction.atomic
def schedule_bulletin(bulletin: Bulletin, *, at: dt.datetime, by: User | None = None) -> Bulletin:
    if timezone.is_naive(at):
        raise ValueError("a schedule time must be timezone-aware")
    bulletin = _lock(bulletin)
    if not bulletin.is_editable:
        raise ValidationError(_("送信を始めた配信は予約できません。"), code="not_editable")
    validate_placeholders(bulletin.subject)
    validate_placeholders(bulletin.body)
    bulletin.status = Bulletin.Status.SCHEDULED
    bulletin.scheduled_at = at
    bulletin.save(update_fields=["status", "scheduled_at", "updated_at"])
    audit(
        by,
        "bulletin_scheduled",
        bulletin,
        f"配信「{bulletin.subject}」を {at:%Y-%m-%d %H:%M} に予約",
    )
    return bulletin


@transaction.atomic
def unschedule_bulletin(bulletin: Bulletin, *, by: User | None = None) -> Bulletin:
    bulletin = _lock(bulletin)
    if bulletin.status == Bulletin.Status.SCHEDULED:
        bulletin.status = Bulletin.Status.DRAFT
        bulletin.save(update_fields=["status", "updated_at"])
    return bulletin


@transaction.atomic
def pause_bulletin(bulletin: Bulletin, *, by: User | None = None) -> Bulletin:
    """Senders stop within a second or a few messages and hand back what they claimed but
    did not send; the bulletin shows 一時停止中 once none of them holds a delivery."""
    bulletin = _lock(bulletin)
    if bulletin.status == Bulletin.Status.SENDING:
        bulletin.status = Bulletin.Status.PAUSING
        bulletin.save(update_fields=["status", "updated_at"])
        audit(by, "bulletin_paused", bulletin, f"配信「{bulletin.subject}」を一時停止")
        if settle_held_bulletin(bulletin.pk):
            bulletin.status = Bulletin.Status.PAUSED
    return bulletin


@transaction.atomic
def resume_bulletin(bulletin: Bulletin, *, by: User | None = None) -> Bulletin:
    """Continue where it stopped (also while senders are still stopping: those that have not
    yet noticed the pause simply go on)."""
    bulletin = _lock(bulletin)
    if bulletin.status not in (Bulletin.Status.PAUSING, Bulletin.Status.PAUSED):
        return bulletin
    bulletin.status = Bulletin.Status.SENDING
    bulletin.last_activity_at = timezone.now()
    bulletin.save(update_fields=["status", "last_activity_at", "updated_at"])
    audit(by, "bulletin_resumed", bulletin, f"配信「{bulletin.subject}」を再開")
    _wake_senders(bulletin)
    return bulletin


def _wake_senders(bulletin: Bulletin) -> None:
    from .tasks import send_bulletin_task, snapshot_bulletin_task

    if bulletin.snapshot_at is None:
        snapshot_bulletin_task.delay_on_commit(bulletin.pk)
    else:
        for _i in range(_senders()):
            send_bulletin_task.delay_on_commit(bulletin.pk)


@transaction.atomic
def cancel_bulletin(bulletin: Bulletin, *, by: User | None = None) -> Bulletin:
    """Nothing more goes out; messages already handed to the provider stay sent. Rows a sender
    holds are cancelled by that sender within a second or a few messages (or by the sweeper
    if the sender died)."""
    bulletin = _lock(bulletin)
    if bulletin.status in (Bulletin.Status.SENT, Bulletin.Status.CANCELLED):
        return bulletin
    now = timezone.now()
    bulletin.status = Bulletin.Status.CANCELLED
    bulletin.finished_at = now
    bulletin.save(update_fields=["status", "finished_at", "updated_at"])
    bulletin.deliveries.filter(status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.CANCELLED, updated_at=now
    )
    audit(by, "bulletin_cancelled", bulletin, f"配信「{bulletin.subject}」を中止")
    return bulletin


@transaction.atomic
def resend_failed_deliveries(bulletin: Bulletin, *, by: User | None = None) -> int:
    """After the cause of a stop (or of failures) was fixed: the failed deliveries, and only
    those, are queued again with fresh attempts, and the bulletin goes on sending what was
    still waiting. Returns the number of deliveries queued again."""
    bulletin = _lock(bulletin)
    if bulletin.status not in (Bulletin.Status.FAILED, Bulletin.Status.SENT):
        raise ValidationError(
            _("送信が終わったか、エラーで停止した配信だけ再送できます。"), code="not_stopped"
        )
    now = timezone.now()
    again = bulletin.deliveries.filter(status=Delivery.Status.FAILED).update(
        status=Delivery.Status.QUEUED,
        attempts=0,
        next_attempt_at=None,
        claim_token="",
        claimed_at=None,
        error="",
        updated_at=now,
    )
    if not again and bulletin.status == Bulletin.Status.SENT:
        return 0
    bulletin.status = Bulletin.Status.SENDING
    bulletin.failure_reason = ""
    bulletin.finished_at = None
    bulletin.last_activity_at = now
    bulletin.save(
        update_fields=["status", "failure_reason", "finished_at", "last_activity_at", "updated_at"]
    )
    audit(
        by,
        "bulletin_resent",
        bulletin,
        f"配信「{bulletin.subject}」の送信失敗分 {again} 件を再送",
    )
    _wake_senders(bulletin)
    return again


def settle_held_bulletin(bulletin_id: int) -> bool:
    """A pausing bulletin becomes 一時停止中 once no sender holds any of its deliveries.
    Called by each sender as it stops, and by the sweeper. Returns True if it changed."""
    holding = Delivery.objects.filter(bulletin_id=OuterRef("pk"), status=Delivery.Status.SENDING)
    changed = (
        Bulletin.objects.filter(pk=bulletin_id, status=Bulletin.Status.PAUSING)
        .exclude(Exists(holding))
        .update(status=Bulletin.Status.PAUSED, updated_at=timezone.now())
    )
    return bool(changed)


# --- progress and reports ------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __getattr__(self, name: str) -> int:
        if name in Delivery.Status.values:
            return self.counts.get(name, 0)
        raise AttributeError(name)

    @property
    def waiting(self) -> int:
        return self.counts.get("queued", 0) + self.counts.get("sending", 0)

    @property
    def succeeded(self) -> int:
        return self.counts.get("sent", 0) + self.counts.get("delivered", 0)

    @property
    def done_fraction(self) -> float:
        return 1.0 if not self.total else 1 - self.waiting / self.total


def bulletin_progress(bulletin: Bulletin) -> Progress:
    """Counts per status from the tally the database keeps (models.DeliveryTally), not a count
    of the deliveries: a poll during a send of 100,000 reads a few rows."""
    return Progress(counts=DeliveryTally.objects.counts(bulletin.pk))


def unreached_members(bulletin: Bulletin) -> QuerySet[Member]:
    """Members that were in the audience but none of whose addresses got the bulletin: one
    pass over the bulletin's deliveries grouped by member (not a search of them per member)."""
    received = Count("pk", filter=Q(status__in=[Delivery.Status.SENT, Delivery.Status.DELIVERED]))
    unreached = (
        Delivery.objects.filter(bulletin=bulletin, member__isnull=False)
        .values("member")
        .annotate(received=received)
        .filter(received=0)
        .values("member")
    )
    return Member.objects.filter(pk__in=unreached).with_registry()


# --- the sending pipeline ------------------------------------------------------------------


def _senders() -> int:
    return int(_setting("MAILING_SENDERS", 4))


def _claim_timeout() -> float:
    return float(_setting("MAILING_CLAIM_TIMEOUT", 120))


# Addresses that can receive come first, so that an address shared by two contacts is queued
# (the first row wins the unique constraint), not skipped.
SNAPSHOT_ORDER = ("opted_out", "suppressed", "member_id", "role", "pk")
# Delivery column -> expression over audience.candidates(); see _snapshot_select().
SNAPSHOT_COLUMNS = (
    "bulletin_id",
    "email",
    "contact_id",
    "member_id",
    "recipient_name",
    "organisation",
    "department",
    "status",
    "skip_reason",
    "attempts",
    "soft_bounces",
    "claim_token",
    "message_id",
    "provider_message_id",
    "error",
    "updated_at",
)


def _snapshot_select(bulletin: Bulletin) -> QuerySet[Contact, tuple[Any, ...]]:
    lg = "member__local_government__"
    return (
        audience.bulletin_candidates(bulletin)
        .annotate(
            s_bulletin=Value(bulletin.pk),
            s_email=Lower("email"),
            s_contact=F("pk"),
            s_member=F("member_id"),
            s_name=F("name"),
            s_org=Case(
                When(**{f"{lg}kind": "prefecture"}, then=F(f"{lg}name")),
                default=Concat(F(f"{lg}prefecture__name"), F(f"{lg}name")),
                output_field=CharField(),
            ),
            s_dept=F("department"),
            s_status=Case(
                When(Q(suppressed=True) | Q(opted_out=True), then=Value(Delivery.Status.SKIPPED)),
                default=Value(Delivery.Status.QUEUED),
                output_field=CharField(),
            ),
            s_skip=Case(
                When(suppressed=True, then=Value(Delivery.SkipReason.SUPPRESSED)),
                When(opted_out=True, then=Value(Delivery.SkipReason.OPTED_OUT)),
                default=Value(""),
                output_field=CharField(),
            ),
            s_zero=Value(0),
            s_zero2=Value(0),
            s_blank=Value(""),
            s_blank2=Value(""),
            s_blank3=Value(""),
            s_blank4=Value(""),
            s_now=Value(timezone.now(), output_field=DateTimeField()),
        )
        .order_by(*SNAPSHOT_ORDER)
        .values_list(
            "s_bulletin",
            "s_email",
            "s_contact",
            "s_member",
            "s_name",
            "s_org",
            "s_dept",
            "s_status",
            "s_skip",
            "s_zero",
            "s_zero2",
            "s_blank",
            "s_blank2",
            "s_blank3",
            "s_blank4",
            "s_now",
        )
    )


def snapshot_audience(bulletin_id: int) -> int:
    """Expand the list's audience into one Delivery per normalised address, in one
    INSERT … SELECT inside the database. Safe to run twice or concurrently: the unique
    (bulletin, email) constraint keeps the first row and the rest are ignored. Returns the
    number of rows created."""
    from .tasks import send_bulletin_task

    bulletin = Bulletin.objects.select_related("mailing_list").get(pk=bulletin_id)
    if bulletin.status not in (Bulletin.Status.SENDING, *Bulletin.HELD):
        return 0
    select_sql, params = _snapshot_select(bulletin).query.sql_with_params()
    table = connection.ops.quote_name(Delivery._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in SNAPSHOT_COLUMNS)
    if connection.vendor == "sqlite":
        sql = f"INSERT OR IGNORE INTO {table} ({columns}) {select_sql}"
    else:
        sql = f"INSERT INTO {table} ({columns}) {select_sql} ON CONFLICT DO NOTHING"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        created = max(cursor.rowcount, 0)
    with transaction.atomic():
        Bulletin.objects.filter(pk=bulletin.pk, snapshot_at__isnull=True).update(
            snapshot_at=timezone.now()
        )
        for _i in range(_senders()):
            send_bulletin_task.delay_on_commit(bulletin.pk)
    return created


def claim_deliveries(
    bulletin_id: int, *, limit: int, token: str | None = None
) -> tuple[str, list[Delivery]]:
    """Take up to LIMIT due rows under TOKEN (the sender's lease) in one short transaction.
    Rows another worker holds are skipped (PostgreSQL: SKIP LOCKED; SQLite: the immediate
    transaction's lock)."""
    token = token or uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        if not Bulletin.objects.filter(pk=bulletin_id, status=Bulletin.Status.SENDING).exists():
            return token, []
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(bulletin_id=bulletin_id, status=Delivery.Status.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return token, []
        Delivery.objects.filter(pk__in=ids, status=Delivery.Status.QUEUED).update(
            status=Delivery.Status.SENDING,
            claim_token=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    rows = list(
        Delivery.objects.filter(
            bulletin_id=bulletin_id, status=Delivery.Status.SENDING, claim_token=token
        ).order_by("pk")
    )
    return token, rows


def _release(token: str, ids: list[int], bulletin_status: str) -> int:
    """Hand back rows claimed under TOKEN but not sent, as the bulletin's state says: a
    cancelled bulletin's are cancelled, any other's wait in the queue (a paused one's for
    再開). Their claim's attempt is taken back: nothing was tried."""
    if not ids:
        return 0
    mine = Delivery.objects.filter(pk__in=ids, claim_token=token, status=Delivery.Status.SENDING)
    now = timezone.now()
    if bulletin_status == Bulletin.Status.CANCELLED:
        return mine.update(
            status=Delivery.Status.CANCELLED, claim_token="", claimed_at=None, updated_at=now
        )
    return mine.update(
        status=Delivery.Status.QUEUED,
        claim_token="",
        claimed_at=None,
        attempts=F("attempts") - 1,
        updated_at=now,
    )


def _sender_timeout() -> float:
    return float(_setting("MAILING_SENDER_TIMEOUT", 5))


class _Lease:
    """A send task's hold on its claims: a Sender row under the task's token, kept alive by a
    thread that beats every second for as long as the task runs (also while the main thread
    waits on a slow mail server). When the process dies the beats stop, and the sweeper
    releases the claims after MAILING_SENDER_TIMEOUT seconds instead of the claim timeout.

    Inside a transaction (an in-process test) a thread cannot see the row; the sender's own
    loop beats instead, at each look at the bulletin's state."""

    def __init__(self, bulletin_id: int) -> None:
        self.token = uuid.uuid4().hex
        self.bulletin_id = bulletin_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        Sender.objects.create(
            token=self.token,
            bulletin_id=bulletin_id,
            worker=f"{socket.gethostname()}:{os.getpid()}"[:200],
            beat_at=timezone.now(),
        )
        if not connection.in_atomic_block:
            self._thread = threading.Thread(
                target=self._run, name=f"sender-beat-{self.token[:8]}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        every = max(min(_sender_timeout() / 5, 1.0), 0.05)
        try:
            while not self._stop.wait(every):
                try:
                    self._beat()
                except DatabaseError:
                    logger.warning("sender %s could not beat", self.token, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections

    def _beat(self) -> None:
        Sender.objects.filter(token=self.token).update(beat_at=timezone.now())

    def beat_if_threadless(self) -> None:
        if self._thread is None:
            self._beat()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        Sender.objects.filter(token=self.token).delete()


class _Watch:
    """How a sender notices, while it sends a chunk, that it should stop or drop a row: it
    looks at the bulletin's state and at which of its rows are still its own before every
    MAILING_CHECK_EVERY messages and at least every MAILING_CHECK_SECONDS. A pause or a
    cancel is thus honoured within a few messages per sender, and an opt-out, an erasure or a
    release by the sweeper reaches a row already claimed."""

    def __init__(self, bulletin_id: int, lease: _Lease) -> None:
        self.bulletin_id = bulletin_id
        self.lease = lease
        self.every = max(int(_setting("MAILING_CHECK_EVERY", 10)), 1)
        self.seconds = float(_setting("MAILING_CHECK_SECONDS", 1.0))
        self.since = 0
        self.at = time.monotonic()
        self.claim_beat = time.monotonic()

    def due(self, count: int) -> bool:
        return self.since + count > self.every or time.monotonic() - self.at >= self.seconds

    def sent(self, count: int) -> None:
        self.since += count

    def check(self, ids: list[int]) -> tuple[str, set[int]]:
        """The bulletin's state, and which of IDS are no longer this sender's to send."""
        self.since = 0
        self.at = time.monotonic()
        self.lease.beat_if_threadless()
        mine = Delivery.objects.filter(
            pk__in=ids, claim_token=self.lease.token, status=Delivery.Status.SENDING
        )
        if time.monotonic() - self.claim_beat > _claim_timeout() / 3:
            # Still working on them: keep the claim timeout (the last resort for a sender
            # whose beat goes on while its sending is stuck) off the rest of this chunk.
            mine.update(claimed_at=timezone.now())
            self.claim_beat = time.monotonic()
        # One query while all is well: the rows still ours, of a bulletin still sending.
        kept = set(
            mine.filter(bulletin__status=Bulletin.Status.SENDING).values_list("pk", flat=True)
        )
        if kept:
            return Bulletin.Status.SENDING, set(ids) - kept
        status = (
            Bulletin.objects.filter(pk=self.bulletin_id).values_list("status", flat=True).first()
        ) or Bulletin.Status.CANCELLED
        if status != Bulletin.Status.SENDING:
            return status, set()
        return status, set(ids)


def _record(token: str, delivery: Delivery, outcome: Outcome) -> None:
    now = timezone.now()
    mine = Delivery.objects.filter(
        pk=delivery.pk, claim_token=token, status=Delivery.Status.SENDING
    )
    if outcome.kind == "sent":
        mine.update(
            status=Delivery.Status.SENT,
            sent_at=now,
            message_id=outcome.message_id,
            provider_message_id=outcome.provider_message_id,
            claim_token="",
            error="",
            updated_at=now,
        )
    elif outcome.kind == "retry" and delivery.attempts < int(_setting("MAILING_MAX_ATTEMPTS", 6)):
        base = float(_setting("MAILING_RETRY_SECONDS", 60))
        delay = max(outcome.retry_after or 0.0, base * 2 ** (delivery.attempts - 1))
        mine.update(
            status=Delivery.Status.QUEUED,
            next_attempt_at=now + dt.timedelta(seconds=min(delay, 6 * 3600)),
            claim_token="",
            error=outcome.reason or outcome.error,
            updated_at=now,
        )
    else:
        error = outcome.reason or outcome.error
        if outcome.kind == "retry":
            error = _("%(n)d回試みて送れませんでした: %(error)s") % {
                "n": delivery.attempts,
                "error": error,
            }
        mine.update(status=Delivery.Status.FAILED, claim_token="", error=error, updated_at=now)


class _Recorder:
    """Writes outcomes as they come: failures and retries at once, successes a few at a time
    (one UPDATE per RECORD_EVERY messages or per half second), so a killed worker re-sends at
    most that handful, all of them still in its claimed chunk."""

    def __init__(self, token: str, *, at_least: int = 1) -> None:
        self.token = token
        self.every = max(int(_setting("MAILING_RECORD_EVERY", 25)), at_least)
        self.sent: list[tuple[int, Outcome]] = []
        self.since = time.monotonic()

    def add(self, delivery: Delivery, outcome: Outcome) -> None:
        if outcome.kind != "sent":
            _record(self.token, delivery, outcome)
            return
        self.sent.append((delivery.pk, outcome))
        if len(self.sent) >= self.every:
            self.flush()

    def tick(self) -> None:
        if time.monotonic() - self.since > 0.5:
            self.flush()

    def flush(self) -> None:
        self.since = time.monotonic()
        if not self.sent:
            return
        # One UPDATE … FROM (VALUES …) for the lot (PostgreSQL and SQLite ≥ 3.33): a CASE per
        # row would make a batch of 1,000 cost a million comparisons.
        now = timezone.now()
        table = connection.ops.quote_name(Delivery._meta.db_table)
        values = ", ".join(["(%s, %s, %s)"] * len(self.sent))
        sql = (
            f"UPDATE {table} SET status = %s, sent_at = %s, updated_at = %s, claim_token = '', "
            "error = '', message_id = v.mid, provider_message_id = v.pmid "
            "FROM (SELECT column1 AS did, column2 AS mid, column3 AS pmid "
            f"FROM (VALUES {values}) AS x) AS v "
            f"WHERE {table}.id = v.did AND {table}.claim_token = %s AND {table}.status = %s"
        )
        params: list[Any] = [Delivery.Status.SENT, now, now]
        for pk, outcome in self.sent:
            params += [pk, outcome.message_id, outcome.provider_message_id]
        params += [self.token, Delivery.Status.SENDING]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        self.sent = []


def drain_bulletin(bulletin_id: int, *, budget: float | None = None) -> bool:
    """Claim and send chunks until nothing is due, the bulletin is paused, cancelled or
    stopped, or the time budget is spent. Returns True if it stopped with work left (the
    caller queues another round)."""
    budget = float(budget if budget is not None else _setting("MAILING_DRAIN_SECONDS", 60))
    bulletin = Bulletin.objects.select_related("mailing_list").get(pk=bulletin_id)
    if bulletin.status != Bulletin.Status.SENDING:
        settle_held_bulletin(bulletin_id)
        return False
    composer = Composer(bulletin)
    transport = open_transport()
    limiter = RateLimiter(provider_key(), messages_per_second())
    chunk = max(int(_setting("MAILING_CHUNK_SIZE", 100)), transport.batch_size)
    deadline = time.monotonic() + budget
    more = False
    stopped = False
    lease = _Lease(bulletin_id)
    breaker = _Breaker(bulletin_id)
    try:
        while True:
            if time.monotonic() >= deadline:
                more = True
                break
            _token, rows = claim_deliveries(bulletin_id, limit=chunk, token=lease.token)
            if not rows:
                break
            stopped = not _send_chunk(lease, breaker, composer, transport, limiter, rows)
            Bulletin.objects.filter(pk=bulletin_id).update(last_activity_at=timezone.now())
            if stopped:
                break
    finally:
        transport.close()
        lease.close()
    if stopped:
        settle_held_bulletin(bulletin_id)
    finish_if_done(bulletin_id)
    return more


def _send_chunk(
    lease: _Lease,
    breaker: _Breaker,
    composer: Composer,
    transport: Any,
    limiter: RateLimiter,
    rows: list[Delivery],
) -> bool:
    """Send the claimed ROWS; returns False if the bulletin stopped meanwhile (what was not
    sent is handed back as its state says)."""
    step = transport.batch_size
    # The chunk's list-link tokens in two queries, not two per message.
    composer.prepare([Recipient.of_delivery(d) for d in rows])
    recorder = _Recorder(lease.token, at_least=step)
    watch = _Watch(composer.bulletin.pk, lease)
    rows = list(rows)
    index = 0
    while index < len(rows):
        part = rows[index : index + step]
        if watch.due(len(part)):
            recorder.flush()
            status, gone = watch.check([r.pk for r in rows[index:]])
            if status != Bulletin.Status.SENDING:
                _release(lease.token, [r.pk for r in rows[index:] if r.pk not in gone], status)
                return False
            if gone:
                rows = rows[:index] + [r for r in rows[index:] if r.pk not in gone]
                continue
        limiter.acquire(len(part))
        outcomes = transport.send(composer, [Recipient.of_delivery(d) for d in part])
        watch.sent(len(part))
        for delivery, outcome in zip(part, outcomes, strict=True):
            recorder.add(delivery, outcome)
            breaker.add(outcome)
        recorder.tick()
        index += step
        if breaker.tripped():
            recorder.flush()
            _release(lease.token, [r.pk for r in rows[index:]], Bulletin.Status.FAILED)
            return False
    recorder.flush()
    return True


def _fail_fast() -> int:
    return int(_setting("MAILING_FAIL_FAST", 20))


def _without_addresses(error: str) -> str:
    """A server's reply without the addresses it may name: what two failures of one cause
    have in common, and what may be shown to any secretariat account (a bulletin's stop
    reason names nobody)."""
    return ADDRESS_RE.sub(_("（宛先）"), error).strip()


ADDRESS_RE = re.compile(r"<?[^\s<>'\"]+@[^\s<>'\"]+>?")


class _Breaker:
    """A bulletin whose first deliveries all fail for the same permanent reason (a sender
    address the relay refuses, a broken setting) stops by itself after MAILING_FAIL_FAST of
    them instead of failing every recipient. A sender that has seen one success knows the
    bulletin can send, and asks no more."""

    def __init__(self, bulletin_id: int) -> None:
        self.bulletin_id = bulletin_id
        self.limit = _fail_fast()
        self.succeeded = self.limit <= 0
        self.failures = 0

    def add(self, outcome: Outcome) -> None:
        if outcome.kind == "sent":
            self.succeeded = True
        elif outcome.kind == "failed":
            self.failures += 1

    def tripped(self) -> bool:
        if self.succeeded or not self.failures:
            return False
        self.failures = 0
        return stop_failing_bulletin(self.bulletin_id, limit=self.limit)


def stop_failing_bulletin(bulletin_id: int, *, limit: int) -> bool:
    """Mark the bulletin failed if it has no success yet and at least LIMIT failed deliveries,
    all for the same reason; tell the secretariat (mail through the postbox, in the same
    transaction; the admin shows a banner). True if it was stopped now."""
    from . import emails

    with transaction.atomic():
        bulletin = (
            Bulletin.objects.select_for_update()
            .filter(pk=bulletin_id, status=Bulletin.Status.SENDING)
            .first()
        )
        if bulletin is None:
            return False
        deliveries = Delivery.objects.filter(bulletin_id=bulletin_id)
        if deliveries.filter(status__in=SUCCEEDED).exists():
            return False
        errors = list(
            deliveries.filter(status=Delivery.Status.FAILED)
            .order_by("pk")
            .values_list("error", flat=True)[: limit * 10]
        )
        if len(errors) < limit or len({_without_addresses(e) for e in errors}) != 1:
            return False
        bulletin.status = Bulletin.Status.FAILED
        bulletin.failure_reason = _without_addresses(errors[0])
        bulletin.last_activity_at = timezone.now()
        bulletin.save(update_fields=["status", "failure_reason", "last_activity_at", "updated_at"])
        audit(
            None,
            "bulletin_failed",
            bulletin,
            f"配信「{bulletin.subject}」は最初の {len(errors)} 件がすべて同じ理由で送れず停止",
        )
        emails.send_bulletin_stopped(bulletin, failed=len(errors))
    logger.error("bulletin %s stopped: %s", bulletin_id, bulletin.failure_reason)
    return True


SUCCEEDED = (Delivery.Status.SENT, Delivery.Status.DELIVERED)


def finish_if_done(bulletin_id: int) -> bool:
    with transaction.atomic():
        bulletin = Bulletin.objects.select_for_update().get(pk=bulletin_id)
        if bulletin.status != Bulletin.Status.SENDING or bulletin.snapshot_at is None:
            return False
        if bulletin.deliveries.filter(status__in=Delivery.PENDING).exists():
            return False
        bulletin.status = Bulletin.Status.SENT
        bulletin.finished_at = timezone.now()
        bulletin.save(update_fields=["status", "finished_at", "updated_at"])
    logger.info("bulletin %s sent", bulletin_id)
    return True


@dataclass
class SweepResult:
    linked_events: int = 0
    released: int = 0
    failed: int = 0
    cancelled: int = 0
    restarted: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)


def release_orphaned_claims(*, now: dt.datetime | None = None) -> SweepResult:
    """Claims whose sender is gone go back as their bulletin's state says: a sender that has
    not beaten for MAILING_SENDER_TIMEOUT seconds (killed, its machine lost) or whose claim is
    older than MAILING_CLAIM_TIMEOUT (stuck) holds nothing any more. A cancelled bulletin's
    rows are cancelled; a paused one's wait for 再開; others are sent again (or fail once
    they used up their attempts)."""
    now = now or timezone.now()
    result = SweepResult()
    alive = Sender.objects.filter(
        token=OuterRef("claim_token"),
        beat_at__gte=now - dt.timedelta(seconds=_sender_timeout()),
    )
    stale = now - dt.timedelta(seconds=_claim_timeout())
    max_attempts = int(_setting("MAILING_MAX_ATTEMPTS", 6))
    with transaction.atomic():
        lost = Delivery.objects.filter(status=Delivery.Status.SENDING).filter(
            ~Exists(alive) | Q(claimed_at__lt=stale)
        )
        lost_ids = list(lost.values_list("pk", flat=True))
        if lost_ids:
            lost = Delivery.objects.filter(pk__in=lost_ids, status=Delivery.Status.SENDING)
            result.cancelled = lost.filter(bulletin__status=Bulletin.Status.CANCELLED).update(
                status=Delivery.Status.CANCELLED, claim_token="", claimed_at=None, updated_at=now
            )
            result.failed = lost.filter(attempts__gte=max_attempts).update(
                status=Delivery.Status.FAILED,
                claim_token="",
                error=_("送信処理が応答しなくなりました（再試行の上限）。"),
                updated_at=now,
            )
            result.released = lost.update(
                status=Delivery.Status.QUEUED, claim_token="", claimed_at=None, updated_at=now
            )
        Sender.objects.filter(beat_at__lt=now - dt.timedelta(seconds=_sender_timeout())).delete()
    if lost_ids:
        logger.warning(
            "released %d orphaned claims (%d cancelled, %d failed)",
            result.released,
            result.cancelled,
            result.failed,
        )
    return result


def sweep_deliveries() -> SweepResult:
    """Periodic (beat, on the transactional queue so that it never waits behind a send):
    release claims of dead senders, settle paused bulletins, restart stalled ones (their
    wake-up task was lost with a worker or a broker), close finished ones, and apply provider
    events that came before their send was recorded."""
    from .tasks import send_bulletin_task, snapshot_bulletin_task

    now = timezone.now()
    result = release_orphaned_claims(now=now)
    for bulletin_id in Bulletin.objects.filter(status=Bulletin.Status.PAUSING).values_list(
        "pk", flat=True
    ):
        if settle_held_bulletin(bulletin_id):
            result.settled.append(bulletin_id)
    stall = now - dt.timedelta(seconds=float(_setting("MAILING_STALL_SECONDS", 30)))
    for bulletin in Bulletin.objects.filter(status=Bulletin.Status.SENDING):
        if bulletin.snapshot_at is None:
            if bulletin.last_activity_at is None or bulletin.last_activity_at < stall:
                Bulletin.objects.filter(pk=bulletin.pk).update(last_activity_at=now)
                snapshot_bulletin_task.delay(bulletin.pk)
                result.restarted.append(bulletin.pk)
            continue
        if finish_if_done(bulletin.pk):
            result.finished.append(bulletin.pk)
            continue
        due = bulletin.deliveries.filter(status=Delivery.Status.QUEUED).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
        idle = bulletin.last_activity_at is None or bulletin.last_activity_at < stall
        if (idle or result.released) and due.exists():
            Bulletin.objects.filter(pk=bulletin.pk).update(last_activity_at=now)
            for _i in range(_senders()):
                send_bulletin_task.delay(bulletin.pk)
            result.restarted.append(bulletin.pk)
    result.linked_events = link_early_events()
    return result


def start_due_bulletins() -> list[int]:
    started = []
    for bulletin in Bulletin.objects.due(timezone.now()).only("pk"):
        if start_bulletin(bulletin).status == Bulletin.Status.SENDING:
            started.append(bulletin.pk)
    return started


# --- provider events -----------------------------------------------------------------------

# The event type stored for a bounce the provider calls temporary (mailing.webhooks reads each
# provider's own fields): like a deferral it is counted on the delivery and shown as 一時的エラー,
# and never suppresses or opts out anyone.
SOFT_BOUNCED = "soft_bounced"
TEMPORARY_EVENTS = frozenset({"deferred", SOFT_BOUNCED})

EVENT_STATUS = {
    "delivered": Delivery.Status.DELIVERED,
    "bounced": Delivery.Status.BOUNCED,
    "complained": Delivery.Status.COMPLAINED,
    "rejected": Delivery.Status.FAILED,
    "failed": Delivery.Status.FAILED,
}


@dataclass(frozen=True)
class EventInput:
    provider: str
    event_id: str
    event_type: str
    message_id: str = ""
    recipient: str = ""
    reject_reason: str = ""
    description: str = ""
    occurred_at: dt.datetime | None = None


def _find_delivery(message_id: str, recipient: str) -> Delivery | None:
    """The delivery an event is about: the provider's message id and the recipient's address
    must both match (a batch send shares one id among its recipients). Nothing is guessed: an
    unknown id or another address finds nothing."""
    address = _stored_address(recipient)
    if not message_id or not address:
        return None
    found = Delivery.objects.filter(provider_message_id=message_id, email=address)
    return found.select_related("bulletin").first()


def _stored_address(recipient: str) -> str:
    """The address as deliveries hold it (normalised), or as given when it is none."""
    try:
        return normalise_email(recipient)
    except ValidationError:
        return recipient or ""


@transaction.atomic
def record_provider_event(event: EventInput) -> ProviderEvent | None:
    """Store a provider event once and move its delivery forward. Returns None for a replay."""
    delivery = _find_delivery(event.message_id, event.recipient)
    try:
        with transaction.atomic():
            stored = ProviderEvent.objects.create(
                provider=event.provider[:40],
                event_id=event.event_id[:200],
                event_type=event.event_type[:40],
                message_id=event.message_id[:200],
                recipient=_stored_address(event.recipient)[:254],
                delivery=delivery,
                reject_reason=(event.reject_reason or "")[:40],
                description=(event.description or "")[:2000],
                occurred_at=event.occurred_at,
            )
    except IntegrityError:
        logger.info(
            "provider event %s/%s (%s) replayed; ignored",
            event.provider,
            event.event_id,
            event.event_type,
        )
        return None
    if delivery is None:
        logger.warning(
            "provider event %s/%s (%s) for an unknown message %r",
            event.provider,
            event.event_id,
            event.event_type,
            event.message_id,
        )
        return stored
    _apply_event(stored, delivery)
    return stored


def _apply_event(stored: ProviderEvent, delivery: Delivery) -> None:
    """Move DELIVERY forward for the stored event (never back), inside the caller's
    transaction; a bounce or complaint opts the address out and suppresses it."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if stored.event_type in TEMPORARY_EVENTS:
        Delivery.objects.filter(pk=delivery.pk).update(soft_bounces=F("soft_bounces") + 1)
    new_status = EVENT_STATUS.get(stored.event_type)
    if new_status and Delivery.RANK.get(new_status, 0) > Delivery.RANK.get(delivery.status, -1):
        delivery.status = new_status
        if stored.description or stored.reject_reason:
            delivery.error = (stored.description or stored.reject_reason)[:1000]
        delivery.save(update_fields=["status", "error", "updated_at"])
    if stored.event_type in ("bounced", "complained", "unsubscribed"):
        mailing_list = delivery.bulletin.mailing_list
        for contact in Contact.objects.filter(email=delivery.email):
            _set_subscription(
                mailing_list,
                contact,
                Subscription.Status.OPTED_OUT,
                source=Subscription.Source.BOUNCE,
                by=None,
            )
        if stored.event_type != "unsubscribed":
            reason = (
                Suppression.Reason.HARD_BOUNCE
                if stored.event_type == "bounced"
                else Suppression.Reason.COMPLAINT
            )
            suppress_address(delivery.email, reason=reason, note=stored.description[:300])


EARLY_EVENTS_WINDOW = dt.timedelta(days=2)


def link_early_events(*, limit: int = 500) -> int:
    """Events that came before their send was recorded (a fast provider, a slow worker) were
    stored without a delivery. Once the delivery knows its provider message id, link each and
    apply it, once. Periodic (the sweeper); returns how many were linked."""
    since = timezone.now() - EARLY_EVENTS_WINDOW
    orphans = (
        ProviderEvent.objects.filter(delivery__isnull=True, received_at__gte=since)
        .exclude(message_id="")
        .order_by("id")[:limit]
    )
    linked = 0
    for orphan in orphans:
        delivery = _find_delivery(orphan.message_id, orphan.recipient)
        if delivery is None:
            continue
        with transaction.atomic():
            claimed = ProviderEvent.objects.filter(pk=orphan.pk, delivery__isnull=True).update(
                delivery=delivery
            )
            if claimed:  # not linked meanwhile by another sweeper
                _apply_event(orphan, delivery)
                linked += 1
    return linked


# --- hand-over -----------------------------------------------------------------------------


def move_subscriptions(old: Contact, new: Contact) -> int:
    """On 担当者変更 the successor inherits the predecessor's opt-outs and hand-added lists
    (called inside the hand-over transaction). A list the successor already chose stays."""
    taken = set(Subscription.objects.filter(contact=new).values_list("mailing_list_id", flat=True))
    moving = Subscription.objects.filter(contact=old).exclude(mailing_list_id__in=taken)
    return moving.update(
        contact=new, source=Subscription.Source.HANDOVER, updated_at=timezone.now()
    )


# --- unsubscribe page: undo (added for the UI) --------------------------------------------------


@transaction.atomic
def resubscribe_by_token(token: str, *, source: str = "link") -> UnsubscribeResult:
    """Undo unsubscribe_by_token from the same link: every active contact with the token's
    address that opted out of the list gets it back (see resubscribe for who may). Raises
    BadSignature for a bad token, ValidationError if nobody could be resubscribed."""
    result = read_unsubscribe_request(token)
    active = [c for c in result.contacts if c.is_active]
    if not active:
        raise ValidationError(
            _("このアドレスは現在、担当者として登録されていません。"), code="no_contact"
        )
    opted = Subscription.objects.filter(
        mailing_list=result.mailing_list,
        contact__in=active,
        status=Subscription.Status.OPTED_OUT,
    ).select_related("contact")
    refused: list[ValidationError] = []
    done = 0
    for subscription in opted:
        try:
            resubscribe(result.mailing_list, subscription.contact, source=source)
        except ValidationError as exc:
            refused.append(exc)
        else:
            done += 1
    if refused and not done:
        raise refused[0]
    return read_unsubscribe_request(token)


# --- demo lists ----------------------------------------------------------------------------

BLOCK_SLUGS = {
    "北海道・東北": "hokkaido-tohoku",
    "関東": "kanto",
    "中部・北陸": "chubu-hokuriku",
    "近畿": "kinki",
    "中国・四国": "chugoku-shikoku",
    "九州・沖縄": "kyushu-okinawa",
}


@transaction.atomic
def load_demo_lists() -> list[MailingList]:
    """全会員, one list per block and 連携自治体. Running it again changes nothing."""
    from association.models import Block

    lists = [
        _demo_list(
            "all-members",
            name="全会員",
            description="会員団体の担当者の皆様にお送りしています。",
            all_members=True,
        )
    ]
    for block in Block.objects.order_by("sort_order"):
        mailing_list = _demo_list(
            f"block-{BLOCK_SLUGS.get(block.name, block.pk)}",
            name=f"{block.name}ブロック",
            description=f"{block.name}ブロックの会員団体の担当者の皆様にお送りしています。",
        )
        mailing_list.blocks.set([block])
        lists.append(mailing_list)
    lists.append(
        _demo_list(
            "partners",
            name="連携自治体",
            description="連携自治体事業の協定を結んだ自治体の担当者の皆様にお送りしています。",
            partners=True,
        )
    )
    return lists


def _demo_list(slug: str, **values: Any) -> MailingList:
    mailing_list, _created = MailingList.objects.get_or_create(slug=slug, defaults=values)
    return mailing_list


@transaction.atomic
def forget_contact(contact: Contact) -> int:
    """A contact's personal data is being erased (association.services.erase_contact): what is
    still queued for them is never sent, and provider events that never found their delivery
    but carry one of the person's addresses lose it. The delivery rows and linked events are
    erased by the privacy registry (mailing/personal_data.py). Returns the rows cancelled."""
    deliveries = Delivery.objects.filter(contact=contact)
    addresses = set(deliveries.values_list("email", flat=True))
    ProviderEvent.objects.filter(delivery__isnull=True, recipient__in=addresses).update(
        recipient=erased_email(contact.pk), description=""
    )
    # A row a sender holds is taken from it as well: it drops the row before sending.
    return deliveries.filter(status__in=Delivery.PENDING).update(
        status=Delivery.Status.CANCELLED, claim_token="", updated_at=timezone.now()
    )


# --- published documents -------------------------------------------------------------------

DOCUMENT_EXTENSIONS = (
    ".pdf",
    ".docx",
    ".xlsx",
    ".pptx",
    ".doc",
    ".xls",
    ".ppt",
    ".csv",
    ".txt",
    ".png",
    ".jpg",
    ".jpeg",
    ".zip",
)
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024


def check_document_upload(upload: Any) -> None:
    """Refuse what should not be published, with a message for the person uploading."""
    name = str(getattr(upload, "name", "") or "")
    if not name.lower().endswith(DOCUMENT_EXTENSIONS):
        raise ValidationError(
            _("この種類のファイルは公開できません（PDF、Word、Excel、PowerPoint、画像など）。"),
            code="extension",
        )
    if int(getattr(upload, "size", 0) or 0) > DOCUMENT_MAX_BYTES:
        raise ValidationError(_("ファイルが大きすぎます（20MB まで）。"), code="too_large")


@transaction.atomic
def publish_document(*, title: str, upload: Any, by: User | None = None) -> Document:
    """Publish a file for bulletins to link to (never to attach)."""
    check_document_upload(upload)
    name = str(upload.name)
    size = int(upload.size or 0)
    if not title.strip():
        raise ValidationError({"title": _("表題を入力してください。")}, code="title")
    document = Document(title=title.strip(), size=size, uploaded_by=_actor(by))
    document.file.save(name.rsplit("/", 1)[-1], upload, save=False)
    document.save()
    audit(by, "document_published", document, f"公開資料「{document.title}」を公開")
    return document


@transaction.atomic
def withdraw_document(document: Document, *, by: User | None = None) -> None:
    """Stop publishing: the file is deleted for good and its URL answers 404."""
    audit(by, "document_withdrawn", document, f"公開資料「{document.title}」の公開を終了")
    storage, path = document.file.storage, document.file.name or ""
    document.delete()
    transaction.on_commit(lambda: storage.delete(path))
