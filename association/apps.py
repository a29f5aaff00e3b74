from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssociationConfig(AppConfig):
    name = "association"
    verbose_name = _("会員名簿")

    def ready(self) -> None:
        from . import privacy

        privacy.autodiscover()
