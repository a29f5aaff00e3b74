from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    """{{ colleagues|get_item:r.member_id }}"""
    return mapping.get(key)
