"""The secretariat's door: the admin asks for the password and a second factor (django-otp's
OTPAdminSite, in one form), and an account without one sets up its authenticator app right
after the password, once. django-axes throttles the form (settings.AXES_*)."""

from __future__ import annotations

import io
import time
from base64 import b32encode
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import accounts
from .backends import PASSWORD_BACKEND
from .models import User

ENROL_SESSION_KEY = "secretariat_enrolment"
ENROL_SECONDS = 10 * 60  # the password step opens the setup for ten minutes


class SecretariatLoginForm(AdminAuthenticationForm):
    """Username, password and the code from the app (or a recovery code), in one step."""

    otp_token = forms.CharField(
        label=gettext_lazy("確認コード"),
        required=False,
        max_length=40,
        help_text=gettext_lazy(
            "認証アプリに表示される6桁の数字。スマートフォンが手元にない場合は回復コード。"
            "初めてログインするときは空欄のまま進んでください。"
        ),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": gettext_lazy(
            "ユーザー名かパスワードが違います（大文字と小文字は区別されます）。"
        ),
        "invalid_token": gettext_lazy(
            "確認コードが違うか、時間切れです。認証アプリの新しいコードを入力してください。"
        ),
        "enrol": gettext_lazy("二段階認証の設定に進みます。"),
        "throttled": gettext_lazy(
            "確認コードの誤りが続いたため、数秒から数分のあいだ確認を止めています。"
            "少し待ってから、新しいコードを入力してください。"
        ),
    }

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # the password, through authenticate() (and django-axes)
        user = self.get_user()
        if user is None:
            return data
        if not accounts.has_second_factor(user):
            # The password was right and the account has no app yet: open the setup, which
            # SecretariatAdminSite.login() sends the browser to.
            assert self.request is not None  # the admin's login view passes it
            self.request.session[ENROL_SESSION_KEY] = {"user": user.pk, "at": time.time()}
            raise forms.ValidationError(self.error_messages["enrol"], code="enrol")
        try:
            device = accounts.verify_second_factor(user, data.get("otp_token", ""))
        except accounts.Throttled:
            raise forms.ValidationError(
                self.error_messages["throttled"], code="throttled"
            ) from None
        if device is None:
            # A wrong second factor counts as a failed login for django-axes, per account
            # and per client address, like a wrong password.
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=self.request,
            )
            raise forms.ValidationError(self.error_messages["invalid_token"], code="invalid_token")
        # django_otp.login() keeps it in the session on login (its user_logged_in receiver).
        user.otp_device = device  # type: ignore[attr-defined]
        return data


class EnrolForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("認証アプリに表示された6桁の数字"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _qr_svg(data: str) -> str:
    import segno

    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def _grouped(secret: str) -> str:
    # Typed by hand into an app when the QR code cannot be scanned: in groups of four.
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class SecretariatAdminSite(OTPAdminSite):
    login_form = SecretariatLoginForm
    login_template = "admin/login.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        request.session.pop(ENROL_SESSION_KEY, None)
        response = super().login(request, extra_context)
        if request.method == "POST" and ENROL_SESSION_KEY in request.session:
            return HttpResponseRedirect(reverse("admin:enrol_second_factor"))
        return response

    def get_urls(self) -> list[URLPattern]:
        own = [path("enrol/", self.enrol_view, name="enrol_second_factor")]
        return own + super().get_urls()

    def _enrolling_user(self, request: HttpRequest) -> User | None:
        ticket = request.session.get(ENROL_SESSION_KEY) or {}
        if time.time() - float(ticket.get("at", 0)) > ENROL_SECONDS:
            return None
        user = User.objects.filter(
            pk=int(ticket.get("user") or 0), is_active=True, is_staff=True
        ).first()
        if user is None or accounts.has_second_factor(user):
            return None
        return user

    @method_decorator(never_cache)
    @method_decorator(sensitive_post_parameters("token"))
    def enrol_view(self, request: HttpRequest) -> HttpResponse:
        user = self._enrolling_user(request)
        if user is None:
            request.session.pop(ENROL_SESSION_KEY, None)
            return HttpResponseRedirect(reverse("admin:login"))
        device: TOTPDevice = accounts.start_enrolment(user)
        form = EnrolForm(request.POST or None)
        context = {
            **self.each_context(request),
            "title": _("二段階認証の設定"),
            "account": user,
            "form": form,
            "qr_svg": mark_safe(_qr_svg(device.config_url)),  # segno's own SVG markup
            "secret": _grouped(b32encode(device.bin_key).decode()),
        }
        if request.method == "POST" and form.is_valid():
            try:
                codes = accounts.confirm_enrolment(device, form.cleaned_data["token"])
            except accounts.Throttled:
                codes = None
                form.add_error(
                    "token",
                    _("誤りが続いたため確認を少し止めています。数秒待ってから入力してください。"),
                )
            if codes is None and not form.errors:
                form.add_error(
                    "token",
                    _("コードが違います。アプリに表示されている新しい6桁を入力してください。"),
                )
            else:
                request.session.pop(ENROL_SESSION_KEY, None)
                context = {**self.each_context(request), "title": _("回復コード"), "codes": codes}
                device.refresh_from_db()
                user.otp_device = device  # type: ignore[attr-defined]
                auth_login(request, user, backend=PASSWORD_BACKEND)
                return render(request, "admin/recovery_codes.html", context)
        return render(request, "admin/enrol_second_factor.html", context)


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer to a locked-out account or client (AXES_LOCKOUT_CALLABLE), in the
    admin's look and in Japanese."""
    from django.conf import settings
    from django.contrib import admin

    cooloff = settings.AXES_COOLOFF_TIME
    context = {
        **admin.site.each_context(request),
        "title": _("ログインを一時的に止めています"),
        "cooloff_minutes": int(cooloff.total_seconds() // 60) if cooloff else None,
    }
    return render(request, "admin/locked_out.html", context, status=429)
