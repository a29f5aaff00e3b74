"""Fixtures for the mailing tests: lists made through the ORM's admin-equivalent path (lists
have no service of their own: the admin edits them as plain model forms)."""

from __future__ import annotations

import pytest

from association.models import Block
from mailing.models import MailingList


@pytest.fixture
def all_members_list(registry) -> MailingList:
    return MailingList.objects.create(
        name="全会員",
        slug="all",
        all_members=True,
        description="会員団体の担当者全員への配信です。",
    )


@pytest.fixture
def kanto_list(registry) -> MailingList:
    mailing_list = MailingList.objects.create(name="関東ブロック", slug="kanto")
    mailing_list.blocks.add(Block.objects.get(name="関東"))
    return mailing_list


@pytest.fixture
def partners_list(registry) -> MailingList:
    """The demo registry and its partner municipalities' list (the browser walks')."""
    from association.demo import load_demo_data

    load_demo_data()
    return MailingList.objects.create(
        name="連携自治体",
        slug="partners",
        partners=True,
        description="連携協定を結んだ自治体の担当者への配信です。",
    )
