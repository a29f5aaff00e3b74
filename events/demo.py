"""Demo trainings for `make run`: a national training, two block trainings and last year's,
with a few registrations from the demo members. Written through the services; running it
again changes nothing."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from association.models import Block, Contact
from association.nendo import nendo_of

from . import services
from .models import Training, TrainingSession
from .workdays import is_working_day


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _weekday_after(days: int, weekday: int = 4) -> dt.date:
    """The given weekday (Friday by default) on or after DAYS days from today, moved a week
    on while it falls on a holiday or the year-end break."""
    day = timezone.localdate() + dt.timedelta(days=days)
    day += dt.timedelta(days=(weekday - day.weekday()) % 7)
    while not is_working_day(day):
        day += dt.timedelta(days=7)
    return day


def _training(title: str, **values: object) -> tuple[Training, bool]:
    starts_at = values["starts_at"]
    assert isinstance(starts_at, dt.datetime)
    nendo = nendo_of(starts_at)
    existing = Training.objects.filter(title=title, nendo=nendo).first()
    if existing is not None:
        return existing, False
    training = Training(title=title, nendo=nendo, **values)
    return services.save_training(training), True


def load_demo_trainings() -> dict[str, int]:
    created = {"trainings": 0, "registrations": 0}
    national_day = _weekday_after(45)
    national, made = _training(
        "自殺対策全体研修会 〜地域における連携と支え合い〜",
        kind=Training.Kind.NATIONAL,
        description=(
            "全国の会員団体の担当者を対象に、自殺対策計画の推進と地域の連携について学びます。\n"
            "会場参加とオンライン参加を選べます。"
        ),
        starts_at=_at(national_day, 13, 30),
        ends_at=_at(national_day, 16, 45),
        venue_name="江戸川区総合文化センター 小ホール",
        venue_address="東京都江戸川区中央四丁目14番1号",
        online_url="https://meet.example.jp/renkei-zentai",
        capacity=100,
        per_member_limit=3,
        status=Training.Status.PUBLISHED,
    )
    if made:
        created["trainings"] += 1
        for start, end, title, speaker in [
            ((13, 30), (13, 40), "開会あいさつ", "市区町村会 会長"),
            ((13, 40), (15, 0), "基調講演「地域で支える自殺対策」", "NPO法人 代表"),
            ((15, 15), (16, 30), "事例報告・意見交換", "会員団体 担当者"),
            ((16, 30), (16, 45), "閉会", ""),
        ]:
            TrainingSession.objects.create(
                training=national,
                starts_at=_at(national_day, *start),
                ends_at=_at(national_day, *end),
                title=title,
                speaker=speaker,
            )
    kanto_day = _weekday_after(30, weekday=2)
    kanto = Block.objects.filter(name="関東").first()
    if kanto is not None:
        _, made = _training(
            "関東ブロック研修会（ゲートキーパー養成）",
            kind=Training.Kind.BLOCK,
            block=kanto,
            audience=Training.Audience.BLOCK_FIRST,
            others_from=_at(timezone.localdate() + dt.timedelta(days=14), 9),
            starts_at=_at(kanto_day, 14),
            ends_at=_at(kanto_day, 16),
            venue_name="足立区役所 庁舎ホール",
            venue_address="東京都足立区中央本町一丁目17番1号",
            capacity=6,
            per_member_limit=2,
            status=Training.Status.PUBLISHED,
        )
        created["trainings"] += made
    kinki = Block.objects.filter(name="近畿").first()
    if kinki is not None:
        kinki_day = _weekday_after(60, weekday=1)
        _, made = _training(
            "近畿ブロック研修会（オンライン）",
            kind=Training.Kind.BLOCK,
            block=kinki,
            audience=Training.Audience.EVERYONE,
            starts_at=_at(kinki_day, 10),
            ends_at=_at(kinki_day, 12),
            online_url="https://meet.example.jp/renkei-kinki",
            capacity=50,
            per_member_limit=3,
            status=Training.Status.PUBLISHED,
        )
        created["trainings"] += made
    last_year = timezone.localdate() - dt.timedelta(days=330)
    _, made = _training(
        "自殺対策全体研修会（前年度）",
        kind=Training.Kind.NATIONAL,
        starts_at=_at(last_year, 13, 30),
        ends_at=_at(last_year, 16, 30),
        venue_name="江戸川区総合文化センター",
        capacity=80,
        per_member_limit=3,
        status=Training.Status.FINISHED,
    )
    created["trainings"] += made

    # A few registrations, so the list shows seats taken and a waiting list.
    contacts = Contact.objects.active().select_related(
        "member__local_government__prefecture__block", "member__block_override"
    )
    tokyo = [c for c in contacts if c.member.local_government.prefecture.name in ("東京都",)]
    kanto_training = Training.objects.filter(title__startswith="関東ブロック研修会").first()
    for contact in tokyo[:3]:
        before = national.registrations.count()
        services.register_for_training(national, contact=contact)
        created["registrations"] += national.registrations.count() - before
    if kanto_training is not None:
        in_kanto = [c for c in contacts if c.member.block.name == "関東"]
        for contact in in_kanto[:8]:
            before = kanto_training.registrations.count()
            services.register_for_training(kanto_training, contact=contact)
            created["registrations"] += kanto_training.registrations.count() - before
    return created
