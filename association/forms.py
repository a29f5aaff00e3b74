from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from allauth.account.forms import RequestLoginCodeForm as AllauthRequestLoginCodeForm
from allauth.core import context, ratelimit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Contact
from .nendo import parse_date


class RequestLoginCodeForm(AllauthRequestLoginCodeForm):
    """allauth's code request, with the portal's one rule for which login an address opens
    (services.logins_for_address: active contacts by their own key, never a secretariat or a
    reserved address). Known or not, the answer is the same; only a login gets a mail."""

    email = forms.EmailField(label=_("メールアドレス"), max_length=254)

    def clean_email(self) -> str:
        typed = self.cleaned_data["email"]
        try:
            email = services.normalise_email(typed)
        except ValidationError:
            email = typed.strip().lower()
        logins = services.logins_for_address(email)
        if not ratelimit.consume(context.request, action="request_login_code", key=email):
            raise ValidationError(
                _(
                    "このアドレスへのコードのお求めが短い間に続いたため、いまは送れません。"
                    "数分おいてから、もう一度お試しください。"
                ),
                code="too_many_requests",
            )
        self._user = logins[0] if logins else None
        return email


class ContactForm(forms.Form):
    name = forms.CharField(label=_("氏名"), max_length=60)
    kana = forms.CharField(label=_("ふりがな"), max_length=120, required=False)
    department = forms.CharField(label=_("所属"), max_length=120, required=False)
    title = forms.CharField(label=_("役職"), max_length=60, required=False)
    email = forms.CharField(label=_("メールアドレス"), max_length=254)
    phone = forms.CharField(label=_("電話番号"), max_length=30, required=False)
    role = forms.ChoiceField(label=_("役割"), choices=Contact.Role.choices, initial="staff")


class HandOverForm(forms.Form):
    """The successor is a new person (the usual April case) or an existing colleague."""

    existing = forms.ModelChoiceField(
        label=_("既存の担当者から選ぶ"), queryset=Contact.objects.none(), required=False
    )
    name = forms.CharField(label=_("後任の氏名"), max_length=60, required=False)
    kana = forms.CharField(label=_("ふりがな"), max_length=120, required=False)
    department = forms.CharField(label=_("所属"), max_length=120, required=False)
    title = forms.CharField(label=_("役職"), max_length=60, required=False)
    email = forms.CharField(label=_("メールアドレス"), max_length=254, required=False)
    phone = forms.CharField(label=_("電話番号"), max_length=30, required=False)

    def __init__(self, *args, colleagues=None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if colleagues is not None:
            self.fields["existing"].queryset = colleagues  # type: ignore[attr-defined]

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean() or {}
        if not data.get("existing") and not (data.get("name") and data.get("email")):
            raise forms.ValidationError(
                _(
                    "後任を既存の担当者から選ぶか、新しい方の氏名とメールアドレスを入力してください。"
                )
            )
        return data


class ImportForm(forms.Form):
    file = forms.FileField(label=_("ファイル（CSV または Excel）"))
    dry_run = forms.BooleanField(label=_("確認のみ（書き込まない）"), required=False, initial=True)


class JapaneseDateField(forms.DateField):
    """A date typed as people type it (association.nendo.parse_date: 2026/4/1, 令和8年4月1日,
    R8.4.1, full-width digits...). Every date in the admin uses it (config/admin_apps.py)."""

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if value in self.empty_values or not str(value).strip():
            return None
        try:
            return parse_date(str(value))
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class JapaneseTimeField(forms.TimeField):
    """A time typed 9:30, ９：３０ or 9時30分."""

    def to_python(self, value: Any) -> dt.time | None:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
            value = re.sub(r"^(\d{1,2})時(?:(\d{1,2})分?)?$", _time_from_kanji, value)
        return super().to_python(value)


def _time_from_kanji(match: re.Match[str]) -> str:
    return f"{match.group(1)}:{match.group(2) or '00'}"


class JapaneseSplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date-and-time pair with the date and time read as above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        date_field, time_field = self.fields
        self.fields = (
            JapaneseDateField(error_messages=date_field.error_messages),
            JapaneseTimeField(error_messages=time_field.error_messages),
        )


class MembershipChangeForm(forms.Form):
    """退会 or 再入会 of the members listed on the confirmation page: a date and a reason."""

    on = JapaneseDateField(label=_("日付"), help_text=_("例: 令和8年3月31日、2026/3/31"))
    reason = forms.CharField(
        label=_("理由"),
        max_length=200,
        help_text=_("入退会履歴に残ります（200字まで）。例: 総会での承認、団体からの申し出"),
    )

    def clean_reason(self) -> str:
        # One line in the history: a pasted line break becomes a space.
        return " ".join(str(self.cleaned_data["reason"]).split())
