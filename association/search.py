"""Search as people type: one folding rule for what is stored and what is typed.

fold() makes the forms a person may type of the same word equal: full- and half-width
(ＡＢＣ１２３ / ABC123, ｻﾄｳ / サトウ), katakana and hiragana (サトウ / さとう), case, spaces (佐藤 美咲
/ 佐藤美咲), and the variant characters common in names (髙 / 高, 﨑 / 崎, 邊 / 辺). Each
searchable model stores the folded form of what it is found by in a `search_text` column
(kept by the model's save(), indexed with trigrams on PostgreSQL), and a query is folded the
same way and compared with LIKE on that column: no per-row function, no scan of another table.
A contact's column carries its member's name and code too, so that 東京都江戸川区, えどがわ or the
code (with or without its check digit) find the contacts of 江戸川区 from one column.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import jaconv
from django.db.models import Q, QuerySet
from django.http import HttpRequest

# Variant forms (異体字) that people type either way in names, mapped to the common form. Only
# pairs that denote the same name are here; 斉/斎 and 沢/澤 are written apart on purpose by
# some families, but a search for one should still find the other.
VARIANTS = str.maketrans(
    {
        "髙": "高",
        "﨑": "崎",
        "嵜": "崎",
        "𠮷": "吉",
        "邊": "辺",
        "邉": "辺",
        "齋": "斎",
        "齊": "斎",
        "斉": "斎",
        "濵": "浜",
        "濱": "浜",
        "澤": "沢",
        "嶋": "島",
        "嶌": "島",
        "廣": "広",
        "國": "国",
        "櫻": "桜",
        "惠": "恵",
        "德": "徳",
        "冨": "富",
        "眞": "真",
        "槇": "槙",
        "淵": "渕",
        "籠": "篭",
        "龍": "竜",
        "實": "実",
        "壽": "寿",
        "條": "条",
        "會": "会",
        "舘": "館",
        # 霞ヶ関 and 霞ケ関, 一ヵ月 and 一カ月: the small ヵ/ヶ (as kata2hira leaves them too).
        "ゖ": "け",
        "ゕ": "か",
        "ヶ": "け",
        "ヵ": "か",
        # Dashes typed in codes and phone numbers.
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
        "・": None,
        "･": None,
    }
)

# Stored columns join their parts with this; fold() keeps it out of typed queries.
SEPARATOR = "|"


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = jaconv.kata2hira(text).translate(VARIANTS)
    text = unicodedata.normalize("NFKC", text.casefold())
    return "".join(ch for ch in text if not ch.isspace() and ch != SEPARATOR)


def fold(text: str) -> str:
    """The searchable form of TEXT. fold(fold(x)) == fold(x) (tests/association/test_search.py)."""
    folded = _fold_once(text or "")
    # Case folding can leave a character that normalisation composes anew (and vice versa);
    # a few rounds reach the fixed point for any text, and one for Japanese and ASCII.
    for _round in range(4):
        again = _fold_once(folded)
        if again == folded:
            break
        folded = again
    return folded


def search_text(*parts: object) -> str:
    """What a row is found by: its parts folded, joined by SEPARATOR, empty parts left out."""
    return SEPARATOR.join(f for f in (fold(str(p)) for p in parts if p) if f)


def terms(query: str) -> list[str]:
    """The folded words of a typed query: each must match (AND), as the admin's search does."""
    return [t for t in (fold(word) for word in (query or "").split()) if t]


def folded_q(query: str, fields: Sequence[str]) -> Q | None:
    """Q for rows where every word of QUERY is in one of FIELDS; None when nothing searchable
    was typed. A field named `search_text` (or `relation__search_text`) is a folded column and
    is compared with the folded word; any other field with the word as typed, ignoring case."""
    words = (query or "").split()
    if not terms(query) or not fields:
        return None
    condition = Q()
    for word in words:
        folded = fold(word)
        any_field = Q()
        for name in fields:
            if name == "search_text" or name.endswith("__search_text"):
                if folded:
                    any_field |= Q(**{f"{name}__contains": folded})
            else:
                any_field |= Q(**{f"{name}__icontains": word})
        if any_field:
            condition &= any_field
    return condition


class FoldedSearchMixin:
    """An admin whose search_fields name folded columns (`search_text`, or a relation's):
    the query is folded with the same rule and matched with LIKE on them. Used by changelists
    and by autocomplete (which calls get_search_results too)."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        fields: Iterable[str] = self.get_search_fields(request)  # type: ignore[attr-defined]
        condition = folded_q(search_term, list(fields))
        if condition is None:
            return queryset, False
        return queryset.filter(condition), False


def refresh_search_text(rows: QuerySet[Any], *, batch_size: int = 2000) -> int:
    """Recompute the search_text of ROWS (prefectures, governments or contacts), in batches
    and with one query per batch: after a government is renamed, or for rows stored before
    the column existed. Returns how many changed."""
    from .models import Contact, LocalGovernment, Prefecture

    model = rows.model
    member_texts: dict[int, str] = {}
    if model is Contact:
        member_texts = dict(
            LocalGovernment.objects.filter(member__isnull=False).values_list(
                "member__pk", "search_text"
            )
        )
    elif model is LocalGovernment:
        rows = rows.select_related("prefecture")
    elif model is not Prefecture:
        raise TypeError(f"{model._meta.label} has no search_text")
    changed: list[Any] = []
    total = 0
    for row in rows.order_by("pk").iterator(chunk_size=batch_size):
        value = (
            row.folded(member_texts.get(row.member_id, "")) if model is Contact else row.folded()
        )
        if value != row.search_text:
            row.search_text = value
            changed.append(row)
        if len(changed) >= batch_size:
            model._default_manager.bulk_update(changed, ["search_text"])
            total += len(changed)
            changed = []
    if changed:
        model._default_manager.bulk_update(changed, ["search_text"])
        total += len(changed)
    return total


def fill_search_text(**_signal: Any) -> None:
    """post_migrate: give rows stored before the column existed their search_text (a
    migration never imports this rule, so it cannot do it itself). Cheap once filled."""
    from .models import Contact, LocalGovernment, Prefecture

    for model in (Prefecture, LocalGovernment, Contact):
        refresh_search_text(model._default_manager.filter(search_text=""))
