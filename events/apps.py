from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("研修会")

    def ready(self) -> None:
        from association.signals import contact_deactivated, contact_erased, contact_handed_over

        from . import handlers

        contact_handed_over.connect(
            handlers.move_registrations_to_successor, dispatch_uid="events-hand-over"
        )
        contact_deactivated.connect(
            handlers.release_registrations, dispatch_uid="events-deactivate"
        )
        contact_erased.connect(
            handlers.release_registrations_of_erased_contact, dispatch_uid="events-erase"
        )
