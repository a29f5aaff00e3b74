"""Forms of the mailing pages and of the secretariat's compose screen. They parse; saving goes
through mailing.services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from association.forms import DATETIME_HELP, JapaneseDateTimeField, MemberForm
from association.models import Contact, Member

from .builder import refuse_line_breaks
from .models import MailingList


def _one_line_field(form: forms.BaseForm, name: str) -> str:
    value = str(form.cleaned_data.get(name) or "")
    try:
        refuse_line_breaks(value, field=name, label=str(form.fields[name].label))
    except forms.ValidationError as exc:
        raise forms.ValidationError(exc.error_dict[name]) from None
    return value


class PreferenceForm(MemberForm):
    OPT_OUT = "opt_out"
    RESUBSCRIBE = "resubscribe"

    contact = forms.IntegerField()
    mailing_list = forms.IntegerField()
    action = forms.ChoiceField(choices=[(OPT_OUT, OPT_OUT), (RESUBSCRIBE, RESUBSCRIBE)])


class ArchiveSearchForm(MemberForm):
    q = forms.CharField(label=_("キーワード"), required=False, max_length=100)
    mailing_list = forms.TypedChoiceField(
        label=_("メーリングリスト"), required=False, coerce=int, empty_value=None
    )
    nendo = forms.TypedChoiceField(label=_("年度"), required=False, coerce=int, empty_value=None)

    def __init__(
        self,
        *args: Any,
        lists: list[tuple[int, str]],
        nendos: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        everything = ("", _("すべて"))
        cast(forms.ChoiceField, self.fields["mailing_list"]).choices = [everything, *lists]
        cast(forms.ChoiceField, self.fields["nendo"]).choices = [everything, *nendos]


# --- the secretariat's screens (mailing.admin) --------------------------------------------------


class BulletinForm(forms.Form):
    """Compose a bulletin. With autosave=True nothing but the list is required, so that a
    half-written draft is kept."""

    mailing_list = forms.ModelChoiceField(
        label=_("メーリングリスト"), queryset=MailingList.objects.none()
    )
    subject = forms.CharField(label=_("件名"), max_length=200)
    body = forms.CharField(
        label=_("本文（Markdown）"),
        required=False,
        strip=False,  # leading spaces mean something in Markdown
        widget=forms.Textarea(attrs={"rows": 20, "cols": 80, "spellcheck": "false"}),
    )
    reply_to = forms.EmailField(
        label=_("返信先"),
        required=False,
        help_text=_("空欄ならメーリングリストの返信先を使います。"),
    )

    def __init__(self, *args: Any, autosave: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lists = MailingList.objects.filter(is_active=True)
        cast(forms.ModelChoiceField, self.fields["mailing_list"]).queryset = lists
        if autosave:
            self.fields["subject"].required = False

    def clean_subject(self) -> str:
        return _one_line_field(self, "subject")

    def clean_body(self) -> str:
        # Browsers submit a textarea with CRLF line ends; the body is stored with LF.
        return str(self.cleaned_data["body"]).replace("\r\n", "\n")


class ScheduleForm(forms.Form):
    scheduled_at = JapaneseDateTimeField(
        label=_("送信日時（日本時間）"),
        help_text=DATETIME_HELP,
        widget=forms.DateTimeInput(attrs={"placeholder": "2026/4/1 9:30"}, format="%Y/%m/%d %H:%M"),
    )

    def clean_scheduled_at(self) -> Any:
        value = self.cleaned_data["scheduled_at"]
        if value <= timezone.now():
            raise forms.ValidationError(_("送信日時には、これから先の日時を指定してください。"))
        return value


class MailingListForm(forms.ModelForm):
    member_kinds = forms.MultipleChoiceField(
        label=_("会員種別"),
        choices=Member.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("選ばなければすべての種別。"),
    )
    contact_roles = forms.MultipleChoiceField(
        label=_("担当者の役割"),
        choices=Contact.Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("選ばなければ全員。"),
    )
    hand_added = forms.ModelMultipleChoiceField(
        label=_("手動で追加する担当者"),
        queryset=Contact.objects.active(),
        required=False,
        help_text=_("条件に当てはまらなくても、このリストを受け取る担当者。"),
    )

    def clean_name(self) -> str:
        return _one_line_field(self, "name")

    def clean_subject_prefix(self) -> str:
        return _one_line_field(self, "subject_prefix")

    class Meta:
        model = MailingList
        fields = [
            "name",
            "slug",
            "description",
            "subject_prefix",
            "reply_to",
            "send_html",
            "is_active",
            "allow_self_subscribe",
            "all_members",
            "blocks",
            "prefectures",
            "partners",
            "member_kinds",
            "contact_roles",
        ]
