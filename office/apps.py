from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OfficeConfig(AppConfig):
    """The secretariat's desk: the admin's home page, 年度 reports and papers to print. It reads
    every other app through their services and query helpers and owns no rule of its own."""

    name = "office"
    verbose_name = _("事務局")

    def ready(self) -> None:
        from django.contrib import admin

        # The admin's home is the day's work, with the model lists below it.
        admin.site.index_template = "office/index.html"
