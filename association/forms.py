from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from allauth.account.forms import ConfirmLoginCodeForm as AllauthConfirmLoginCodeForm
from allauth.account.forms import RequestLoginCodeForm as AllauthRequestLoginCodeForm
from allauth.core import context, ratelimit
from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import from_current_timezone
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Contact
from .nendo import parse_date

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# --- wording of the member-facing forms ---------------------------------------------------------

CHOOSE = _("選んでください")


def _short_label(field: forms.Field) -> str:
    """「申し込む方（複数選べます）」 → 「申し込む方」: a label's note does not belong in a sentence."""
    return re.sub(r"[（(][^）)]*[）)]$", "", str(field.label or "")).strip() or str(_("この項目"))


def _defaults(field: forms.Field) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for cls in reversed(type(field).__mro__):
        messages.update(getattr(cls, "default_error_messages", {}))
    return messages


def _about(field: forms.Field, text: StrOrPromise) -> str:
    """TEXT about FIELD, its label read when the message is shown: a form may relabel a field
    after it was built (events.forms.ColleagueForm)."""
    return lazy(lambda: str(text) % {"label": _short_label(field)}, str)()


def _wording(field: forms.Field) -> dict[str, StrOrPromise]:
    if isinstance(field, forms.FileField):
        required = _("%(label)sのファイルを選んでください。")
    elif isinstance(field, forms.ChoiceField | forms.ModelChoiceField):
        required = _("%(label)sを選んでください。")
    else:
        required = _("%(label)sを入力してください。")
    not_listed = _("%(label)sは一覧の中から選んでください。")
    return {
        "required": _about(field, required),
        "max_length": _about(
            field,
            _(
                "%(label)sは%%(limit_value)d文字以内で入力してください（いま%%(show_value)d文字です）。"
            ),
        ),
        "invalid": (
            _("メールアドレスの形が正しくありません（例: taro@city.example.lg.jp）。")
            if isinstance(field, forms.EmailField)
            else _about(field, _("%(label)sの形が正しくありません。"))
        ),
        "invalid_choice": _about(field, not_listed),
        "invalid_list": _about(field, not_listed),
        "invalid_pk_value": _about(field, not_listed),
        "empty": _("選んだファイルは空です。中身のあるファイルを選んでください。"),
        "missing": _("ファイルが届きませんでした。もう一度選んでください。"),
    }


def word_for_members(form: forms.BaseForm) -> None:
    """The one place that words a member-facing form's errors. Django's own (English, or its
    Japanese catalogue's 「このフィールドは必須です。」) say nothing about which field or what to
    do; a message the form itself set is kept. An empty choice reads 「選んでください」, never
    「---------」."""
    for field in form.fields.values():
        defaults = _defaults(field)
        for code, message in _wording(field).items():
            current = field.error_messages.get(code)
            if current is None or str(current) == str(defaults.get(code)):
                field.error_messages[code] = message
        if isinstance(field, forms.ModelChoiceField) and field.empty_label == "---------":
            field.empty_label = str(CHOOSE)


class MemberForm(forms.Form):
    """A form a member's staff fills in: worded by word_for_members."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        word_for_members(self)


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        word_for_members(self)


class ConfirmLoginCodeForm(AllauthConfirmLoginCodeForm):
    """allauth's code entry, worded for the portal (its own label and placeholder are English)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["code"]
        field.label = _("確認コード")
        field.widget.attrs.pop("placeholder", None)
        word_for_members(self)


def refuse_control_characters(form: forms.BaseForm, *, prefix: str = "") -> None:
    """services.refuse_control_characters() on a form's contact fields (named PREFIX + the
    contact's field name), each refusal put on its own field, so the person sees which one."""
    data = form.cleaned_data
    values = {name: data.get(prefix + name) for name in services.ONE_LINE_CONTACT_FIELDS}
    try:
        services.refuse_control_characters(values)
    except ValidationError as exc:
        for name, errors in exc.error_dict.items():
            form.add_error(prefix + name, errors)


class ContactForm(MemberForm):
    name = forms.CharField(label=_("氏名"), max_length=60)
    kana = forms.CharField(label=_("ふりがな"), max_length=120, required=False)
    department = forms.CharField(label=_("所属"), max_length=120, required=False)
    title = forms.CharField(label=_("役職"), max_length=60, required=False)
    email = forms.CharField(label=_("メールアドレス"), max_length=254)
    phone = forms.CharField(label=_("電話番号"), max_length=30, required=False)
    role = forms.ChoiceField(label=_("役割"), choices=Contact.Role.choices, initial="staff")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        refuse_control_characters(self)
        return data


class HandOverForm(MemberForm):
    """The successor is a new person (the usual April case) or an existing colleague."""

    existing = forms.ModelChoiceField(
        label=_("既存の担当者から選ぶ"),
        queryset=Contact.objects.none(),
        required=False,
        error_messages={
            "invalid_choice": _("選んだ方には引き継げません。一覧から選び直してください。")
        },
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
        refuse_control_characters(self)
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


# --- dates and times as people type them -----------------------------------------------------
# The one reading of a typed date for every form: the admin's (config/admin_apps.py makes these
# the default of every model date), the secretariat's own screens and the portal's. A new date
# input that does not use them is caught by tests/association/test_date_inputs.py.

DATE_HELP = _("例: 令和8年4月1日、2026/4/1、R8.4.1")
DATETIME_HELP = _("例: 令和8年4月1日 9:30、2026/4/1 14時")


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


# A date, then a time after a space or the T of <input type="datetime-local">.
_DATE_AND_TIME = re.compile(
    r"^(?P<date>.+?)(?:\s+|(?<=\d)t)(?P<time>\d{1,2}(?::\d{1,2}){0,2}|\d{1,2}時(?:\d{1,2}分?)?)$"
)


class JapaneseDateTimeField(forms.DateTimeField):
    """A date and time in one input: the date as JapaneseDateField reads it, then the time as
    JapaneseTimeField does (2026/4/1 9:30, 令和8年4月1日 14時, R8.4.1 ９：３０, 2026-04-01T09:30).
    The time is the site's (Asia/Tokyo)."""

    def to_python(self, value: Any) -> dt.datetime | None:
        if isinstance(value, dt.datetime):
            return from_current_timezone(value) if timezone.is_naive(value) else value
        if value in self.empty_values or not str(value).strip():
            return None
        text = unicodedata.normalize("NFKC", str(value)).strip().casefold()
        match = _DATE_AND_TIME.match(text)
        if match is None:
            try:
                parse_date(text)
            except ValueError as exc:
                raise ValidationError(str(exc), code="invalid") from None
            raise ValidationError(
                _("時刻も入力してください（例: 2026/4/1 9:30）。"), code="no_time"
            )
        day = JapaneseDateField().to_python(match.group("date"))
        try:
            time = JapaneseTimeField().to_python(match.group("time"))
        except ValidationError:
            time = None
        if time is None:
            raise ValidationError(
                _("「%(text)s」を時刻として読めません。9:30 や 14時 のように入力してください。")
                % {"text": match.group("time")},
                code="invalid_time",
            )
        assert day is not None
        return from_current_timezone(dt.datetime.combine(day, time))


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
