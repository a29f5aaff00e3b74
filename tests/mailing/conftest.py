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
