"""Provider events arrive through anymail's tracking webhooks (mounted in mailing/urls.py under
/mail/anymail/, protected by ANYMAIL["WEBHOOK_SECRET"], which may be a list while rotating).
anymail validates and parses; this receiver stores each event once and answers fast."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from anymail.signals import AnymailInboundEvent, AnymailTrackingEvent
from django.core import signing

from .models import Subscription
from .services import EventInput, record_provider_event, unsubscribe_by_token

logger = logging.getLogger(__name__)
UNSUBSCRIBE_SUBJECT_RE = re.compile(r"\bunsubscribe\s+(\S+)", re.IGNORECASE)


def _event_id(event: AnymailTrackingEvent, esp_name: str) -> str:
    if event.event_id:
        return str(event.event_id)
    # Some providers send no id: a digest of what identifies the event makes replays equal.
    raw = "|".join(
        str(part)
        for part in (esp_name, event.event_type, event.message_id, event.recipient, event.timestamp)
    )
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def _is_soft_bounce(event: AnymailTrackingEvent) -> bool:
    """anymail reports some temporary failures as "bounced"; they must not suppress anyone."""
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    if raw.get("event") == "soft_bounce":  # Brevo
        return True
    return raw.get("Type") in ("SoftBounce", "Transient", "DnsError")  # Postmark


def handle_tracking_event(
    sender: Any, *, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    record_provider_event(
        EventInput(
            provider=esp_name,
            event_id=_event_id(event, esp_name),
            event_type="deferred"
            if event.event_type == "bounced" and _is_soft_bounce(event)
            else str(event.event_type or "unknown"),
            message_id=str(event.message_id or ""),
            recipient=str(event.recipient or ""),
            reject_reason=str(event.reject_reason or ""),
            description=str(event.description or event.mta_response or ""),
            occurred_at=event.timestamp,
        )
    )


def handle_inbound_event(
    sender: Any, *, event: AnymailInboundEvent, esp_name: str, **kwargs: Any
) -> None:
    """The mailto: half of List-Unsubscribe: a mail whose subject is "unsubscribe <token>"."""
    subject = str(event.message.subject or "") if event.message is not None else ""
    match = UNSUBSCRIBE_SUBJECT_RE.search(subject)
    if match is None:
        return
    try:
        unsubscribe_by_token(match.group(1), source=Subscription.Source.MAILTO)
    except signing.BadSignature:
        logger.warning("unsubscribe mail from %s with a bad token", event.message.from_email)
