from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssociationConfig(AppConfig):
    name = "association"
    verbose_name = _("会員名簿")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import privacy, search

        privacy.autodiscover()
        post_migrate.connect(search.fill_search_text, sender=self)
