"""The .ics of a registration (RFC 5545), built with icalendar, as a calendar follows it
(RFC 5546 iTIP): one UID per registration for its whole life; each mail that tells the holder
about the event carries METHOD:REQUEST with a SEQUENCE that only grows (the training's
revision, bumped by every change registrants hear of, plus the registration's own, bumped by
every substitution or cancellation); a cancellation, a substitution (to the one who gave up the
seat) and a called-off training carry METHOD:CANCEL, so Outlook and Google remove the entry."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event, vCalAddress, vText

from association.models import Contact

from .models import Registration, Training


def training_location(training: Training) -> str:
    parts = [p for p in (training.venue_name, training.venue_address) if p]
    if training.online_url and not parts:
        return "オンライン"
    return " ".join(parts)


def uid(registration: Registration) -> str:
    return f"training-{registration.training_id}-registration-{registration.pk}@renkei"


def sequence(registration: Registration) -> int:
    return registration.training.revision + registration.sequence


def _organizer() -> vCalAddress:
    from association.emails import secretariat_address

    organizer = vCalAddress(f"mailto:{secretariat_address()}")
    organizer.params["CN"] = vText(f"{settings.SITE_NAME} 事務局")
    return organizer


def registration_ics(
    registration: Registration,
    *,
    attendee: Contact | None = None,
    method: str = "PUBLISH",
) -> bytes:
    """The event as ATTENDEE (default: the registration's holder) now holds it. METHOD is
    PUBLISH for a download, REQUEST for a mail that adds or updates the entry and CANCEL for
    one that removes it. The online URL is written only for the confirmed holder."""
    training = registration.training
    attendee = attendee or registration.contact
    holder = attendee.pk == registration.contact_id
    cancelled = (
        method == "CANCEL"
        or not holder
        or training.status == Training.Status.CANCELLED
        or registration.status == Registration.Status.CANCELLED
    )
    confirmed = holder and registration.is_confirmed and not cancelled
    cal = Calendar()
    cal.add("prodid", "-//Renkei//trainings//JA")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled and method != "PUBLISH" else method)
    event = Event()
    event.add("uid", uid(registration))
    event.add("sequence", sequence(registration))
    event.add("dtstamp", training.updated_at)
    event.add("dtstart", training.starts_at)
    event.add("dtend", training.ends_at)
    event.add("summary", training.title)
    event.add("organizer", _organizer())
    if method != "PUBLISH":
        person = vCalAddress(f"mailto:{attendee.email}")
        person.params["ROLE"] = vText("REQ-PARTICIPANT")
        person.params["PARTSTAT"] = vText("ACCEPTED" if confirmed else "TENTATIVE")
        person.params["RSVP"] = vText("FALSE")
        event.add("attendee", person)
    location = training_location(training)
    if location:
        event.add("location", location)
    lines = [training.description.strip()] if training.description.strip() else []
    if confirmed and training.online_url:
        lines.append(f"オンライン参加URL:\n{training.online_url}")
        event.add("url", training.online_url)
    portal = settings.SITE_URL + reverse("events:list")
    lines.append(f"会員ポータル:\n{portal}")
    event.add("description", "\n\n".join(lines))
    if cancelled:
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED" if confirmed else "TENTATIVE")
    cal.add_component(event)
    return cal.to_ical()


def member_feed(member_id: int) -> bytes:
    """The member's feed: every registration of its staff for trainings not yet a year old,
    each under its registration's UID (so a mail's .ics and the feed are one entry). The
    participant is named in the description; no online URL (that goes to each confirmed
    person only)."""
    import datetime as dt

    from django.utils import timezone

    cal = Calendar()
    cal.add("prodid", "-//Renkei//trainings feed//JA")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "研修会（申込み）")
    since = timezone.now() - dt.timedelta(days=365)
    registrations = (
        Registration.objects.filter(member_id=member_id, training__ends_at__gte=since)
        .exclude(training__status=Training.Status.DRAFT)
        .select_related("training", "contact")
        .order_by("training__starts_at", "id")
    )
    for registration in registrations:
        training = registration.training
        event = Event()
        event.add("uid", uid(registration))
        event.add("sequence", sequence(registration))
        event.add("dtstamp", training.updated_at)
        event.add("dtstart", training.starts_at)
        event.add("dtend", training.ends_at)
        event.add("summary", training.title)
        location = training_location(training)
        if location:
            event.add("location", location)
        event.add(
            "description",
            f"参加者: {registration.contact.name}（{registration.get_status_display()}）",
        )
        cancelled = (
            registration.status == Registration.Status.CANCELLED
            or training.status == Training.Status.CANCELLED
        )
        if cancelled:
            event.add("status", "CANCELLED")
        else:
            event.add("status", "CONFIRMED" if registration.is_confirmed else "TENTATIVE")
        cal.add_component(event)
    return cal.to_ical()
