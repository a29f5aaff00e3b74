"""Who a list reaches, evaluated live against the registry (see MailingList's docstring)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from association.models import Agreement, Contact, Member

from .models import Addressee, AudienceRule, Bulletin, MailingList, Subscription, Suppression


def rule_members(mailing_list: AudienceRule) -> QuerySet[Member]:
    """Active members matched by the rule of a list or a 照会 (ignoring a list's hand-added
    contacts)."""
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
    covered = (
        Contact.objects.active()
        .filter(member__status=Member.Status.ACTIVE)
        .filter(_rule_q(mailing_list) | _added_q(mailing_list))
    )
    return _marked(mailing_list, covered)


def bulletin_candidates(bulletin: Bulletin) -> QuerySet[Contact]:
    """candidates() of the bulletin's list, or, for an addressed bulletin, of its Addressee
    rows only (the list's opt-outs and the suppression list still apply: an addressee who
    used the list's unsubscribe link gets no more of its mail)."""
    if not bulletin.addressed:
        return candidates(bulletin.mailing_list)
    named = Contact.objects.active().filter(
        Exists(Addressee.objects.filter(bulletin=bulletin, contact_id=OuterRef("pk")))
    )
    return _marked(bulletin.mailing_list, named)


def _marked(mailing_list: MailingList, contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    return contacts.annotate(
        opted_out=Exists(
            Subscription.objects.filter(
                mailing_list=mailing_list,
                contact_id=OuterRef("pk"),
                status=Subscription.Status.OPTED_OUT,
            )
        ),
        suppressed=Exists(Suppression.objects.matching(OuterRef("email"), OuterRef("email_hash"))),
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


# --- how many a list reaches, without counting the registry on every page ----------------------

# Who a list reaches changes only when its inputs change (contacts, members, agreements,
# subscriptions, suppressions, the registry's geography, the list's rule): each such write sets
# a new audience version, and a count is kept under the version it was counted at.
VERSION_KEY = "mailing:audience-version"
# A write that bypasses the model signals (a bulk insert, a queryset update) must call
# audience_changed() itself; this bounds how long one that forgot could show an old count.
COUNT_SECONDS = 15 * 60


def recipient_count(mailing_list: MailingList) -> int:
    """len(recipients(MAILING_LIST)), exact: counted again only after a write that may change
    who the list reaches, otherwise read from the cache whatever the size of the registry."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    # The list's own updated_at: a re-created database (same pk, new row) never reads an old count.
    stamp = mailing_list.updated_at.timestamp() if mailing_list.updated_at else 0
    key = f"mailing:recipients:{mailing_list.pk}:{stamp}:{version}"
    count = cache.get(key)
    if count is None:
        count = recipients(mailing_list).count()
        cache.set(key, count, COUNT_SECONDS)
    return count


def audience_changed(*args: Any, **kwargs: Any) -> None:
    """Every kept count is stale: a new version now (readers in this transaction see the
    change) and again on commit (a count taken by another process before the commit, under
    the first new version, is never read)."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    transaction.on_commit(lambda: cache.set(VERSION_KEY, uuid.uuid4().hex, None))
