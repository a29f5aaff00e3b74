"""Signed unsubscribe tokens: a list and an address, valid long after the mail was sent."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT = "mailing.unsubscribe"
DEFAULT_MAX_AGE_DAYS = 400  # RFC 8058 wants a link to keep working; we promise at least 60 days.


@dataclass(frozen=True)
class UnsubscribeRequest:
    list_id: int
    email: str


def make_unsubscribe_token(list_id: int, email: str) -> str:
    return signing.dumps({"l": list_id, "e": email}, salt=SALT, compress=True)


def read_unsubscribe_token(token: str) -> UnsubscribeRequest:
    """The request a token stands for, or signing.BadSignature (SignatureExpired included)."""
    days = getattr(settings, "MAILING_UNSUBSCRIBE_TOKEN_DAYS", DEFAULT_MAX_AGE_DAYS)
    data = signing.loads(token, salt=SALT, max_age=days * 86400)
    try:
        return UnsubscribeRequest(list_id=int(data["l"]), email=str(data["e"]))
    except (KeyError, TypeError, ValueError):
        raise signing.BadSignature("malformed unsubscribe token") from None


def unsubscribe_url(token: str) -> str:
    """The page (GET) and RFC 8058 one-click endpoint (POST) for TOKEN: one URL for both, as
    List-Unsubscribe-Post requires. Routed in mailing/urls.py as `mailing:unsubscribe`."""
    return f"{settings.SITE_URL}/mail/unsubscribe/{token}/"


def unsubscribe_mailto(token: str) -> str:
    address = getattr(settings, "MAILING_UNSUBSCRIBE_MAILTO", "") or _default_mailto()
    return f"mailto:{address}?subject=unsubscribe%20{token}"


def _default_mailto() -> str:
    from email.utils import parseaddr

    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return address


def preferences_url() -> str:
    """The portal page where staff choose their lists. Routed as `mailing:preferences`."""
    return f"{settings.SITE_URL}/mail/preferences/"
