"""Who a list reaches, evaluated live against the registry (see MailingList's docstring)."""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import Exists, OuterRef, Q, QuerySet

from association.models import Agreement, Contact, Member

from .models import MailingList, Subscription, Suppression


class AudienceRule(Protocol):
    """The fields of an audience rule: a mailing list's, and a 照会's (inquiries.Inquiry), which
    asks members by the same rule."""

    all_members: bool
    partners: bool
    member_kinds: Any
    blocks: Any
    prefectures: Any


def rule_members(mailing_list: AudienceRule) -> QuerySet[Member]:
    """Active members matched by the rule (ignoring a list's hand-added contacts)."""
    selectors = Q(pk__in=[])
    if mailing_list.all_members:
        selectors = Q()
    else:
        # .all() rather than values_list(), so that a caller's prefetch_related() is used.
        block_ids = [block.pk for block in mailing_list.blocks.all()]
        if block_ids:
            selectors |= Q(block_override_id__in=block_ids) | Q(
                block_override__isnull=True, local_government__prefecture__block_id__in=block_ids
            )
        prefecture_codes = [prefecture.pk for prefecture in mailing_list.prefectures.all()]
        if prefecture_codes:
            selectors |= Q(local_government__prefecture_id__in=prefecture_codes)
        if mailing_list.partners:
            selectors |= Q(
                Exists(
                    Agreement.objects.filter(local_government_id=OuterRef("local_government_id"))
                )
            )
    members = Member.objects.active().filter(selectors)
    if mailing_list.member_kinds:
        members = members.filter(kind__in=mailing_list.member_kinds)
    return members


def _rule_q(mailing_list: MailingList) -> Q:
    q = Q(member__in=rule_members(mailing_list))
    if mailing_list.contact_roles:
        q &= Q(role__in=mailing_list.contact_roles)
    return q


def _added_q(mailing_list: MailingList) -> Q:
    return Q(
        Exists(
            Subscription.objects.filter(
                mailing_list=mailing_list,
                contact_id=OuterRef("pk"),
                status=Subscription.Status.ADDED,
            )
        )
    )


def candidates(mailing_list: MailingList) -> QuerySet[Contact]:
    """Active contacts of active members that the rule or a hand-added membership covers,
    annotated with `opted_out` and `suppressed` (both still included, for the snapshot)."""
    return (
        Contact.objects.active()
        .filter(member__status=Member.Status.ACTIVE)
        .filter(_rule_q(mailing_list) | _added_q(mailing_list))
        .annotate(
            opted_out=Exists(
                Subscription.objects.filter(
                    mailing_list=mailing_list,
                    contact_id=OuterRef("pk"),
                    status=Subscription.Status.OPTED_OUT,
                )
            ),
            suppressed=Exists(
                Suppression.objects.matching(OuterRef("email"), OuterRef("email_hash"))
            ),
        )
    )


def recipients(mailing_list: MailingList) -> QuerySet[Contact]:
    """The contacts a bulletin sent now would reach: candidates() less the opted-out and the
    suppressed (each an anti-join, not a test per contact)."""
    covered = (
        Contact.objects.active()
        .filter(member__status=Member.Status.ACTIVE)
        .filter(_rule_q(mailing_list) | _added_q(mailing_list))
        .exclude(
            Exists(
                Subscription.objects.filter(
                    mailing_list=mailing_list,
                    contact_id=OuterRef("pk"),
                    status=Subscription.Status.OPTED_OUT,
                )
            )
        )
    )
    return Suppression.objects.unmatched(covered)


def covers_by_rule(mailing_list: MailingList, contact: Contact) -> bool:
    return (
        Contact.objects.active()
        .filter(pk=contact.pk, member__status=Member.Status.ACTIVE)
        .filter(_rule_q(mailing_list))
        .exists()
    )


def is_recipient(mailing_list: MailingList, contact: Contact) -> bool:
    return recipients(mailing_list).filter(pk=contact.pk).exists()
