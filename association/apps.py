from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssociationConfig(AppConfig):
    name = "association"
    verbose_name = _("会員名簿")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_migrate

        from . import privacy, search

        privacy.autodiscover()
        from .view_as import end_on_logout

        user_logged_out.connect(end_on_logout, dispatch_uid="association.view_as.logout")
        post_migrate.connect(search.fill_search_text, sender=self)
