from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingConfig(AppConfig):
    name = "mailing"
    verbose_name = _("メール配信")

    def ready(self) -> None:
        from anymail.signals import inbound, tracking
        from django.db.models.signals import post_migrate

        from association.signals import (
            collect_reserved_addresses,
            contact_erased,
            contact_handed_over,
        )

        from . import handlers, tally, webhooks

        contact_handed_over.connect(
            handlers.move_subscriptions_on_handover, dispatch_uid="mailing.handover"
        )
        contact_erased.connect(handlers.forget_erased_contact, dispatch_uid="mailing.erase")
        collect_reserved_addresses.connect(
            handlers.reply_to_addresses, dispatch_uid="mailing.reply_to"
        )
        tracking.connect(webhooks.handle_tracking_event, dispatch_uid="mailing.tracking")
        inbound.connect(webhooks.handle_inbound_event, dispatch_uid="mailing.inbound")
        post_migrate.connect(tally.install_after_migrate, sender=self, dispatch_uid="mailing.tally")
