"""Receivers of the registry's signals: a person who leaves takes no seat with them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from association.models import Contact, User

from . import services
from .models import Notice, Registration


def _upcoming(contact: Contact) -> list[Registration]:
    return list(
        Registration.objects.active()
        .filter(contact=contact, training__ends_at__gt=timezone.now())
        .select_related("training")
    )


def move_registrations_to_successor(
    sender: Any, *, old: Contact, new: Contact, by: User | None = None, **kwargs: Any
) -> None:
    """担当者変更: the successor takes over the predecessor's seats and waiting places, or the
    predecessor's is given up where the successor is registered already."""
    for registration in _upcoming(old):
        taken = (
            Registration.objects.active()
            .filter(training=registration.training, contact=new)
            .exists()
        )
        if taken:
            services.cancel_registration(registration, by=by)
        else:
            services.substitute_registration(registration, contact=new, by=by)


def release_registrations(
    sender: Any, *, contact: Contact, by: User | None = None, **kwargs: Any
) -> None:
    """A contact deactivated without a successor gives up their seats (the waiting list moves)."""
    for registration in _upcoming(contact):
        services.cancel_registration(registration, by=by)


def release_registrations_of_erased_contact(
    sender: Any, *, contact: Contact, by: User | None = None, **kwargs: Any
) -> None:
    """Seats go back to the waiting list, their answers to trainings' questions are deleted,
    and no mail is sent to a person whose data is erased (the cancellation notices just
    written included)."""
    release_registrations(sender, contact=contact, by=by)
    services.erase_training_answers(contact)
    Notice.objects.filter(contact=contact, status=Notice.Status.PENDING).update(
        status=Notice.Status.FAILED, error=ERASED_REASON
    )


ERASED_REASON = "担当者の個人情報を削除したため送信しません。"
