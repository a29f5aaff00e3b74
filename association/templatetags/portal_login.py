from __future__ import annotations

import datetime as dt

from django import template

from association.adapters import login_code_expiry

register = template.Library()


@register.simple_tag(takes_context=True)
def login_code_expires(context: template.Context) -> dt.datetime:
    """Until when the pending login code works: the same clock time the code mail shows."""
    return login_code_expiry(context.get("request"))
