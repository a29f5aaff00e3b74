"""Trainings for the events tests, made through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from association.models import Block
from events import services
from events.models import Training

TOKYO = dt.timezone(dt.timedelta(hours=9))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TOKYO)


@pytest.fixture
def make_training(db) -> Callable[..., Training]:
    def make(**values: Any) -> Training:
        start = values.pop("starts_at", None) or (
            timezone.localtime() + dt.timedelta(days=30)
        ).replace(hour=13, minute=30, second=0, microsecond=0)
        fields: dict[str, Any] = {
            "kind": Training.Kind.NATIONAL,
            "title": "令和8年度 全体研修会",
            "starts_at": start,
            "ends_at": start + dt.timedelta(hours=3),
            "venue_name": "江戸川区総合文化センター",
            "venue_address": "東京都江戸川区中央4-14-1",
            "online_url": "https://meet.example.jp/renkei-2026",
            "capacity": 10,
            "per_member_limit": 3,
            "status": Training.Status.PUBLISHED,
            "nendo": 0,
        }
        fields.update(values)
        return services.save_training(Training(**fields))

    return make


@pytest.fixture
def kanto(registry) -> Block:
    return Block.objects.get(name="関東")


def deliver_pending() -> int:
    """Send every pending notice, as the worker would (unit tests never commit, so the tasks
    queued on commit never reach the broker)."""
    return services.deliver_pending_notices()
