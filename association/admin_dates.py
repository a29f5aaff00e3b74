"""年度 in the admin as the secretariat names it (令和8年度), not as a Western number."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from .nendo import nendo_label


class NendoFilter(admin.SimpleListFilter):
    """A list filter on a model's `nendo` (an integer year): 令和8年度, 令和7年度, ..."""

    title = gettext_lazy("年度")
    parameter_name = "nendo"
    field = "nendo"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        years = (
            model_admin.get_queryset(request)
            .order_by(f"-{self.field}")
            .values_list(self.field, flat=True)
            .distinct()
        )
        return [(str(year), nendo_label(year)) for year in years if year]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{self.field: int(value)})
        return queryset
