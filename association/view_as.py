"""「この団体としてポータルを見る」: the secretariat, for support, sees a member's portal pages as
its coordinator would, read-only (issue 10 §2).

Never a login as that person: the secretariat user stays logged in as themselves; only the
portal's one question "which contact is this user?" (ContactQuerySet.for_user) answers with the
member's coordinator while the view lasts. Every request that could write (anything but GET,
HEAD, OPTIONS) is refused while it lasts, on every page, except ending the view and logging out.
It takes a permission of its own, lasts LASTS, ends on logout (the session goes), and both its
start and its end are audited."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from .models import Contact, Member, User
from .privacy import can_see_personal_data
from .services import audit

SESSION_KEY = "portal_view_as"
PERMISSION = "association.view_portal_as_member"
LASTS = dt.timedelta(minutes=30)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def may_view_as(user: Any) -> bool:
    """The view's own permission, and the personal-data one: the portal shows the member's
    people by name, which the admin shows only to those who may see them."""
    return bool(
        user.is_authenticated
        and user.is_staff
        and user.has_perm(PERMISSION)
        and can_see_personal_data(user)
    )


def viewing_as(request: HttpRequest) -> bool:
    """Whether REQUEST is shown a member's portal read-only: a GET must then write nothing and
    hand out no secret that outlives the view (a calendar feed URL)."""
    return getattr(request, "portal_view_as", None) is not None


def start(request: HttpRequest, member: Member) -> Contact:
    """Begin viewing MEMBER's portal as its (first) coordinator; audited."""
    user: User = request.user  # type: ignore[assignment]
    if not may_view_as(user):
        raise PermissionDenied(_("この団体としてポータルを表示する権限がありません。"))
    if SESSION_KEY in request.session:
        end(request)  # a view over a view: the first one's end is recorded too
    coordinator = (
        member.contacts.portal().filter(role=Contact.Role.COORDINATOR).order_by("id").first()
    )
    if coordinator is None:
        raise ValidationError(
            _("この団体には取りまとめ担当の方がいないため、ポータルを表示できません。")
        )
    until = time.time() + LASTS.total_seconds()
    request.session[SESSION_KEY] = {
        "contact": coordinator.pk,
        "member": member.pk,
        "code": member.local_government_id,
        "name": member.name,
        "until": until,
    }
    audit(
        user,
        "portal_viewed_as_member",
        member,
        f"{member.name}のポータルを閲覧のみで表示（{{contact}}の画面、{int(LASTS.total_seconds() // 60)}分まで）",
        people={"contact": coordinator},
    )
    return coordinator


def end(request: HttpRequest) -> None:
    """End the view (asked, timed out, the permission gone, logging out); audited."""
    seen = request.session.pop(SESSION_KEY, None)
    if seen is not None and request.user.is_authenticated:
        member = Member.objects.filter(pk=seen["member"]).first()
        if member is not None:
            audit(
                request.user,  # type: ignore[arg-type]
                "portal_view_as_ended",
                member,
                f"{member.name}のポータルの閲覧のみ表示を終了",
            )


def _allowed_posts() -> set[str]:
    return {reverse("portal:view_as_end"), reverse("account_logout")}


class ReadOnlyViewMiddleware:
    """While a view lasts: the portal sees the coordinator (user.portal_view_as, read by
    ContactQuerySet.for_user), templates see request.portal_view_as (the banner), and every
    request that could write is refused with a page that says why."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seen = request.session.get(SESSION_KEY)
        if seen is None:
            return self.get_response(request)
        if not may_view_as(request.user) or time.time() > seen["until"]:
            # Expired, or the permission was taken away meanwhile: back to the user's own view.
            end(request)
            return self.get_response(request)
        request.user.portal_view_as = seen["contact"]  # type: ignore[union-attr]
        request.portal_view_as = seen  # type: ignore[attr-defined]
        if request.method not in SAFE_METHODS and request.path not in _allowed_posts():
            return render(request, "portal/view_as_refused.html", {"seen": seen}, status=403)
        return self.get_response(request)


def end_on_logout(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """user_logged_out: Django sends it before the session is flushed, so the end is audited."""
    if request is not None and hasattr(request, "session"):
        end(request)
