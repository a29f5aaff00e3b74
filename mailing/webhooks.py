"""Provider events arrive through anymail's tracking and inbound webhook views. Only the
providers Renkei sends through (EMAIL_BACKEND, MAILING_EMAIL_BACKEND) are mounted, at anymail's
own paths (/mail/anymail/<provider>/tracking/ and …/inbound/); any other provider's URL is a
404. In production a provider is mounted only with its credentials complete: the shared
ANYMAIL_WEBHOOK_SECRET (HTTP basic auth, a list while rotating) and, where the provider signs
its webhooks, its signing key. `check --deploy` names what is missing (config/checks.py).

anymail validates and parses; the receivers below read each provider's own fields where
anymail's normal form loses the difference between a soft and a hard bounce, store each event
once and answer fast."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from anymail.signals import AnymailInboundEvent, AnymailTrackingEvent
from anymail.utils import get_anymail_setting
from anymail.webhooks import (
    amazon_ses,
    brevo,
    mailgun,
    postmark,
    resend,
    sendgrid,
    sparkpost,
)
from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Subscription
from .services import SOFT_BOUNCED, EventInput, record_provider_event, unsubscribe_by_token

logger = logging.getLogger(__name__)
UNSUBSCRIBE_SUBJECT_RE = re.compile(r"\bunsubscribe\s+(\S+)", re.IGNORECASE)
BACKEND_RE = re.compile(r"^anymail\.backends\.(\w+)\.")


# --- soft or hard: each provider's own fields ------------------------------------------------


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ses_soft(raw: Mapping[str, Any]) -> bool:
    # SES bounceType: Permanent, Transient or Undetermined (only Permanent is hard).
    return _dict(raw.get("bounce")).get("bounceType") != "Permanent"


def _postmark_soft(raw: Mapping[str, Any]) -> bool:
    # Postmark Type: HardBounce is hard; SoftBounce, Transient, DnsError, VirusNotification… not.
    return raw.get("Type") != "HardBounce"


def _brevo_soft(raw: Mapping[str, Any]) -> bool:
    # Brevo event: hard_bounce and invalid_email are hard, soft_bounce is not.
    return raw.get("event") not in ("hard_bounce", "invalid_email")


def _mailgun_soft(raw: Mapping[str, Any]) -> bool:
    # Mailgun event-data.severity: permanent or temporary (legacy webhooks: bounced is hard).
    data = _dict(raw.get("event-data"))
    return data.get("severity", "permanent") != "permanent"


def _sendgrid_soft(raw: Mapping[str, Any]) -> bool:
    # SendGrid bounce type: "bounce" is hard; "blocked" is the receiver refusing the message.
    return raw.get("type", "bounce") != "bounce"


SPARKPOST_HARD_CLASSES = frozenset({"10", "30"})  # Invalid Recipient, Generic Bounce: No RCPT


def _sparkpost_soft(raw: Mapping[str, Any]) -> bool:
    # SparkPost bounce_class: only the "Hard" category suppresses (90, Unsubscribe, is already
    # an unsubscribe in anymail); Soft, Block, Admin and Undetermined classes do not.
    msys = _dict(raw.get("msys"))
    event = _dict(next(iter(msys.values()), None))
    return str(event.get("bounce_class", "")) not in SPARKPOST_HARD_CLASSES


def _resend_soft(raw: Mapping[str, Any]) -> bool:
    # Resend data.bounce.type: Permanent, Transient or Undetermined (as SES).
    bounce = _dict(_dict(raw.get("data")).get("bounce"))
    return bounce.get("type") != "Permanent"


# --- the providers Renkei can receive events from --------------------------------------------


@dataclass(frozen=True)
class Provider:
    esp_name: str  # anymail's name for it (ProviderEvent.provider)
    soft_bounce: Callable[[Mapping[str, Any]], bool]
    views: Mapping[str, Callable[..., HttpResponse]]
    # anymail settings (ANYMAIL_<NAME>) that must be set besides WEBHOOK_SECRET, per view
    signing_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


PROVIDERS: dict[str, Provider] = {
    "amazon_ses": Provider(
        "Amazon SES",
        _ses_soft,
        {
            "tracking": amazon_ses.AmazonSESTrackingWebhookView.as_view(),
            "inbound": amazon_ses.AmazonSESInboundWebhookView.as_view(),
        },
    ),
    "brevo": Provider(
        "Brevo",
        _brevo_soft,
        {
            "tracking": brevo.BrevoTrackingWebhookView.as_view(),
            "inbound": brevo.BrevoInboundWebhookView.as_view(),
        },
    ),
    "mailgun": Provider(
        "Mailgun",
        _mailgun_soft,
        {
            "tracking": mailgun.MailgunTrackingWebhookView.as_view(),
            "inbound": mailgun.MailgunInboundWebhookView.as_view(),
            "inbound_mime": mailgun.MailgunInboundWebhookView.as_view(),
        },
        {
            "tracking": ("MAILGUN_WEBHOOK_SIGNING_KEY",),
            "inbound": ("MAILGUN_WEBHOOK_SIGNING_KEY",),
            "inbound_mime": ("MAILGUN_WEBHOOK_SIGNING_KEY",),
        },
    ),
    "postmark": Provider(
        "Postmark",
        _postmark_soft,
        {
            "tracking": postmark.PostmarkTrackingWebhookView.as_view(),
            "inbound": postmark.PostmarkInboundWebhookView.as_view(),
        },
    ),
    "resend": Provider(
        "Resend",
        _resend_soft,
        {
            "tracking": resend.ResendTrackingWebhookView.as_view(),
            "inbound": resend.ResendInboundWebhookView.as_view(),
        },
        {"tracking": ("RESEND_SIGNING_SECRET",), "inbound": ("RESEND_INBOUND_SECRET",)},
    ),
    "sendgrid": Provider(
        "SendGrid",
        _sendgrid_soft,
        {
            "tracking": sendgrid.SendGridTrackingWebhookView.as_view(),
            "inbound": sendgrid.SendGridInboundWebhookView.as_view(),
        },
        {"tracking": ("SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",)},
    ),
    "sparkpost": Provider(
        "SparkPost",
        _sparkpost_soft,
        {
            "tracking": sparkpost.SparkPostTrackingWebhookView.as_view(),
            "inbound": sparkpost.SparkPostInboundWebhookView.as_view(),
        },
    ),
}
ALIASES = {"sendinblue": "brevo"}  # anymail's old name for Brevo's backend
BY_ESP_NAME = {provider.esp_name: provider for provider in PROVIDERS.values()}


def configured_providers() -> list[str]:
    """The anymail providers Renkei sends through (by anymail's backend module name), in the
    order of EMAIL_BACKEND, MAILING_EMAIL_BACKEND."""
    names: list[str] = []
    for backend in (settings.EMAIL_BACKEND, getattr(settings, "MAILING_EMAIL_BACKEND", "")):
        match = BACKEND_RE.match(backend or "")
        if match:
            name = ALIASES.get(match.group(1), match.group(1))
            if name not in names:
                names.append(name)
    return names


def missing_credentials(name: str, kind: str = "tracking") -> list[str]:
    """The ANYMAIL_* settings a provider's webhook needs and lacks: without them anyone can
    post events (basic auth) or forge a signed one (the provider's signing key)."""
    missing = []
    if not get_anymail_setting("webhook_secret", default=None):
        missing.append("ANYMAIL_WEBHOOK_SECRET")
    provider = PROVIDERS.get(name)
    for key in provider.signing_keys.get(kind, ()) if provider else ():
        if not get_anymail_setting(key.lower(), default=None):
            missing.append(f"ANYMAIL_{key}")
    return missing


@csrf_exempt
def provider_webhook(request: HttpRequest, provider: str, kind: str) -> HttpResponse:
    """anymail's view for a configured provider; 404 for every other provider, and in
    production for a provider whose credentials are not all set."""
    entry = PROVIDERS.get(provider)
    view = entry.views.get(kind) if entry else None
    if view is None or provider not in configured_providers():
        raise Http404
    if settings.PRODUCTION and missing_credentials(provider, kind):
        raise Http404
    return view(request)


# --- receivers (connected in MailingConfig.ready) --------------------------------------------


def _event_id(event: AnymailTrackingEvent, esp_name: str) -> str:
    if event.event_id:
        return str(event.event_id)
    # Some providers send no id: a digest of what identifies the event makes replays equal.
    raw = "|".join(
        str(part)
        for part in (esp_name, event.event_type, event.message_id, event.recipient, event.timestamp)
    )
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def event_type_of(event: AnymailTrackingEvent, esp_name: str) -> str:
    """anymail's event type, except that a bounce the provider calls temporary is soft."""
    event_type = str(event.event_type or "unknown")
    provider = BY_ESP_NAME.get(esp_name)
    if event_type == "bounced" and provider and provider.soft_bounce(_dict(event.esp_event)):
        return SOFT_BOUNCED
    return event_type


def handle_tracking_event(
    sender: Any, *, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    record_provider_event(
        EventInput(
            provider=esp_name,
            event_id=_event_id(event, esp_name),
            event_type=event_type_of(event, esp_name),
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
