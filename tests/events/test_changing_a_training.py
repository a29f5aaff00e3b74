"""Changing a training (issue 10 §6): the mail lists 変更前 → 変更後 with a calendar update,
the programme moves with the start, duplicating moves every date and the 年度 in the title,
and the admin asks before a save that mails registrants."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from icalendar import Calendar

from events import services
from events.models import Notice, Training, TrainingSession

from .conftest import at, deliver_pending


def test_the_change_mail_lists_before_and_after_and_updates_the_calendar(
    make_training, bob, outbox
):
    training = make_training(
        starts_at=at(2027, 6, 11, 13, 30), venue_name="江戸川区総合文化センター"
    )
    services.register_for_training(training, contact=bob)
    deliver_pending()
    first_ics = outbox.to(bob.email)[0].message.iter_attachments().__next__().get_content()

    training.starts_at = at(2027, 6, 18, 13, 30)
    training.ends_at = at(2027, 6, 18, 16, 30)
    training.venue_name = "タワーホール船堀"
    services.save_training(training)
    deliver_pending()

    mail = outbox.to(bob.email)[-1]
    assert "開始日時: 令和9年6月11日（金）13:30 → 令和9年6月18日（金）13:30" in mail.text
    assert "会場: 江戸川区総合文化センター → タワーホール船堀" in mail.text
    ics = Calendar.from_ical(next(mail.message.iter_attachments()).get_content())
    first = Calendar.from_ical(first_ics)
    [event], [first_event] = ics.walk("VEVENT"), first.walk("VEVENT")
    assert ics["METHOD"] == "REQUEST" and event["UID"] == first_event["UID"]
    assert event.decoded("DTSTART") == at(2027, 6, 18, 13, 30)
    assert event.decoded("SEQUENCE") > first_event.decoded("SEQUENCE")


def test_the_programme_moves_with_the_start(make_training):
    training = make_training(starts_at=at(2026, 6, 12, 13, 30))
    TrainingSession.objects.create(
        training=training,
        starts_at=at(2026, 6, 12, 13, 40),
        ends_at=at(2026, 6, 12, 15),
        title="講演",
    )

    training.starts_at = at(2026, 6, 13, 10, 0)
    training.ends_at = at(2026, 6, 13, 13, 0)
    services.save_training(training)

    session = TrainingSession.objects.get()
    assert (session.starts_at, session.ends_at) == (
        at(2026, 6, 13, 10, 10),
        at(2026, 6, 13, 11, 30),
    )


def test_duplicating_moves_the_nendo_in_the_title(make_training):
    training = make_training(title="令和8年度 全体研修会（2026年度）", nendo=2026)

    copy = services.duplicate_training(training)

    assert copy.title == "令和9年度 全体研修会（2027年度）"
    assert copy.nendo == 2027 and copy.status == Training.Status.DRAFT
    assert copy.starts_at - training.starts_at == dt.timedelta(weeks=52)


def test_the_admin_asks_before_a_save_that_mails_registrants(
    admin_client, make_training, alice, bob
):
    training = make_training(venue_name="江戸川区総合文化センター")
    services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=bob)
    url = reverse("admin:events_training_change", args=[training.pk])
    data = change_data(admin_client, url, venue_name="タワーホール船堀")

    asked = admin_client.post(url, data)

    html = asked.content.decode()
    assert asked.status_code == 200
    assert "会場: 江戸川区総合文化センター → タワーホール船堀" in html
    assert "2 名" in html
    assert not Notice.objects.filter(kind=Notice.Kind.CHANGED).exists()
    training.refresh_from_db()
    assert training.venue_name == "江戸川区総合文化センター"

    done = admin_client.post(url, {**data, "_confirm_change": "1"})

    assert done.status_code == 302
    assert Notice.objects.filter(kind=Notice.Kind.CHANGED).count() == 2


def change_data(admin_client, url, **changes):  # type: ignore[no-untyped-def]
    form = admin_client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name)
        widget = field.widget
        if hasattr(widget, "widgets"):  # split date and time
            parts = widget.decompress(value)
            for i, part in enumerate(parts):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif value is not None:
            data[name] = value.pk if hasattr(value, "pk") else value
    data.update({"sessions-TOTAL_FORMS": "0", "sessions-INITIAL_FORMS": "0"})
    data.update({"questions-TOTAL_FORMS": "0", "questions-INITIAL_FORMS": "0"})
    data.update(changes)
    return {k: ("" if v is None else v) for k, v in data.items()}
