from axes.apps import AppConfig as AxesConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class RenkeiAdminConfig(AdminConfig):
    """django.contrib.admin with the secretariat's door as its default site."""

    default_site = "association.admin_site.SecretariatAdminSite"

    def ready(self) -> None:
        from django.contrib.admin import options
        from django.db import models

        from association.forms import JapaneseDateField, JapaneseSplitDateTimeField

        # Every admin and inline copies these defaults when it is built (at autodiscovery,
        # below), so each date is read as people type it (令和8年4月1日, R8.4.1, 2026/4/1...), in one place.
        defaults = options.FORMFIELD_FOR_DBFIELD_DEFAULTS
        defaults[models.DateField] = {**defaults[models.DateField], "form_class": JapaneseDateField}
        defaults[models.DateTimeField] = {
            **defaults[models.DateTimeField],
            "form_class": JapaneseSplitDateTimeField,
        }
        super().ready()


class LoginRecordsConfig(AxesConfig):
    """django-axes under a Japanese name in the admin (its own label is the English "Axes")."""

    verbose_name = _("ログインの記録")
