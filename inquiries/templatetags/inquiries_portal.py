from typing import Any

from django import template

from association.models import Contact, Member

register = template.Library()


@register.simple_tag
def member_inquiry_rows(member: Member) -> list[Any]:
    """The portal home's 照会 section."""
    from ..views import member_replies

    return member_replies(member)


@register.simple_tag
def my_open_surveys(me: Contact) -> list[Any]:
    from ..services import open_surveys_for

    return open_surveys_for(me)


@register.simple_tag
def archived_results(user: Any, search: dict[str, Any] | None = None) -> list[Any]:
    """The published 照会 results for the bulletin archive page, by the results pages' own rule
    (views.may_read_results), narrowed by the archive's search: its words (folded as every
    search is) in the title, its 年度 by the deadline; none when one mailing list is chosen, as
    results belong to no list. Published results are counted in tens: folded here, not stored."""
    from association.nendo import nendo_of
    from association.search import fold, terms

    from ..views import may_read_results, published_results

    if not may_read_results(user):
        return []
    search = search or {}
    if search.get("mailing_list"):
        return []
    words = terms(search.get("q") or "")
    nendo = search.get("nendo")
    return [
        inquiry
        for inquiry in published_results()
        if all(word in fold(inquiry.title) for word in words)
        and (not nendo or nendo_of(inquiry.deadline) == int(nendo))
    ]


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "")
