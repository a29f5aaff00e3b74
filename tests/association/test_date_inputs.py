"""Every date input of every form reads a date as people type it, through one parser
(association.forms: JapaneseDateField, JapaneseDateTimeField, JapaneseSplitDateTimeField).

The forms are discovered, not listed: every form class defined in the project's apps, and every
form the admin builds for a registered model and its inlines. A new date input that does not
use the shared fields fails here, whatever its name or module."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from association.forms import JapaneseDateField, JapaneseDateTimeField, JapaneseSplitDateTimeField
from association.models import User

APPS = ("association", "events", "mailing", "questions", "inquiries", "office", "postbox")
MODULES = ("forms", "admin", "views", "admin_import", "admin_site", "admin_lists")
SHARED = (JapaneseDateField, JapaneseDateTimeField, JapaneseSplitDateTimeField)
APRIL_FIRST = dt.date(2026, 4, 1)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _form_classes() -> Iterator[type[forms.BaseForm]]:
    for app in APPS:
        for name in MODULES:
            try:
                importlib.import_module(f"{app}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.{name}":
                    raise
    seen: set[type] = set()
    todo: list[type] = [forms.BaseForm]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
                if sub.__module__.split(".")[0] in APPS:
                    yield sub


def _admin_forms(request) -> Iterator[tuple[str, type[forms.BaseForm]]]:
    for model, model_admin in admin.site._registry.items():
        label = f"admin:{model._meta.label_lower}"
        yield label, model_admin.get_form(request)
        for inline in model_admin.get_inline_instances(request):
            yield f"{label}/{inline.model._meta.label_lower}", inline.get_formset(request).form
        if model_admin.list_editable:
            yield f"{label}/list_editable", model_admin.get_changelist_formset(request).form
        if model_admin.action_form:
            yield f"{label}/actions", model_admin.action_form


def _is_date_input(field: forms.Field) -> bool:
    if isinstance(field, forms.DateField | forms.DateTimeField | forms.SplitDateTimeField):
        return True
    widgets = getattr(field.widget, "widgets", [field.widget])
    return any(getattr(w, "input_type", "") in ("date", "datetime-local") for w in widgets)


def date_inputs() -> dict[str, forms.Field]:
    """Every date input of every form, by 'form.field'."""
    request = RequestFactory().get("/")
    request.user = User.objects.create_superuser("dates", "dates@example.jp", "x-long-passphrase")
    found: dict[str, forms.Field] = {}
    owners = [(f"{c.__module__}.{c.__qualname__}", c) for c in _form_classes()]
    for owner, form_class in [*owners, *_admin_forms(request)]:
        base_fields: dict[str, forms.Field] = getattr(form_class, "base_fields", {})
        for name, field in base_fields.items():
            if _is_date_input(field):
                found[f"{owner}.{name}"] = field
    return found


def _clean(field: forms.Field, typed: str):  # type: ignore[no-untyped-def]
    if isinstance(field, JapaneseSplitDateTimeField):
        return field.clean([typed, "9:30"])
    if isinstance(field, JapaneseDateTimeField):
        return field.clean(f"{typed} 9:30")
    return field.clean(typed)


def test_the_discovery_finds_the_date_inputs_people_use(db):
    names = set(date_inputs())
    for expected in [
        "mailing.forms.ScheduleForm.scheduled_at",
        "inquiries.admin.ReopenForm.until",
        "association.forms.MembershipChangeForm.on",
        "admin:inquiries.inquiry.deadline",
        "admin:inquiries.inquiry.opens_at",
        "admin:association.agreement.signed_on",
        "admin:events.training.starts_at",
    ]:
        assert expected in names


SPELLINGS = [
    "2026-04-01",
    "2026/4/1",
    "2026年4月1日",
    "令和8年4月1日",
    "R8.4.1",
    "２０２６年４月１日",
    "令和８年４月１日",
    "Ｒ８．４．１",
]
GARBAGE = [
    "四月一日",
    "2026-13-01",
    "令和8年2月30日",
    "あした",
    "2026/4/1\r\nX",
    "<b>1</b>",
    "x" * 60,
]


@pytest.mark.parametrize(
    ("typed", "valid"), [(s, True) for s in SPELLINGS] + [(g, False) for g in GARBAGE]
)
def test_every_date_input_in_every_form_reads_what_people_type(db, typed, valid):
    not_shared, wrong = [], []
    for name, field in date_inputs().items():
        if not isinstance(field, SHARED):
            not_shared.append(name)
            continue
        try:
            value = _clean(field, typed)
        except ValidationError as exc:
            if valid or not all(JAPANESE.search(m) for m in exc.messages):
                wrong.append(f"{name}: {exc.messages}")
            continue
        if not valid:
            wrong.append(f"{name}: accepted {typed!r} as {value}")
        elif isinstance(value, dt.datetime):
            tokyo = value.astimezone(ZoneInfo("Asia/Tokyo"))
            if (tokyo.date(), tokyo.hour, tokyo.minute) != (APRIL_FIRST, 9, 30):
                wrong.append(f"{name}: {typed!r} read as {value}")
        elif value != APRIL_FIRST:
            wrong.append(f"{name}: {typed!r} read as {value}")
    assert not_shared == [], "date inputs that do not use association.forms' date fields"
    assert wrong == []


def test_a_schedule_typed_in_wareki_with_a_kanji_time_is_read_in_tokyo_time(db):
    from mailing.forms import ScheduleForm

    form = ScheduleForm({"scheduled_at": "令和１０年４月１日 ９時３０分"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["scheduled_at"] == dt.datetime(
        2028, 4, 1, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo")
    )
    refused = ScheduleForm({"scheduled_at": "令和１０年４月１日"})
    assert refused.errors["scheduled_at"] == ["時刻も入力してください（例: 2026/4/1 9:30）。"]
