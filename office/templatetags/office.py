from __future__ import annotations

from typing import Any

from django import template

from association.nendo import nendo_label, wareki

from .. import dashboard

register = template.Library()


@register.inclusion_tag("office/dashboard.html", takes_context=True)
def office_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    """The day's work, on the admin's home page (templates/office/index.html)."""
    request = context["request"]
    return {"board": dashboard.build(request), "request": request}


@register.filter
def wareki_date(value: Any) -> str:
    """令和8年4月1日（水） for a date or an aware datetime (in Asia/Tokyo)."""
    return wareki(value) if value else ""


@register.filter
def nendo_name(value: int) -> str:
    return nendo_label(int(value)) if value else ""


@register.inclusion_tag("office/member_story.html", takes_context=True)
def member_story(context: dict[str, Any], member: Any) -> dict[str, Any]:
    """The story panel on a member's admin page (templates/admin/association/member/)."""
    from association.privacy import can_see_personal_data

    from ..story import member_story as build

    request = context["request"]
    return {
        "story": build(member, show_people=can_see_personal_data(request.user)),
        "member": member,
        "request": request,
    }


@register.inclusion_tag("office/_certificate_link.html")
def certificate_link(registration: Any, code: str) -> dict[str, Any]:
    """The portal's 参加証明書 link on a training page, or, while the training's survey waits
    for this attendee's answer, a note that the survey comes first (with its link)."""
    from ..papers import survey_first

    return {"registration": registration, "code": code, "survey": survey_first(registration)}
