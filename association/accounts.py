"""The secretariat's accounts: a password and a second factor (django-otp: TOTP from an
authenticator app, with single-use recovery codes). Each function is one act."""

from __future__ import annotations

import re

from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User
from .services import audit

RECOVERY_CODES = 10
APP_DEVICE_NAME = "認証アプリ"
RECOVERY_DEVICE_NAME = "回復コード"
TOTP_TOKEN = re.compile(r"^\d{6}$")


def has_second_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def start_enrolment(user: User) -> TOTPDevice:
    """The authenticator app to set up for a secretariat account that has none yet: one
    unconfirmed device per account, kept until it is confirmed with a code from the app."""
    TOTPDevice.objects.select_for_update().filter(user=user)
    if has_second_factor(user):
        raise ValueError("this account already has a second factor")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def confirm_enrolment(device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm DEVICE with a code from the app; returns the new recovery codes (shown once),
    or None when the code is wrong (Throttled right after wrong ones)."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.confirmed:
        return None
    if not device.verify_is_allowed()[0]:
        raise Throttled
    if not device.verify_token("".join(token.split())):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(device.user)
    audit(device.user, "second_factor_enrolled", device.user, "二段階認証を設定")
    return codes


@transaction.atomic
def new_recovery_codes(user: User, *, by: User | None = None) -> list[str]:
    """Replace the account's recovery codes (the old ones stop working)."""
    codes = _new_recovery_codes(user)
    audit(by or user, "recovery_codes_renewed", user, f"{user.get_username()}: 回復コードを再発行")
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


class Throttled(Exception):
    """django-otp refuses to check codes for a while after wrong ones (1 s, 2 s, 4 s, …)."""


def verify_second_factor(user: User, token: str) -> Device | None:
    """The device that accepts TOKEN: six digits are the app's code, anything else a recovery
    code (used up once accepted). Only that one device is tried, so a wrong app code does not
    throttle the recovery codes. Raises Throttled while django-otp holds the device back
    after wrong codes."""
    token = "".join(token.split())
    if not token:
        return None
    devices = (
        TOTPDevice.objects.filter(user=user, confirmed=True)
        if TOTP_TOKEN.match(token)
        else StaticDevice.objects.filter(user=user, confirmed=True)
    )
    with transaction.atomic():
        device = devices.select_for_update().first()
        if device is None:
            return None
        allowed, _extra = device.verify_is_allowed()
        if not allowed:
            raise Throttled
        if not device.verify_token(token):
            return None
    return device


@transaction.atomic
def reset_second_factor(user: User, *, by: User | None = None, note: str = "") -> int:
    """Remove the account's app and recovery codes (lost phone): the next login with the
    password sets a new app up. Ends the account's sessions verified with the old factor."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    removed += StaticDevice.objects.filter(user=user).delete()[0]
    audit(
        by,
        "second_factor_reset",
        user,
        f"{user.get_username()}: 二段階認証をリセット{f'（{note}）' if note else ''}",
    )
    return removed
