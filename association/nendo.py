"""年度 (the Japanese fiscal year, April to March) and 和暦 (era) dates."""

import datetime as dt

from django.utils import timezone

ERAS = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
)
WEEKDAYS = "月火水木金土日"


def nendo_of(day: dt.date | dt.datetime | None = None) -> int:
    """The 年度 (as a Western year) that DAY belongs to: 2026-03-31 is 2025年度."""
    if day is None:
        day = timezone.localdate()
    if isinstance(day, dt.datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    return day.year if day.month >= 4 else day.year - 1


def nendo_range(nendo: int) -> tuple[dt.date, dt.date]:
    return dt.date(nendo, 4, 1), dt.date(nendo + 1, 3, 31)


def era_year(day: dt.date) -> tuple[str, int]:
    for start, name in ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError(f"{day} is before 昭和")


def _year_label(name: str, number: int) -> str:
    return f"{name}{'元' if number == 1 else number}年"


def wareki(day: dt.date | dt.datetime, *, weekday: bool = True) -> str:
    """令和8年3月5日（木）"""
    if isinstance(day, dt.datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    name, number = era_year(day)
    text = f"{_year_label(name, number)}{day.month}月{day.day}日"
    if weekday:
        text += f"（{WEEKDAYS[day.weekday()]}）"
    return text


def nendo_label(nendo: int) -> str:
    """令和8年度 for 2026."""
    name, number = era_year(dt.date(nendo, 4, 1))
    return f"{_year_label(name, number)}度"
