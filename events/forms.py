from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from association.forms import MemberForm, refuse_control_characters
from association.models import Contact


class ColleagueForm(MemberForm):
    """Pick a colleague of the same member (for a coordinator registering or substituting)."""

    contact = forms.ModelChoiceField(queryset=Contact.objects.none(), label=_("参加者"))

    def __init__(self, *args: Any, colleagues: Any, label: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["contact"]
        field.queryset = colleagues  # type: ignore[attr-defined]
        if label:
            field.label = label


class ColleagueChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.department}）" if obj.department else str(obj.name)


class RegisterColleaguesForm(MemberForm):
    """A coordinator registers several colleagues in one submit, and may add a new colleague
    in the same step. Nothing is registered unless someone was chosen or entered."""

    contact = ColleagueChoices(
        queryset=Contact.objects.none(),
        label=_("申し込む方（複数選べます）"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    new_name = forms.CharField(label=_("氏名"), max_length=60, required=False)
    new_kana = forms.CharField(label=_("ふりがな"), max_length=120, required=False)
    new_department = forms.CharField(label=_("所属"), max_length=120, required=False)
    new_title = forms.CharField(label=_("役職"), max_length=60, required=False)
    new_email = forms.EmailField(
        label=_("メールアドレス"),
        max_length=254,
        required=False,
        error_messages={"invalid": _("メールアドレスの形が正しくありません。")},
    )

    NEW_FIELDS = ("name", "kana", "department", "title", "email")

    def __init__(self, *args: Any, colleagues: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = colleagues  # type: ignore[attr-defined]

    def new_colleague(self) -> dict[str, str] | None:
        values = {f: self.cleaned_data.get(f"new_{f}", "").strip() for f in self.NEW_FIELDS}
        return values if any(values.values()) else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        refuse_control_characters(self, prefix="new_")
        new = self.new_colleague() if not self.errors else None
        if new is not None:
            if not new["name"]:
                self.add_error("new_name", _("新しい方の氏名を入力してください。"))
            if not new["email"]:
                self.add_error("new_email", _("新しい方のメールアドレスを入力してください。"))
        if not data.get("contact") and new is None and not self.errors:
            raise forms.ValidationError(
                _(
                    "申し込む方にチェックを入れるか、新しい方の氏名とメールアドレスを入力してください。"
                ),
                code="nobody",
            )
        return data


class MailRegistrantsForm(forms.Form):
    subject = forms.CharField(label=_("件名"), max_length=200)
    body = forms.CharField(label=_("本文"), widget=forms.Textarea(attrs={"rows": 12}))
    include_waitlisted = forms.BooleanField(label=_("キャンセル待ちの方にも送る"), required=False)


class CallOffForm(forms.Form):
    reason = forms.CharField(
        label=_("中止の理由（メールに記載）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class ContactLabelChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.member.name} — {obj.name}"


class OnBehalfForm(forms.Form):
    """代理申込み: any active contact of a member (the training's rules decide if it may)."""

    contact = ContactLabelChoice(
        queryset=Contact.objects.none(),
        label=_("申し込む方（団体 — 氏名）"),
        empty_label=_("選んでください"),
        error_messages={"required": _("申し込む方を選んでください。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["contact"]
        field.queryset = (  # type: ignore[attr-defined]
            Contact.objects.active()
            .select_related("member__local_government__prefecture")
            .order_by("member__local_government_id", "kana", "id")
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("理由（記録に残ります）"),
        max_length=200,
        error_messages={"required": _("理由を入力してください。")},
    )
