"""Forms of the mailing pages and of the secretariat's compose screen. They parse; saving goes
through mailing.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class PreferenceForm(forms.Form):
    OPT_OUT = "opt_out"
    RESUBSCRIBE = "resubscribe"

    contact = forms.IntegerField()
    mailing_list = forms.IntegerField()
    action = forms.ChoiceField(choices=[(OPT_OUT, OPT_OUT), (RESUBSCRIBE, RESUBSCRIBE)])


class ArchiveSearchForm(forms.Form):
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
        self.fields["mailing_list"].choices = [everything, *lists]  # type: ignore[attr-defined]
        self.fields["nendo"].choices = [everything, *nendos]  # type: ignore[attr-defined]
