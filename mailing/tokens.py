"""Unsubscribe tokens: a list and an address, valid long after the mail was sent.

Every bulletin carries the short link https://<site>/u/<token>: a random 128-bit token (22
characters) stored once per list and address (models.ListLink), short enough to type from a
PC whose mail has links disabled, and carrying nothing of the address.

Links sent before those were long tokens with the address encrypted (Fernet: AES-CBC +
HMAC-SHA256, with its own timestamp, under a key derived from SECRET_KEY; tokens made under a
key in SECRET_KEY_FALLBACKS still read). They keep working until they are
MAILING_UNSUBSCRIBE_TOKEN_DAYS old; nothing makes new ones but the tests of that promise."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import signing

SALT = "mailing.unsubscribe"
DEFAULT_MAX_AGE_DAYS = 400  # RFC 8058 wants a link to keep working; we promise at least 60 days.


@dataclass(frozen=True)
class UnsubscribeRequest:
    list_id: int
    email: str


def _fernet() -> MultiFernet:
    return _fernet_for(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


@lru_cache(maxsize=4)  # one token per recipient of every bulletin: derive the keys once
def _fernet_for(secret: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet(
        [
            Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"{SALT}:{s}".encode()).digest()))
            for s in (secret, *fallbacks)
        ]
    )


def make_unsubscribe_token(list_id: int, email: str) -> str:
    payload = json.dumps([list_id, email], separators=(",", ":")).encode()
    return _fernet().encrypt(payload).decode().rstrip("=")


LINK_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")


def link_tokens(mailing_list_id: int, emails: Iterable[str]) -> dict[str, str]:
    """The short-link token of each address on the list, made the first time it is needed (in
    two queries for a whole batch; two workers making the same one at once keep one)."""
    from .models import ListLink

    wanted = {e.lower() for e in emails if e}
    if not wanted:
        return {}
    found = dict(
        ListLink.objects.filter(mailing_list_id=mailing_list_id, email__in=wanted).values_list(
            "email", "token"
        )
    )
    missing = wanted - found.keys()
    if missing:
        ListLink.objects.bulk_create(
            [ListLink(mailing_list_id=mailing_list_id, email=e) for e in sorted(missing)],
            ignore_conflicts=True,
        )
        found |= dict(
            ListLink.objects.filter(mailing_list_id=mailing_list_id, email__in=missing).values_list(
                "email", "token"
            )
        )
    return found


def read_unsubscribe_token(token: str) -> UnsubscribeRequest:
    """The request a token stands for, or signing.BadSignature (SignatureExpired when an old
    encrypted token is older than MAILING_UNSUBSCRIBE_TOKEN_DAYS)."""
    if LINK_TOKEN_RE.match(token):
        from .models import ListLink

        link = ListLink.objects.filter(token=token).values_list("mailing_list_id", "email")
        found = link.first()
        if found is None:
            raise signing.BadSignature("unknown link token")
        return UnsubscribeRequest(list_id=found[0], email=found[1])
    days = getattr(settings, "MAILING_UNSUBSCRIBE_TOKEN_DAYS", DEFAULT_MAX_AGE_DAYS)
    raw = (token + "=" * (-len(token) % 4)).encode()
    fernet = _fernet()
    try:
        payload = fernet.decrypt(raw)
        made = fernet.extract_timestamp(raw)
    except (InvalidToken, ValueError):
        raise signing.BadSignature("unreadable unsubscribe token") from None
    if time.time() - made > days * 86400:
        raise signing.SignatureExpired("unsubscribe token expired")
    try:
        list_id, email = json.loads(payload)
        return UnsubscribeRequest(list_id=int(list_id), email=str(email))
    except (TypeError, ValueError):
        raise signing.BadSignature("malformed unsubscribe token") from None


def unsubscribe_url(token: str) -> str:
    """The page (GET) and RFC 8058 one-click endpoint (POST) for TOKEN: one URL for both, as
    List-Unsubscribe-Post requires. Routed in config/urls.py as `mailing:link` (/u/<token>);
    old encrypted tokens keep their long form (`mailing:unsubscribe`)."""
    if LINK_TOKEN_RE.match(token):
        return f"{settings.SITE_URL}/u/{token}"
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
