"""年度 (the Japanese fiscal year, April to March) and 和暦 (era) dates."""

import datetime as dt
import re
import unicodedata

from django.utils import timezone
from django.utils.translation import gettext as _

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


# Era names as people type them: the name, its first letter (R8.4.1) in either case or width.
ERA_NAMES = {"令和": "令和", "r": "令和", "平成": "平成", "h": "平成", "昭和": "昭和", "s": "昭和"}
_SEP = r"\s*[-/.．／ー－年]\s*"
_WESTERN = re.compile(rf"^(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_ERA = re.compile(
    rf"^(令和|平成|昭和|[rhs])\s*(\d{{1,2}}|元){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})\s*日?$"
)
# A weekday after the date, as dates are shown (令和8年4月1日（水）): read and checked.
_WEEKDAY = re.compile(r"\s*[(（]\s*([月火水木金土日])\s*(?:曜日?)?\s*[)）]\s*$")


def parse_date(text: str) -> dt.date:
    """A date as a person types it: 2026-04-01, 2026/4/1, 2026.4.1, 20260401, 2026年4月1日,
    令和8年4月1日, 令和元年5月1日, R8.4.1, r8/4/1, in full- or half-width, with or without the
    weekday shown after it (which must then be that day's). Raises ValueError with a message
    in Japanese that says what was wrong."""
    original = text
    text = unicodedata.normalize("NFKC", text or "").strip().casefold()
    shown_weekday = None
    match = _WEEKDAY.search(text)
    if match:
        shown_weekday = match.group(1)
        text = text[: match.start()].strip()
    text = text.replace("月", "/")
    if not text:
        raise ValueError(_("日付を入力してください。"))
    if m := _ERA.match(text):
        era = ERA_NAMES[m.group(1)]
        number = 1 if m.group(2) == "元" else int(m.group(2))
        start = next(s for s, name in ERAS if name == era)
        year, month, day = start.year + number - 1, int(m.group(3)), int(m.group(4))
    elif m := _WESTERN.match(text) or _COMPACT.match(text):
        era = None
        year, month, day = (int(g) for g in m.groups())
    else:
        raise ValueError(
            _(
                "「%(text)s」を日付として読めません。2026-04-01、2026/4/1、2026年4月1日、"
                "令和8年4月1日、R8.4.1 のように入力してください。"
            )
            % {"text": original.strip()[:40]}
        )
    try:
        day_value = dt.date(year, month, day)
    except ValueError:
        raise ValueError(
            _("%(year)d年%(month)d月%(day)d日という日はありません。")
            % {"year": year, "month": month, "day": day}
        ) from None
    if era is not None and era_year(day_value)[0] != era:
        raise ValueError(
            _("%(text)sは%(era)sの期間にありません（%(actual)sです）。")
            % {
                "text": original.strip()[:40],
                "era": era,
                "actual": wareki(day_value, weekday=False),
            }
        )
    if shown_weekday is not None and WEEKDAYS[day_value.weekday()] != shown_weekday:
        raise ValueError(
            _("%(date)sは%(weekday)s曜日ではありません（%(actual)s曜日です）。")
            % {
                "date": wareki(day_value, weekday=False),
                "weekday": shown_weekday,
                "actual": WEEKDAYS[day_value.weekday()],
            }
        )
    return day_value
