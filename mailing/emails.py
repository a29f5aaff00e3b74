"""Mail built by the mailing app for the secretariat, queued in the postbox (mail to one
person). Bulletins themselves are built by mailing.sending (one composer per bulletin,
compiled once per chunk)."""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings

from association.emails import queue
from association.models import Member
from postbox.models import OutgoingMail

from .models import Bulletin


def secretariat_address() -> str:
    configured = getattr(settings, "MAILING_SECRETARIAT_EMAIL", "")
    return configured or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def send_unreachable_members(member_ids: list[int], email: str) -> None:
    """Tell the secretariat that an address was suppressed, and which members it leaves
    without any reachable contact. Queued in the caller's transaction."""
    from .services import members_without_reachable_contact

    members = list(members_without_reachable_contact().filter(pk__in=member_ids))
    affected = list(Member.objects.filter(pk__in=member_ids).with_registry())
    queue(
        "bulletin_unreachable",
        {"email": email, "unreachable": members, "affected": affected},
        to=secretariat_address(),
        kind=OutgoingMail.Kind.SECRETARIAT_REPORT,
        # The report names the address: an erasure of its owner finds it by this reference.
        reference=suppression_reference(email),
    )


def suppression_reference(email: str) -> str:
    """Names the address by its keyed hash only, so that its owner's erasure finds the report."""
    from association.privacy import address_hash

    return f"mailing.suppression:{address_hash(email)[:32]}"


def send_bulletin_stopped(bulletin: Bulletin, *, failed: int) -> None:
    """Tell the secretariat that a bulletin stopped by itself (its first deliveries all failed
    for one reason), with the reason and where to resend once it is fixed. Queued in the
    caller's transaction (the one that marks the bulletin failed)."""
    from django.urls import reverse

    queue(
        "bulletin_stopped",
        {
            "bulletin": bulletin,
            "failed": failed,
            "reason": bulletin.failure_reason,
            "admin_url": settings.SITE_URL.rstrip("/")
            + reverse("admin:mailing_bulletin_change", args=[bulletin.pk]),
        },
        to=secretariat_address(),
        kind=OutgoingMail.Kind.SECRETARIAT_REPORT,
        reference=f"mailing.bulletin-stopped:{bulletin.pk}",
    )
