"""Receivers connected in MailingConfig.ready()."""

from __future__ import annotations

from typing import Any

from association.models import Contact

from . import services


def move_subscriptions_on_handover(
    sender: Any, *, old: Contact, new: Contact, **kwargs: Any
) -> None:
    services.move_subscriptions(old, new)


def forget_erased_contact(sender: Any, *, contact: Contact, **kwargs: Any) -> None:
    services.forget_contact(contact)
