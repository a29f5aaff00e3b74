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


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "")
