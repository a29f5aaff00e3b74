"""allauth, narrowed to what the portal needs: login by a mailed code, for the logins of
active contacts only (association.services.logins_for_address), no signup, no other mail."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import emails

LOGIN_CODE_MAIL = "account/email/login_code"
# The address a login code was mailed to and entered from, for switching between the
# memberships that address opens (services.portal_memberships).
LOGIN_ADDRESS_SESSION_KEY = "portal_login_address"


def client_ip(request: HttpRequest) -> str | None:
    """The client's address behind the configured number of trusted proxies
    (TRUSTED_PROXY_COUNT → allauth's ALLAUTH_TRUSTED_PROXY_COUNT). The one rule for allauth's
    rate limits and for django-axes (AXES_CLIENT_IP_CALLABLE); None when a request has no
    address at all (a login made in code, not over HTTP)."""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None


def login_code_expiry(request: HttpRequest | None) -> dt.datetime:
    """When the code being mailed stops working. allauth counts the timeout from the first
    request, also for a resent code; on a resend the pending login is on the request."""
    stage = getattr(request, "_login_stage", None)
    started = float(stage.state.get("at", time.time())) if stage is not None else time.time()
    expires = dt.datetime.fromtimestamp(started + account_settings.LOGIN_BY_CODE_TIMEOUT, dt.UTC)
    return timezone.localtime(expires)


class AccountAdapter(DefaultAccountAdapter):
    """No self-signup: an account exists only for an active contact (association.services)."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # allauth says this when the attempts at one code are used up.
        "too_many_login_attempts": _(
            "コードの入力を続けて間違えたため、このコードは使えなくなりました。"
            "お手数ですが、もう一度コードを受け取ってください。"
        ),
        "incorrect_code": _("コードが違います。メールに書かれたコードをもう一度ご確認ください。"),
        "rate_limited": _(
            "短い間に何度もお求めいただいたため、いまは受け付けられません。"
            "数分おいてからもう一度お試しください。"
        ),
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def login(self, request: HttpRequest, user: Any) -> None:
        super().login(request, user)
        # Only the code login is mounted: the code went to this login's own address.
        request.session[LOGIN_ADDRESS_SESSION_KEY] = user.email

    def respond_user_inactive(self, request: HttpRequest, user: Any) -> HttpResponse:
        # The contact lost the portal between asking for the code and entering it.
        messages.error(
            request,
            _(
                "このアドレスでは現在ログインできません。団体の取りまとめ担当の方か、"
                "事務局にお問い合わせください。"
            ),
        )
        return HttpResponseRedirect(reverse("account_request_login_code"))

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # The only allauth mail that can happen with the three doors mounted is the login code
        # (unknown addresses get none: ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS is off).
        if template_prefix != LOGIN_CODE_MAIL:
            raise RuntimeError(f"unexpected allauth mail {template_prefix}")
        emails.send_login_code(
            email, code=context["code"], expires_at=login_code_expiry(context.get("request"))
        )
