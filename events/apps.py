from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("研修会")

    def ready(self) -> None:
        from association.signals import contact_erased

        from . import handlers

        contact_erased.connect(handlers.drop_notices_of_erased_contact, dispatch_uid="events-erase")
