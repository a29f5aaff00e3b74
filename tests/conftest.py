"""Shared fixtures. Setup goes through services; only a provider's HTTP API is ever faked."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from association import services
from association.models import Contact, LocalGovernment, Member
from mailing.outbox import OutboxItem, read_outbox

from .browser import page
from .door import second_factor_device
from .workers import celery_worker

__all__ = ["celery_worker", "page"]


class Outbox:
    """The mail this test sent. In a test wrapped in a transaction nothing ever commits, so no
    worker could see what the postbox queued: reading the outbox there first sends it, in this
    process, through the service the worker runs (postbox.services.send_due_mail). Tests on
    committed data (transaction=True) get their mail from a real worker instead."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self) -> list[OutboxItem]:
        if connection.in_atomic_block:
            from postbox.services import send_due_mail

            send_due_mail()
        return list(reversed(read_outbox(self.directory)))  # oldest first

    def to(self, address: str) -> list[OutboxItem]:
        return [m for m in self.messages() if address in m.to]

    def __len__(self) -> int:
        return len(self.messages())


@pytest.fixture(autouse=True)
def outbox(settings, tmp_path) -> Outbox:
    """Every test writes mail to its own outbox directory."""
    settings.EMAIL_BACKEND = "mailing.outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    return Outbox(settings.OUTBOX_DIR)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests log in hundreds of times; the hash's strength is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(monkeypatch):
    """force_login() stands for "this person came in through the door". For a secretariat
    account the door asks for a second factor too: record one in the session as the admin's
    login form does. The door itself is tested through its real form (tests/security/)."""
    original = Client.force_login

    def force_login(self, user, backend=None):  # type: ignore[no-untyped-def]
        original(self, user, backend)
        if user.is_staff or user.is_superuser:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = second_factor_device(user).persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _own_cache(settings, tmp_path):
    """Rate limits live in the cache; each test starts with an empty one."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def registry(db) -> None:
    call_command("load_local_governments", stdout=io.StringIO())


def lg(full_name: str) -> LocalGovernment:
    for item in LocalGovernment.objects.select_related("prefecture"):
        if item.full_name == full_name:
            return item
    raise LookupError(full_name)


@pytest.fixture
def edogawa(registry) -> Member:
    return services.admit_member(lg("東京都江戸川区"), joined_on=dt.date(2011, 7, 1))


@pytest.fixture
def adachi(registry) -> Member:
    return services.admit_member(lg("東京都足立区"), joined_on=dt.date(2011, 7, 1))


@pytest.fixture
def alice(edogawa) -> Contact:
    """江戸川区's coordinator."""
    return services.add_contact(
        edogawa,
        name="佐藤 美咲",
        kana="さとう みさき",
        email="alice@city.edogawa.example.jp",
        role="coordinator",
        department="健康部 保健予防課",
    )


@pytest.fixture
def bob(edogawa) -> Contact:
    """江戸川区's staff member."""
    return services.add_contact(
        edogawa, name="鈴木 健太", kana="すずき けんた", email="bob@city.edogawa.example.jp"
    )


@pytest.fixture
def charlie(adachi) -> Contact:
    """足立区's coordinator: another municipality."""
    return services.add_contact(
        adachi,
        name="高橋 由美子",
        kana="たかはし ゆみこ",
        email="charlie@city.adachi.example.jp",
        role="coordinator",
    )
