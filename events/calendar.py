"""The .ics file of a registration (RFC 5545), built with icalendar."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event

from .models import Registration, Training


def training_location(training: Training) -> str:
    parts = [p for p in (training.venue_name, training.venue_address) if p]
    if training.online_url and not parts:
        return "オンライン"
    return " ".join(parts)


def registration_ics(registration: Registration) -> bytes:
    """The online URL is written only for a confirmed registration."""
    training = registration.training
    confirmed = registration.is_confirmed
    cal = Calendar()
    cal.add("prodid", "-//Renkei//trainings//JA")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"training-{training.pk}-registration-{registration.pk}@renkei")
    event.add("sequence", int(training.updated_at.timestamp()))
    event.add("dtstamp", training.updated_at)
    event.add("dtstart", training.starts_at)
    event.add("dtend", training.ends_at)
    event.add("summary", training.title)
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
    if (
        training.status == Training.Status.CANCELLED
        or registration.status == Registration.Status.CANCELLED
    ):
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED" if confirmed else "TENTATIVE")
    cal.add_component(event)
    return cal.to_ical()
