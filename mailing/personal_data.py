"""What the mailing app holds of people, and how erasure treats it (association/privacy.py).
What is still queued for an erased person is cancelled first (services.forget_contact, through
the contact_erased signal)."""

from __future__ import annotations

from association import privacy
from association.models import Contact
from association.privacy import BLANK, Erasure
from postbox import services as postbox

from .emails import suppression_reference
from .models import (
    Bulletin,
    Delivery,
    DeliveryTally,
    Document,
    ListLink,
    MailingList,
    ProviderEvent,
    Sender,
    Subscription,
    Suppression,
)


def _erased_address(row: Delivery | ProviderEvent, erasure: Erasure) -> str:
    """The person's placeholder address, not a blank: provider events are stored once per
    (provider, event id, recipient, type), and two erased recipients of one notification must
    not become the same row."""
    from association.services import erased_email

    return erased_email(erasure.contact.pk)


privacy.personal(
    Delivery,
    owner="contact",
    fields={
        "email": _erased_address,
        "recipient_name": BLANK,
        "department": BLANK,
        "error": BLANK,
    },
    addresses=("email",),
)
privacy.no_personal_data(
    Delivery, "organisation", "claim_token", "message_id", "provider_message_id"
)
privacy.no_personal_data(DeliveryTally, "status")  # counts per bulletin and status only
privacy.personal(
    ProviderEvent,
    owner="delivery__contact",
    fields={"recipient": _erased_address, "description": BLANK},
)
privacy.no_personal_data(
    ProviderEvent, "provider", "event_id", "event_type", "message_id", "reject_reason"
)


def _keep_only_the_hash(erasure: Erasure) -> int:
    """The suppression survives as the address's keyed hash: the erased address stays unmailed,
    and nothing in the row names it. An address still held by another (not erased) contact is
    theirs too and stays as it is."""
    count = 0
    for address in erasure.addresses:
        still_used = Contact.objects.filter(email=address).exclude(pk=erasure.contact.pk).exists()
        if still_used:
            continue
        for suppression in Suppression.objects.filter(email=address):
            Suppression.objects.filter(pk=suppression.pk).update(
                email="", note="", email_hash=privacy.address_hash(address)
            )
            privacy.forget_admin_log(Suppression, [suppression.pk])
            count += 1
        # The secretariat's reports of the address's suppressions named it.
        count += postbox.forget_reference(suppression_reference(address))
    return count


privacy.personal(
    Suppression,
    fields={"email": privacy.HASH, "note": BLANK, "email_hash": privacy.HASH},
    erase=_keep_only_the_hash,
)
privacy.no_personal_data(Subscription)
# Lists, bulletins and published documents are the secretariat's own texts to many people.
privacy.no_personal_data(MailingList)
privacy.no_personal_data(Bulletin)
privacy.no_personal_data(Document)
# Which worker process is sending which bulletin: machine names and process ids.
privacy.no_personal_data(Sender)


def _forget_links(erasure: Erasure) -> int:
    """A list link names its address: it goes with the person (the links in mail already sent
    then lead nowhere), unless another contact still has the address."""
    count = 0
    for address in erasure.addresses:
        if Contact.objects.filter(email=address).exclude(pk=erasure.contact.pk).exists():
            continue
        count += ListLink.objects.filter(email=address).delete()[0]
    return count


privacy.personal(ListLink, fields={"email": privacy.DELETE}, erase=_forget_links)
privacy.no_personal_data(ListLink, "token")
