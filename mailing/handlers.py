"""Receivers connected in MailingConfig.ready()."""

from __future__ import annotations

from typing import Any

from association.models import Contact

from . import services
from .models import Bulletin, MailingList


def move_subscriptions_on_handover(
    sender: Any, *, old: Contact, new: Contact, **kwargs: Any
) -> None:
    services.move_subscriptions(old, new)


def forget_erased_contact(sender: Any, *, contact: Contact, **kwargs: Any) -> None:
    services.forget_contact(contact)


def reply_to_addresses(sender: Any, **kwargs: Any) -> list[str]:
    """Replies to bulletins land at these addresses: none of them may be a login."""
    lists = MailingList.objects.exclude(reply_to="").values_list("reply_to", flat=True)
    bulletins = Bulletin.objects.exclude(reply_to="").values_list("reply_to", flat=True)
    return [*lists.distinct(), *bulletins.distinct()]
