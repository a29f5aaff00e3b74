"""Mail about trainings. One template triple per kind, under templates/emails/training_*; each
message goes to one person through the postbox (association.emails.queue).

A training mail goes to an address the person who caused it (a coordinator registering or
substituting a colleague) does not own, so it carries nothing typed in the portal: no names,
kana, department or title (a hostile coordinator could make them a phishing text signed by the
association). It names the municipality from the registry and the training in the
secretariat's words."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from association.emails import queue, render
from association.models import Contact
from association.nendo import wareki
from postbox.models import OutgoingMail
from postbox.services import queue_mail

from .calendar import registration_ics
from .models import Notice, Training

# Kinds whose mail carries the .ics: REQUEST adds or updates the entry, CANCEL removes it.
ICS_METHOD: dict[str, str] = {
    Notice.Kind.CONFIRMED: "REQUEST",
    Notice.Kind.PROMOTED: "REQUEST",
    Notice.Kind.SUBSTITUTED: "REQUEST",
    Notice.Kind.REMINDER: "REQUEST",
    Notice.Kind.CHANGED: "REQUEST",
    Notice.Kind.CANCELLED: "CANCEL",
    Notice.Kind.CALLED_OFF: "CANCEL",
    Notice.Kind.MOVED_TO_WAITING: "CANCEL",  # held a seat until the secretariat moved them
}
# Kinds of which the member's coordinators get a copy when the mail went to a colleague.
COPIED_KINDS = frozenset(
    {Notice.Kind.CONFIRMED, Notice.Kind.WAITLISTED, Notice.Kind.PROMOTED, Notice.Kind.CANCELLED}
)
POSTBOX_KIND: dict[str, str] = {
    Notice.Kind.REMINDER: OutgoingMail.Kind.TRAINING_REMINDER,
    Notice.Kind.MESSAGE: OutgoingMail.Kind.TRAINING_MESSAGE,
}


def training_url(training: Training, member_code: str) -> str:
    return settings.SITE_URL + reverse("events:detail", args=[member_code, training.pk])


def notice_context(notice: Notice) -> dict[str, object]:
    registration = notice.registration
    training = registration.training
    holder = notice.contact_id == registration.contact_id
    confirmed = holder and registration.is_confirmed
    return {
        "notice": notice,
        "contact": notice.contact,
        "registration": registration,
        "training": training,
        "sessions": list(training.sessions.all()),
        "holder": holder,
        "confirmed": confirmed,
        "online_url": training.online_url if confirmed else "",
        "waitlist_place": registration.waitlist_place() if holder else None,
        "deadline": wareki(training.last_registration_day),
        "training_url": training_url(training, registration.member.local_government_id),
        "changes": notice.body.splitlines() if notice.kind == Notice.Kind.CHANGED else [],
    }


def is_replaced(notice: Notice) -> bool:
    """The substitution notice to the one who gave up the seat."""
    return (
        notice.kind == Notice.Kind.SUBSTITUTED
        and notice.contact_id != notice.registration.contact_id
    )


def template_name(notice: Notice) -> str:
    return "training_replaced" if is_replaced(notice) else f"training_{notice.kind}"


def ics_method(notice: Notice) -> str | None:
    if is_replaced(notice):
        return "CANCEL"
    method = ICS_METHOD.get(notice.kind)
    if method == "REQUEST" and not notice.registration.is_confirmed:
        return None  # waiting: nothing in the calendar until a seat is confirmed
    if (
        method == "CANCEL"
        and notice.registration.confirmed_at is None
        and notice.kind != Notice.Kind.MOVED_TO_WAITING
    ):
        return None  # never held a seat, so never had the entry
    return method


def queue_notice(notice: Notice) -> OutgoingMail:
    """Queue NOTICE's mail on the postbox, inside the caller's transaction."""
    attachments = []
    method = ics_method(notice)
    if method is not None:
        ics = registration_ics(notice.registration, attendee=notice.contact, method=method)
        attachments.append(("training.ics", ics, "text/calendar"))
    return queue(
        template_name(notice),
        notice_context(notice),
        to=notice.contact.email,
        kind=POSTBOX_KIND.get(notice.kind, OutgoingMail.Kind.TRAINING_NOTICE),
        contact_id=notice.contact_id,
        reference=f"events.notice:{notice.pk}",
        attachments=attachments,
        headers={"Auto-Submitted": "auto-generated"},
    )


def copy_recipients(notice: Notice) -> list[Contact]:
    """The coordinators of the registration's own member who take copies, but not the person
    the mail went to (a coordinator registering herself has the mail already)."""
    if notice.kind not in COPIED_KINDS:
        return []
    original = notice.contact.email.lower()
    return [
        coordinator
        for coordinator in Contact.objects.taking_training_copies(notice.registration.member)
        .exclude(pk=notice.contact_id)
        .order_by("id")
        if coordinator.email.lower() != original
    ]


def queue_copies(notice: Notice) -> list[OutgoingMail]:
    """A copy of NOTICE's mail to each coordinator who takes copies, one message per
    coordinator through the postbox. The copy says whose mail it is by the address it went to
    (not by a name typed in the portal, as the module says); it carries no .ics (the calendar
    entry is the colleague's) and no online URL (the seat is the colleague's)."""
    coordinators = copy_recipients(notice)
    if not coordinators:
        return []
    context = {**notice_context(notice), "copy_of": notice.contact.email, "online_url": ""}
    rendered = render(template_name(notice), context)
    subject = f"{_('【写し】')}{rendered.subject}"
    queued = []
    for coordinator in coordinators:
        try:
            with transaction.atomic():  # a coordinator's bad address costs only her copy
                mail = queue_mail(
                    to=coordinator.email,
                    subject=subject,
                    text=rendered.text,
                    html=rendered.html,
                    kind=OutgoingMail.Kind.TRAINING_NOTICE,
                    contact_id=coordinator.pk,
                    reference=f"events.notice:{notice.pk}:copy:{coordinator.pk}",
                    headers={"Auto-Submitted": "auto-generated"},
                )
        except ValidationError:
            continue
        queued.append(mail)
    return queued
