from typing import Any

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import filter_users_by_email
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest

from . import emails
from .models import Contact

LOGIN_CODE = "account/email/login_code"


class AccountAdapter(DefaultAccountAdapter):
    """No self-signup: an account exists only for an active contact (association.services)."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth renders its mail as it always does; the postbox sends it after the request
        (never inside it: a refusing or slow mail server must not show in the page)."""
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        emails.send_account_mail(
            message,
            contact_id=self._contact_id(email),
            login_code=template_prefix == LOGIN_CODE,
            lifetime=app_settings.LOGIN_BY_CODE_TIMEOUT,
        )

    @staticmethod
    def _contact_id(email: str) -> int | None:
        """The contact this mail is for, so that erasing the contact erases the mail (the user
        is the one allauth itself resolved the address to)."""
        users = filter_users_by_email(email, is_active=True)
        return (
            Contact.objects.filter(user__in=users)
            .order_by("-is_active", "pk")
            .values_list("pk", flat=True)
            .first()
        )
