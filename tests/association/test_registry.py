import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from association import services
from association.models import (
    Block,
    Contact,
    LocalGovernment,
    Member,
    MembershipEvent,
    Prefecture,
)
from association.nendo import nendo_label, nendo_of, wareki
from tests.conftest import lg


def test_it_loads_all_local_governments_with_full_width_kana(registry):
    assert LocalGovernment.objects.count() == 1788
    assert Prefecture.objects.count() == 47
    assert Block.objects.count() == 6
    edogawa = LocalGovernment.objects.get(code="131237")
    assert edogawa.full_name == "東京都江戸川区"
    assert edogawa.kana == "エドガワク"
    assert edogawa.kind == LocalGovernment.Kind.SPECIAL_WARD
    counts = {k: LocalGovernment.objects.filter(kind=k).count() for k in LocalGovernment.Kind}
    assert counts == {"prefecture": 47, "city": 792, "ward": 23, "town": 743, "village": 183}


def test_it_puts_every_prefecture_in_one_of_the_six_default_blocks(registry):
    assert Prefecture.objects.get(name="沖縄県").block.name == "九州・沖縄"
    assert Prefecture.objects.get(name="新潟県").block.name == "中部・北陸"
    assert Prefecture.objects.get(name="北海道").block.name == "北海道・東北"


def _rows_without(code: str) -> list[dict[str, str]]:
    from association.management.commands.load_local_governments import DEFAULT_FILE

    with DEFAULT_FILE.open(encoding="utf-8") as fh:
        return [row for row in csv.DictReader(fh) if row["code"] != code]


def test_it_retires_a_code_missing_from_a_newer_list_without_losing_the_member(edogawa):
    result = services.load_local_governments(_rows_without("131237"), today=dt.date(2027, 4, 1))

    assert result.retired == 1
    assert result.retired_with_members == ["東京都江戸川区"]
    edogawa.refresh_from_db()
    assert edogawa.local_government.retired_on == dt.date(2027, 4, 1)
    assert Member.objects.filter(pk=edogawa.pk).exists()

    restored = services.load_local_governments(_rows_without("999999"))
    assert restored.restored == 1
    edogawa.local_government.refresh_from_db()
    assert edogawa.local_government.retired_on is None


def test_the_load_command_reports_what_changed(registry):
    out = io.StringIO()
    call_command("load_local_governments", stdout=out)
    assert "新規 0、更新 0、変更なし 1788" in out.getvalue()


def test_it_records_joining_leaving_and_rejoining(registry):
    member = services.admit_member(lg("神奈川県座間市"), joined_on=dt.date(2011, 7, 1))
    services.withdraw_member(member, left_on=dt.date(2020, 3, 31))
    member = services.admit_member(
        lg("神奈川県座間市"), kind=Member.Kind.SPECIAL, joined_on=dt.date(2022, 2, 8)
    )
    assert member.status == Member.Status.ACTIVE
    assert member.left_on is None
    history = list(member.events.values_list("action", "effective_on"))
    assert history == [
        (MembershipEvent.Action.JOINED, dt.date(2011, 7, 1)),
        (MembershipEvent.Action.LEFT, dt.date(2020, 3, 31)),
        (MembershipEvent.Action.REJOINED, dt.date(2022, 2, 8)),
    ]


def test_it_refuses_to_admit_a_member_twice(edogawa):
    with pytest.raises(ValidationError, match="すでに会員です"):
        services.admit_member(edogawa.local_government)


def test_a_member_takes_its_block_from_the_prefecture_unless_overridden(edogawa):
    assert edogawa.block.name == "関東"
    kinki = Block.objects.get(name="近畿")
    Member.objects.filter(pk=edogawa.pk).update(block_override=kinki)
    edogawa.refresh_from_db()
    assert edogawa.block == kinki
    assert list(Member.objects.in_block(kinki)) == [edogawa]


def test_it_normalises_a_contact_email_and_refuses_a_duplicate_in_the_same_member(alice, edogawa):
    assert alice.email == "alice@city.edogawa.example.jp"
    with pytest.raises(ValidationError, match="すでに登録されています"):
        services.add_contact(edogawa, name="別人", email="ＡＬＩＣＥ@city.edogawa.example.jp")


def test_the_same_address_at_two_members_is_two_contacts_each_with_its_own_login(alice, adachi):
    other = services.add_contact(adachi, name="佐藤 美咲", email=alice.email)
    assert other.user is not None and other.user != alice.user
    assert other.user.email == alice.user.email == alice.email
    # A code mailed to that address opens both (the person chooses in the portal).
    assert services.logins_for_address(alice.email) == [alice.user, other.user]


def test_it_refuses_a_malformed_email_in_japanese(edogawa):
    with pytest.raises(ValidationError, match="形式が正しくありません"):
        services.add_contact(edogawa, name="誰か", email="not-an-address")


def test_a_deactivated_contact_loses_the_login_but_keeps_the_record(bob):
    services.deactivate_contact(bob)
    bob.refresh_from_db()
    assert not bob.is_active
    assert bob.deactivated_at is not None
    assert not bob.user.is_active


def test_a_member_leaving_disables_its_contacts_logins_and_rejoining_restores_them(alice, edogawa):
    services.withdraw_member(edogawa)
    alice.user.refresh_from_db()
    assert not alice.user.is_active
    services.admit_member(edogawa.local_government)
    alice.user.refresh_from_db()
    assert alice.user.is_active


def test_hand_over_to_an_existing_colleague_passes_the_coordinator_role(alice, bob):
    successor = services.hand_over_contact(alice, successor=bob)
    assert successor.pk == bob.pk
    bob.refresh_from_db()
    alice.refresh_from_db()
    assert bob.role == Contact.Role.COORDINATOR
    assert not alice.is_active
    assert alice.successor == bob


def test_hand_over_refuses_a_successor_from_another_municipality(alice, charlie):
    with pytest.raises(ValidationError, match="同じ団体"):
        services.hand_over_contact(alice, successor=charlie)
    alice.refresh_from_db()
    assert alice.is_active


def test_a_failed_hand_over_to_a_new_person_leaves_nothing_half_written(alice, bob):
    with pytest.raises(ValidationError):
        services.hand_over_contact(alice, name="田中 翔", email=bob.email)
    alice.refresh_from_db()
    assert alice.is_active
    assert not Contact.objects.filter(name="田中 翔").exists()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 3, 5), "令和8年3月5日（木）"),
        (dt.date(2019, 5, 1), "令和元年5月1日（水）"),
        (dt.date(2019, 4, 30), "平成31年4月30日（火）"),
    ],
)
def test_it_writes_dates_in_the_japanese_era(day, expected):
    assert wareki(day) == expected


def test_it_knows_which_nendo_a_day_belongs_to():
    assert nendo_of(dt.date(2027, 3, 31)) == 2026
    assert nendo_of(dt.date(2026, 4, 1)) == 2026
    assert nendo_label(2026) == "令和8年度"
