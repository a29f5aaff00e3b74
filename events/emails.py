"""Mail about trainings. One template triple per kind, under templates/emails/training_*."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from association.emails import build
from association.nendo import wareki

from .calendar import registration_ics
from .models import Notice, Training

# Kinds whose mail carries the .ics (the event as the recipient now holds it).
WITH_ICS = {
    Notice.Kind.CONFIRMED,
    Notice.Kind.PROMOTED,
    Notice.Kind.SUBSTITUTED,
    Notice.Kind.REMINDER,
    Notice.Kind.CHANGED,
    Notice.Kind.CALLED_OFF,
}
FIELD_LABELS = {
    "starts_at": "開始日時",
    "ends_at": "終了日時",
    "venue_name": "会場",
    "venue_address": "会場住所",
    "online_url": "オンライン参加URL",
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
        "changed_labels": [FIELD_LABELS.get(f, f) for f in notice.body.split(",") if f]
        if notice.kind == Notice.Kind.CHANGED
        else [],
    }


def template_name(notice: Notice) -> str:
    if (
        notice.kind == Notice.Kind.SUBSTITUTED
        and notice.contact_id != notice.registration.contact_id
    ):
        return "training_replaced"
    return f"training_{notice.kind}"


def send_notice(notice: Notice, *, connection: Any = None) -> None:
    message = build(template_name(notice), notice_context(notice), to=notice.contact.email)
    message.connection = connection
    if notice.kind in WITH_ICS and notice.contact_id == notice.registration.contact_id:
        message.attach("training.ics", registration_ics(notice.registration), "text/calendar")
    message.extra_headers["Auto-Submitted"] = "auto-generated"
    message.send()
