"""What the postbox holds of people, and how erasure treats it (association/privacy.py): every
message to an erased person goes (postbox.services.forget_contact, by the contact's id)."""

from __future__ import annotations

from association import privacy
from association.privacy import DELETE, Erasure

from .models import OutgoingMail


def _forget(erasure: Erasure) -> int:
    from .services import forget_contact

    return forget_contact(erasure.contact.pk)


privacy.personal(
    OutgoingMail,
    owner="contact_id",
    fields={
        name: DELETE
        for name in ("to", "subject", "text", "html", "attachments", "headers", "reply_to")
    }
    | {"error": DELETE, "error_detail": DELETE},
    addresses=("to",),
    erase=_forget,
)
privacy.no_personal_data(
    OutgoingMail, "reference", "message_id", "claim_token", "provider_message_id"
)
