"""A 照会 asks members "by the same rules as mailing lists": one abstract model holds the rule's
fields (mailing.models.AudienceRule) and one function reads them (mailing.audience)."""

from __future__ import annotations

from django.db.models import Field

from association import services as registry
from association.models import Block, Member, Prefecture
from inquiries import services
from inquiries.models import Inquiry
from mailing import audience
from mailing.models import AudienceRule, MailingList
from tests.conftest import lg

from .conftest import working_day_after

RULE_FIELDS = ("all_members", "blocks", "prefectures", "partners", "member_kinds")


def test_a_list_and_an_inquiry_hold_the_one_rule():
    assert issubclass(MailingList, AudienceRule) and issubclass(Inquiry, AudienceRule)
    for name in RULE_FIELDS:
        field = AudienceRule._meta.get_field(name)
        for model in (MailingList, Inquiry):
            mine = model._meta.get_field(name)
            assert isinstance(field, Field) and isinstance(mine, Field)
            assert mine.deconstruct()[1:] == field.deconstruct()[1:]  # same type and options
    # Only a list narrows to contact roles: a 照会 picks each member's coordinators itself.
    assert not any(f.name == "contact_roles" for f in Inquiry._meta.get_fields())


def test_the_same_rule_reaches_the_same_members_on_a_list_and_an_inquiry(edogawa, adachi):
    osaka = registry.admit_member(lg("大阪府大阪市"))
    yokohama = registry.admit_member(lg("神奈川県横浜市"), kind=Member.Kind.SPECIAL)
    kinki = Block.objects.get(name="近畿")
    kanagawa = Prefecture.objects.get(name="神奈川県")
    mailing_list = MailingList.objects.create(name="近畿と神奈川", slug="kinki-kanagawa")
    inquiry = services.save_inquiry(Inquiry(title="近畿と神奈川へ", deadline=working_day_after(10)))
    for rule in (mailing_list, inquiry):
        rule.blocks.add(kinki)
        rule.prefectures.add(kanagawa)
    listed = set(audience.rule_members(mailing_list))
    asked = set(services.audience_members(inquiry))
    assert listed == asked == {osaka, yokohama}
    assert edogawa not in asked and adachi not in asked
    for rule in (mailing_list, inquiry):
        rule.member_kinds = [Member.Kind.SPECIAL]
    assert (
        set(audience.rule_members(mailing_list))
        == set(services.audience_members(inquiry))
        == {yokohama}
    )
    assert list(kinki.inquiry_set.all()) == [inquiry]
    assert list(kinki.mailinglist_set.all()) == [mailing_list]
