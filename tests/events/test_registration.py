import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from association import services as registry
from association.models import Block
from events import services
from events.models import Notice, Registration, Training

from .conftest import deliver_pending


def colleagues(member, count, prefix="staff"):
    code = member.local_government_id
    return [
        registry.add_contact(
            member, name=f"職員 {n}", kana=f"しょくいん {n}", email=f"{prefix}{n}@{code}.example.jp"
        )
        for n in range(count)
    ]


def test_it_gives_a_seat_and_a_confirmation_mail_with_the_ics_and_the_full_url(
    make_training, bob, outbox
):
    training = make_training()

    registration = services.register_for_training(training, contact=bob, actor=bob)

    assert registration.status == Registration.Status.CONFIRMED
    assert deliver_pending() == 1
    mail = outbox.to(bob.email)[0]
    assert "参加確定" in mail.subject
    assert mail.text.startswith("東京都江戸川区\nご担当者様\n")  # nothing typed in the portal
    assert "\nhttps://meet.example.jp/renkei-2026\n" in mail.text
    assert f"/trainings/m/{bob.member.local_government_id}/{training.pk}/" in mail.text
    assert mail.attachments == ["training.ics"]
    ics = next(mail.message.iter_attachments()).get_content()
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "SUMMARY:令和8年度 全体研修会" in ics
    assert "https://meet.example.jp/renkei-2026" in ics


def test_it_treats_registering_twice_as_a_no_op(make_training, bob):
    training = make_training()

    first = services.register_for_training(training, contact=bob)
    second = services.register_for_training(training, contact=bob)

    assert first.pk == second.pk
    assert training.registrations.count() == 1
    assert Notice.objects.count() == 1


def test_each_waiting_registration_is_told_its_own_place_in_the_queue(make_training, edogawa):
    training = make_training(capacity=1, per_member_limit=5)
    first, *waiting = colleagues(edogawa, 4)
    services.register_for_training(training, contact=first)

    places = [services.register_for_training(training, contact=c).waitlist_place() for c in waiting]

    assert places == [1, 2, 3]
    stored = Registration.objects.waitlisted().filter(training=training)
    assert [r.waitlist_place() for r in stored] == [1, 2, 3]
    services.cancel_registration(stored[0])
    assert [r.waitlist_place() for r in Registration.objects.waitlisted()] == [1, 2]


def test_a_waiting_notice_mailed_after_the_seat_came_never_says_none(
    make_training, edogawa, outbox
):
    """The notice is rendered when the postbox takes it; by then the person may hold a seat."""
    training = make_training(capacity=1, per_member_limit=5)
    first, second = colleagues(edogawa, 2)
    services.register_for_training(training, contact=first)
    services.register_for_training(training, contact=second)
    # The seat came (a promotion) before the postbox rendered the waiting notice.
    Registration.objects.filter(training=training, contact=second).update(
        status=Registration.Status.CONFIRMED
    )

    deliver_pending()

    waiting = [m for m in outbox.to(second.email) if "キャンセル待ち" in m.subject]
    assert waiting, [m.subject for m in outbox.to(second.email)]
    for mail in waiting:
        assert "None" not in mail.subject + mail.text
        assert "キャンセル待ちとして受け付けました" in mail.text


def test_it_waitlists_when_full_and_keeps_the_online_url_from_the_waiting(
    make_training, edogawa, adachi, outbox
):
    training = make_training(capacity=2)
    a, b, c = colleagues(edogawa, 2) + colleagues(adachi, 1)

    services.register_for_training(training, contact=a)
    services.register_for_training(training, contact=b)
    waiting = services.register_for_training(training, contact=c)

    assert waiting.status == Registration.Status.WAITLISTED
    assert waiting.waitlist_place() == 1
    deliver_pending()
    mail = outbox.to(c.email)[0]
    assert "キャンセル待ち（1番目）" in mail.subject
    assert "meet.example.jp" not in mail.text
    assert "meet.example.jp" not in mail.html
    assert mail.attachments == []


def test_it_waitlists_a_fourth_colleague_when_the_member_limit_is_three(make_training, edogawa):
    training = make_training(capacity=10, per_member_limit=3)
    staff = colleagues(edogawa, 4)

    statuses = [services.register_for_training(training, contact=c).status for c in staff]

    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]


def test_it_gives_a_freed_seat_to_the_first_waiting_person_whose_member_is_under_its_limit(
    make_training, edogawa, adachi, outbox
):
    training = make_training(capacity=4, per_member_limit=2)
    e1, e2, e3 = colleagues(edogawa, 3)
    a1, a2, a3 = colleagues(adachi, 3)
    for contact in (e1, a1, a2, e2):
        services.register_for_training(training, contact=contact)
    a3_reg = services.register_for_training(training, contact=a3)  # full: waiting 1
    e3_reg = services.register_for_training(training, contact=e3)  # full: waiting 2
    e1_reg = Registration.objects.get(training=training, contact=e1)

    services.cancel_registration(e1_reg)
    promoted = services.promote_waiting_list(training)

    # 足立区 is at its limit of 2, so the seat 江戸川区 freed goes to 江戸川区's e3.
    assert [r.pk for r in promoted] == [e3_reg.pk]
    a3_reg.refresh_from_db()
    assert a3_reg.status == Registration.Status.WAITLISTED
    assert services.promote_waiting_list(training) == []
    deliver_pending()
    assert "繰り上げ" in outbox.to(e3.email)[-1].subject


def test_it_gives_a_freed_seat_to_the_waiting_list_before_a_newcomer(
    make_training, edogawa, adachi
):
    training = make_training(capacity=1)
    (e1,) = colleagues(edogawa, 1)
    a1, a2 = colleagues(adachi, 2)
    first = services.register_for_training(training, contact=e1)
    waiting = services.register_for_training(training, contact=a1)
    services.cancel_registration(first)  # the promotion task has not run yet

    newcomer = services.register_for_training(training, contact=a2)

    waiting.refresh_from_db()
    assert waiting.status == Registration.Status.CONFIRMED
    assert newcomer.status == Registration.Status.WAITLISTED


def test_it_lets_a_coordinator_register_a_colleague_of_the_same_member(make_training, alice, bob):
    training = make_training()

    registration = services.register_for_training(training, contact=bob, actor=alice)

    assert registration.contact == bob


def test_it_refuses_a_staff_member_registering_a_colleague(make_training, alice, bob):
    training = make_training()

    with pytest.raises(PermissionDenied, match="取りまとめ担当"):
        services.register_for_training(training, contact=alice, actor=bob)


def test_it_refuses_a_coordinator_registering_another_municipalitys_staff(
    make_training, bob, charlie
):
    training = make_training()

    with pytest.raises(PermissionDenied, match="他の団体"):
        services.register_for_training(training, contact=bob, actor=charlie)
    assert not Registration.objects.exists()


def test_it_refuses_registration_after_the_deadline_saying_when_it_closed(make_training, bob):
    training = make_training(closes_at=timezone.now() - dt.timedelta(hours=1))

    with pytest.raises(ValidationError, match="締め切りました"):
        services.register_for_training(training, contact=bob)


def test_it_refuses_registration_before_the_window_opens(make_training, bob):
    training = make_training(opens_at=timezone.now() + dt.timedelta(days=2))

    with pytest.raises(ValidationError, match="からです"):
        services.register_for_training(training, contact=bob)


def test_it_refuses_a_draft_training(make_training, bob):
    training = make_training(status=Training.Status.DRAFT)

    with pytest.raises(ValidationError, match="受け付けていません"):
        services.register_for_training(training, contact=bob)


def test_it_refuses_a_member_of_another_block(make_training, bob, registry):
    kinki = Block.objects.get(name="近畿")
    training = make_training(kind=Training.Kind.BLOCK, block=kinki)

    with pytest.raises(ValidationError, match="近畿ブロックの会員団体が対象"):
        services.register_for_training(training, contact=bob)


def test_it_admits_other_blocks_from_the_given_date_when_the_block_comes_first(
    make_training, bob, registry
):
    kinki = Block.objects.get(name="近畿")
    later = timezone.now() + dt.timedelta(days=3)
    training = make_training(
        kind=Training.Kind.BLOCK,
        block=kinki,
        audience=Training.Audience.BLOCK_FIRST,
        others_from=later,
    )

    with pytest.raises(ValidationError, match="他ブロックからの申込みは"):
        services.register_for_training(training, contact=bob)
    registration = services.register_for_training(
        training, contact=bob, now=later + dt.timedelta(minutes=1)
    )
    assert registration.is_confirmed


def test_it_admits_its_own_block(make_training, bob, kanto):
    training = make_training(kind=Training.Kind.BLOCK, block=kanto)

    assert services.register_for_training(training, contact=bob).is_confirmed


def test_it_keeps_the_seat_when_a_coordinator_substitutes_a_colleague(
    make_training, alice, bob, outbox
):
    training = make_training()
    registration = services.register_for_training(training, contact=alice, actor=alice)
    deliver_pending()

    services.substitute_registration(registration, contact=bob, actor=alice)

    registration.refresh_from_db()
    assert registration.contact == bob
    assert registration.substituted_from == alice
    assert registration.is_confirmed
    assert training.registrations.count() == 1
    deliver_pending()
    to_bob = outbox.to(bob.email)[0]
    assert "差し替え" in to_bob.subject
    assert "\nhttps://meet.example.jp/renkei-2026\n" in to_bob.text
    to_alice = outbox.to(alice.email)[-1]
    assert "同じ団体の別の方に引き継がれました" in to_alice.text
    assert "meet.example.jp" not in to_alice.text
    assert "METHOD:CANCEL" in next(to_alice.message.iter_attachments()).get_content()


def test_it_refuses_substitution_by_a_staff_member(make_training, alice, bob):
    training = make_training()
    registration = services.register_for_training(training, contact=bob)

    with pytest.raises(PermissionDenied):
        services.substitute_registration(registration, contact=alice, actor=bob)


def test_it_lets_a_person_register_again_after_cancelling(make_training, bob):
    training = make_training()
    first = services.register_for_training(training, contact=bob)
    services.cancel_registration(first, actor=bob)

    second = services.register_for_training(training, contact=bob)

    assert second.pk != first.pk
    assert second.is_confirmed


def test_it_tells_every_registrant_when_the_time_changes(make_training, alice, bob, outbox):
    training = make_training()
    services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=bob)
    deliver_pending()

    training.starts_at += dt.timedelta(hours=1)
    training.ends_at += dt.timedelta(hours=1)
    services.save_training(training)

    assert deliver_pending() == 2
    mail = outbox.to(bob.email)[-1]
    assert "【変更】" in mail.subject
    assert "■ 変更点（変更前 → 変更後）\n  開始日時: " in mail.text
    assert "\n  終了日時: " in mail.text


def test_it_tells_every_registrant_when_the_training_is_called_off(
    make_training, alice, bob, outbox
):
    training = make_training()
    services.register_for_training(training, contact=alice)
    deliver_pending()

    services.call_off_training(training, reason="台風の接近のため")

    deliver_pending()
    mail = outbox.to(alice.email)[-1]
    assert "【中止】" in mail.subject
    assert "台風の接近のため" in mail.text
    assert Training.objects.get(pk=training.pk).status == Training.Status.CANCELLED


def test_it_mails_all_registrants_one_message_each(make_training, alice, bob, outbox):
    training = make_training()
    services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=bob)
    deliver_pending()

    count = services.mail_registrants(training, subject="資料のご案内", body="資料を添付します。")

    assert count == 2
    deliver_pending()
    messages = [m for m in outbox.messages() if "資料のご案内" in m.subject]
    assert sorted(m.to for m in messages) == sorted([alice.email, bob.email])


def test_it_marks_attendance_of_confirmed_registrants(make_training, alice, bob):
    training = make_training()
    services.register_for_training(training, contact=alice)
    services.register_for_training(training, contact=bob)

    services.mark_attendance(
        training.registrations.filter(contact=alice),
        attendance=Registration.Attendance.ATTENDED,
        now=training.ends_at,
    )
    services.mark_attendance(
        training.registrations.filter(contact=bob),
        attendance=Registration.Attendance.ABSENT,
        now=training.ends_at,
    )

    assert dict(training.registrations.values_list("contact__name", "attendance")) == {
        "佐藤 美咲": "attended",
        "鈴木 健太": "absent",
    }


def test_it_duplicates_a_training_for_the_next_nendo_on_the_same_weekday(
    make_training, tokyo_start
):
    training = make_training(starts_at=tokyo_start, nendo=2026)

    copy = services.duplicate_training(training)

    assert copy.nendo == 2027
    assert copy.status == Training.Status.DRAFT
    assert copy.starts_at.weekday() == training.starts_at.weekday()
    assert copy.registrations.count() == 0


@pytest.fixture
def tokyo_start():
    from .conftest import at

    return at(2026, 7, 10, 13, 30)


def test_a_training_title_with_markup_characters_reads_as_typed_in_the_subject(
    make_training, bob, outbox
):
    training = make_training(title="研修会 A&B <第2回> \"特別\" 'ライブ'")

    services.register_for_training(training, contact=bob, actor=bob)
    deliver_pending()

    mail = outbox.to(bob.email)[0]
    assert "研修会 A&B <第2回> \"特別\" 'ライブ'" in mail.subject
    assert "&amp;" not in mail.subject and "&lt;" not in mail.subject
    assert "研修会 A&B <第2回>" in mail.text
    assert "A&amp;B &lt;第2回&gt;" in mail.html
