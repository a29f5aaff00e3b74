"""Helpers for the secretariat's door in tests: an enrolled authenticator app, and the code it
shows now (what a person reads off their phone)."""

from __future__ import annotations

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from association.models import User


def second_factor_device(user: User) -> TOTPDevice:
    """The account's confirmed authenticator app, set up if it has none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="認証アプリ", confirmed=True)
    return device


def totp_code(device: TOTPDevice, *, fresh: bool = True) -> str:
    """The code the app shows now. A code is accepted once: with FRESH, wait for the next
    30-second step when this one was already used."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if fresh and device.last_t >= totp.t():
        time.sleep(device.step - (time.time() - device.t0) % device.step + 0.1)
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
