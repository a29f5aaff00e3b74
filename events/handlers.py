"""Receivers of other apps' signals."""

from __future__ import annotations

from typing import Any

from association.models import Contact

from .models import Notice


def drop_notices_of_erased_contact(sender: Any, *, contact: Contact, **kwargs: Any) -> None:
    """Mail not yet sent to a person whose data is erased is never sent."""
    Notice.objects.filter(
        contact=contact, status__in=[Notice.Status.PENDING, Notice.Status.SENDING]
    ).update(status=Notice.Status.FAILED, error="担当者の個人情報を削除したため送信しません。")
