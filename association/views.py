"""The municipality staff portal. Each view authorises through services.portal_contact()."""

from typing import cast

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import services
from .adapters import LOGIN_ADDRESS_SESSION_KEY
from .backends import PASSWORD_BACKEND
from .forms import ContactForm, HandOverForm
from .models import User


def _user(request: HttpRequest) -> User:
    # Every portal view is behind login_required, so the user is a real account.
    return cast(User, request.user)


def _login_address(request: HttpRequest) -> str:
    return str(request.session.get(LOGIN_ADDRESS_SESSION_KEY, ""))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    seen = getattr(request, "portal_view_as", None)
    if seen is not None:
        return redirect("portal:member", code=seen["code"])
    user = _user(request)
    contacts = services.portal_memberships(user, address=_login_address(request))
    if len(contacts) == 1 and contacts[0].user_id == user.pk:
        return redirect("portal:member", code=contacts[0].member.local_government_id)
    return render(request, "portal/choose_member.html", {"contacts": contacts})


@login_required
@require_POST
def switch_member(request: HttpRequest, code: str) -> HttpResponse:
    """Enter another membership of the same address: log in to that contact's own login."""
    address = _login_address(request)
    target = services.switch_login(_user(request), address=address, code=code)
    auth_login(request, target, backend=PASSWORD_BACKEND)
    request.session[LOGIN_ADDRESS_SESSION_KEY] = address
    return redirect("portal:member", code=code)


@login_required
def member_home(request: HttpRequest, code: str) -> HttpResponse:
    me = services.portal_contact(_user(request), code)
    member = me.member
    contacts = member.contacts.active().order_by("role", "kana", "id")
    ctx = {"member": member, "me": me, "contacts": contacts}
    return render(request, "portal/home.html", ctx)


@login_required
@require_POST
def training_copies(request: HttpRequest, code: str) -> HttpResponse:
    """A coordinator's own switch for the copies of her colleagues' training mails."""
    me = services.require_coordinator(_user(request), code)
    on = request.POST.get("copies") == "on"
    services.set_training_copies(me, on=on, by=_user(request))
    if on:
        messages.success(request, _("同僚の方への研修会のメールの写しを受け取ります。"))
    else:
        messages.success(
            request, _("同僚の方への研修会のメールの写しを受け取らないようにしました。")
        )
    return redirect("portal:member", code=code)


def _apply_errors(form, exc: ValidationError) -> None:  # type: ignore[no-untyped-def]
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)


@login_required
def contact_add(request: HttpRequest, code: str) -> HttpResponse:
    member = services.require_coordinator(_user(request), code).member
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.add_contact(member, by=_user(request), **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s さんを登録しました。") % {"name": contact.name})
            return redirect("portal:member", code=code)
    return render(request, "portal/contact_form.html", {"member": member, "form": form})


@login_required
def contact_hand_over(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    member = services.require_coordinator(_user(request), code).member
    contact = get_object_or_404(member.contacts.active(), pk=pk)
    colleagues = member.contacts.active().exclude(pk=contact.pk)
    form = HandOverForm(request.POST or None, colleagues=colleagues)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["existing"]:
                successor = services.hand_over_contact(
                    contact,
                    by=_user(request),
                    successor=data["existing"],  # type: ignore[arg-type]
                )
            else:
                fields = {
                    k: data[k] for k in ("name", "kana", "department", "title", "email", "phone")
                }
                successor = services.hand_over_contact(contact, by=_user(request), **fields)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(old)s さんから %(new)s さんへ担当を引き継ぎました。")
                % {"old": contact.name, "new": successor.name},
            )
            if contact.user_id == request.user.pk:
                return redirect("portal:home")
            return redirect("portal:member", code=code)
    ctx = {"member": member, "contact": contact, "form": form}
    return render(request, "portal/hand_over.html", ctx)


@login_required
@require_POST
def view_as_end(request: HttpRequest) -> HttpResponse:
    """End the secretariat's read-only view of a member's portal (association/view_as.py)."""
    from django.urls import reverse

    from . import view_as

    seen = request.session.get(view_as.SESSION_KEY)
    view_as.end(request)
    if seen is None:
        return redirect("portal:home")
    return redirect(reverse("admin:association_member_change", args=[seen["member"]]))
