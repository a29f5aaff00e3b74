"""The aggregate of a 照会 or survey as pages show it (the admin's 集計 and the published
page): per question the figures, a chart drawn on the server, and the same figures by block
and prefecture in tables (the chart is never the only way to read them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from questions.aggregate import NumberStats, Summary
from questions.charts import Bar, bar_chart

from . import services
from .models import Inquiry


@dataclass
class Item:
    number: int
    summary: Summary
    chart: SafeString | None = None
    numbers: dict[str, str] = field(default_factory=dict)
    group_numbers: dict[str, list[tuple[str, dict[str, str]]]] = field(default_factory=dict)


def number_figures(stats: NumberStats | None, unit: str) -> dict[str, str]:
    if stats is None:
        return {}
    return {
        "count": str(stats.count),
        "total": stats.text(stats.total if stats.count else None, unit),
        "mean": stats.text(stats.mean, unit),
        "minimum": stats.text(stats.minimum, unit),
        "maximum": stats.text(stats.maximum, unit),
    }


GROUP_LABELS = {"block": "ブロック別", "prefecture": "都道府県別"}


def context(inquiry: Inquiry, *, include_text: bool = True) -> dict[str, Any]:
    items = []
    for number, summary in enumerate(services.summary(inquiry, include_text=include_text), start=1):
        item = Item(number=number, summary=summary)
        if summary.counts:
            item.chart = bar_chart(
                [Bar(c.choice, c.count, f"{c.count}（{c.share:.1%}）") for c in summary.counts],
                title=_("問%(n)d %(q)s") % {"n": number, "q": summary.question.text},
            )
        if summary.numbers is not None:
            unit = summary.question.unit
            item.numbers = number_figures(summary.numbers, unit)
            item.group_numbers = {
                key: [(g.name, number_figures(g.numbers, unit)) for g in groups]
                for key, groups in summary.groups.items()
            }
        items.append(item)
    return {
        "inquiry": inquiry,
        "progress": services.progress(inquiry),
        "items": items,
        "group_labels": {k: _(v) for k, v in GROUP_LABELS.items()},
        "include_text": include_text,
    }
