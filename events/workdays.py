"""Working days as a Japanese office counts them: no weekends, no national holidays, and the
year-end break 12/29–1/3 (年末年始)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import jpholiday


def is_year_end_break(day: dt.date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not jpholiday.is_holiday(day) and not is_year_end_break(day)


@lru_cache(maxsize=1024)  # asked on every registration, for the few dates trainings start on
def working_days_before(day: dt.date, count: int) -> dt.date:
    """The working day COUNT working days before DAY (DAY itself never counts)."""
    current = day
    remaining = max(count, 0)
    while remaining:
        current -= dt.timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    if count == 0:
        return day
    return current
