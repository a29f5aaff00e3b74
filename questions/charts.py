"""Bar charts drawn on the server as SVG: no script, no CDN, readable without the picture
(the SVG carries a title and a description, and pages show the same figures in a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR = "#0b6e4f"  # 6.3:1 against white
TRACK = "#e4e7eb"
INK = "#1f2933"
WIDTH = 640
LABEL_WIDTH = 220
ROW = 30


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    caption: str  # what is printed at the end of the bar, e.g. "12（40.0%）"


def _clip(text: str, limit: int = 16) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(bars: Sequence[Bar], *, title: str, scale: float | None = None) -> SafeString:
    """Horizontal bars, one per item, their length VALUE / SCALE (default: the largest)."""
    top = scale if scale else max((b.value for b in bars), default=0) or 1
    height = ROW * len(bars) + 10
    track = WIDTH - LABEL_WIDTH - 120
    description = "、".join(f"{b.label}: {b.caption}" for b in bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
    ]
    for index, bar in enumerate(bars):
        y = 5 + index * ROW
        length = max(0.0, min(1.0, bar.value / top)) * track
        parts += [
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 19}" text-anchor="end" font-size="14" '
            f'fill="{INK}">{escape(_clip(bar.label))}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{track}" height="20" fill="{TRACK}"/>',
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{length:.1f}" height="20" fill="{BAR}"/>',
            f'<text x="{LABEL_WIDTH + track + 8}" y="{y + 19}" font-size="14" '
            f'fill="{INK}">{escape(bar.caption)}</text>',
        ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
