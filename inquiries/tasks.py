"""Thin tasks around inquiries.services. Routed to the "transactional" queue by settings."""

from celery import shared_task


@shared_task(name="inquiries.announce_inquiry")
def announce_inquiry_task(inquiry_id: int) -> None:
    """The request mail of a 照会 or survey that has just opened (each person once)."""
    from . import services

    services.announce_inquiry(inquiry_id)


@shared_task(name="inquiries.open_due_inquiries")
def open_due_inquiries_task() -> None:
    from . import services

    services.open_due_inquiries()
    services.invite_new_attendees()


@shared_task(name="inquiries.send_reminders")
def send_reminders_task() -> None:
    from . import services

    services.queue_due_reminders()
