from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    """No self-signup: an account exists only for an active contact (association.services)."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False
