from typing import Any

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

        from . import handlers, services, tally, webhooks

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
        post_migrate.connect(
            services.fill_bulletin_search_text, sender=self, dispatch_uid="mailing.search_text"
        )
        self._count_audiences_again_on_change(contact_erased)

    def _count_audiences_again_on_change(self, contact_erased: Any) -> None:
        """Each write to what a list's audience is made of makes the kept counts stale
        (mailing/audience.py)."""
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from association.models import (
            Agreement,
            Block,
            Contact,
            LocalGovernment,
            Member,
            Prefecture,
        )

        from .audience import audience_changed
        from .models import MailingList, Subscription, Suppression

        inputs = (Contact, Member, Agreement, LocalGovernment, Prefecture, Block)
        for model in (*inputs, Subscription, Suppression, MailingList):
            uid = f"mailing.audience.{model.__name__}"
            post_save.connect(audience_changed, sender=model, dispatch_uid=f"{uid}.save")
            post_delete.connect(audience_changed, sender=model, dispatch_uid=f"{uid}.delete")
        for through in (MailingList.blocks.through, MailingList.prefectures.through):
            m2m_changed.connect(audience_changed, sender=through, dispatch_uid=f"{through}.m2m")
        contact_erased.connect(audience_changed, dispatch_uid="mailing.audience.erased")
