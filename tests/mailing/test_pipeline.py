"""The sending pipeline run in-process (the worker tests run the same code in real workers)."""

import datetime as dt

import pytest
from django.core import signing
from django.core.exceptions import ValidationError

from association import services as registry
from association.models import Agreement
from mailing import audience, services
from mailing.models import Bulletin, Delivery, Subscription
from mailing.sending import message_id_for

from ..conftest import lg


def _bulletin(
    mailing_list, body="{{ 氏名 }} 様への本文です。\n\n詳細: https://renkei.example.jp/n/1"
):
    return services.save_bulletin(
        None, mailing_list=mailing_list, subject="研修会のご案内", body=body
    )


def _send(bulletin):
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    while services.drain_bulletin(bulletin.pk):
        pass
    bulletin.refresh_from_db()
    return bulletin


@pytest.mark.django_db
def test_it_reaches_every_active_contact_of_the_rule_and_not_the_others(
    all_members_list, kanto_list, alice, bob, charlie
):
    osaka = registry.admit_member(lg("大阪府大阪市"), joined_on=dt.date(2012, 4, 1))
    dave = registry.add_contact(osaka, name="中村 拓也", email="dave@city.osaka.example.jp")
    registry.deactivate_contact(bob)

    assert set(audience.recipients(all_members_list)) == {alice, charlie, dave}
    assert set(audience.recipients(kanto_list)) == {alice, charlie}


@pytest.mark.django_db
def test_it_keeps_an_opt_out_when_the_rule_changes(kanto_list, all_members_list, alice, charlie):
    services.opt_out(kanto_list, alice, source=Subscription.Source.PORTAL)
    kanto_list.blocks.clear()
    kanto_list.all_members = True
    kanto_list.save()

    assert set(audience.recipients(kanto_list)) == {charlie}
    assert alice in audience.recipients(all_members_list)


@pytest.mark.django_db
def test_it_reaches_partner_municipalities_and_hand_added_contacts(alice, charlie):
    from mailing.models import MailingList

    partners = MailingList.objects.create(name="連携自治体", slug="partners", partners=True)
    Agreement.objects.create(
        local_government=alice.member.local_government, signed_on=dt.date(2022, 1, 24)
    )
    assert set(audience.recipients(partners)) == {alice}

    services.add_to_list(partners, charlie)
    assert set(audience.recipients(partners)) == {alice, charlie}


@pytest.mark.django_db
def test_it_filters_by_contact_role(all_members_list, alice, bob):
    all_members_list.contact_roles = ["coordinator"]
    all_members_list.save()

    assert list(audience.recipients(all_members_list)) == [alice]


@pytest.mark.django_db
def test_it_snapshots_once_and_records_the_suppressed_and_opted_out_as_skipped(
    all_members_list, alice, bob, charlie
):
    services.suppress_address(bob.email, reason="manual")
    services.opt_out(all_members_list, charlie, source="portal")
    bulletin = _bulletin(all_members_list)
    services.start_bulletin(bulletin)

    assert services.snapshot_audience(bulletin.pk) == 3
    assert services.snapshot_audience(bulletin.pk) == 0
    rows = {d.email: d for d in Delivery.objects.filter(bulletin=bulletin)}
    assert rows[alice.email].status == Delivery.Status.QUEUED
    assert rows[bob.email].skip_reason == Delivery.SkipReason.SUPPRESSED
    assert rows[charlie.email].skip_reason == Delivery.SkipReason.OPTED_OUT


@pytest.mark.django_db
def test_it_sends_one_message_per_recipient_with_list_headers(
    all_members_list, alice, charlie, outbox
):
    bulletin = _send(_bulletin(all_members_list))

    assert bulletin.status == Bulletin.Status.SENT
    assert len(outbox) == 2
    mail = outbox.to(alice.email)[0]
    message = mail.message
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("佐藤 美咲 様", alice.email)
    assert mail.subject == "【市区町村会】研修会のご案内"
    assert "<all." in message["List-Id"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip(" <>") for part in message["List-Unsubscribe"].split(","))
    assert (
        https.startswith("http://localhost:8000/u/")
        and len(https) == len("http://localhost:8000/u/") + 22
    )
    assert mailto.startswith("mailto:")
    delivery = Delivery.objects.get(bulletin=bulletin, email=alice.email)
    assert message["Message-ID"] == message_id_for(delivery.pk, bulletin.pk)
    assert delivery.provider_message_id == message["Message-ID"]
    assert delivery.status == Delivery.Status.SENT
    lines = mail.text.splitlines()
    assert lines[:3] == ["東京都江戸川区", "健康部 保健予防課", "佐藤 美咲 様"]
    assert "佐藤 美咲 様への本文です。" in lines
    assert "https://renkei.example.jp/n/1" in lines
    assert https in lines
    assert "佐藤 美咲 様" in mail.html
    assert "charlie" not in message.as_string()
    assert {part.get_content_charset() for part in message.walk() if not part.is_multipart()} == {
        "utf-8"
    }


@pytest.mark.django_db
def test_it_addresses_a_contact_without_a_name_to_the_organisation(
    all_members_list, edogawa, outbox
):
    from mailing.sending import Recipient, address_line

    assert (
        address_line(Recipient(email="x@y.jp", organisation="東京都江戸川区"))
        == "東京都江戸川区 御中"
    )
    assert address_line(Recipient(email="x@y.jp")) == "ご担当者各位"
    assert (
        address_line(Recipient(email="x@y.jp", name="佐藤", organisation="江戸川区"))
        == "江戸川区\n佐藤 様"
    )


@pytest.mark.django_db
def test_it_starts_twice_but_sends_once(all_members_list, alice, charlie, outbox):
    bulletin = _bulletin(all_members_list)
    services.start_bulletin(bulletin)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)
    services.drain_bulletin(bulletin.pk)

    assert len(outbox) == 2


@pytest.mark.django_db
def test_it_unsubscribes_by_token_at_once_and_idempotently(
    all_members_list, alice, charlie, outbox
):
    bulletin = _send(_bulletin(all_members_list))
    header = outbox.to(alice.email)[0].message["List-Unsubscribe"]
    token = header.split(",")[0].strip(" <>").rstrip("/").rsplit("/", 1)[1]

    first = services.unsubscribe_by_token(token)
    second = services.unsubscribe_by_token(token)

    assert not first.already and second.already
    assert alice not in audience.recipients(all_members_list)
    assert Subscription.objects.get(contact=alice).source == "one_click"
    with pytest.raises(signing.BadSignature):
        services.unsubscribe_by_token(token[:-2] + "xx")
    assert bulletin.mailing_list == first.mailing_list


@pytest.mark.django_db
def test_it_refuses_an_unknown_placeholder_when_saving(all_members_list):
    with pytest.raises(ValidationError):
        _bulletin(all_members_list, body="{{ user.email }}")


@pytest.mark.django_db
def test_it_reports_progress_and_members_that_received_nothing(all_members_list, alice, charlie):
    services.suppress_address(charlie.email, reason="manual")
    bulletin = _send(_bulletin(all_members_list))

    progress = services.bulletin_progress(bulletin)
    assert progress.sent == 1 and progress.skipped == 1 and progress.total == 2
    assert progress.done_fraction == 1.0
    assert list(services.unreached_members(bulletin)) == [charlie.member]


@pytest.mark.django_db
def test_it_moves_opt_outs_and_hand_added_lists_to_the_successor(
    all_members_list, kanto_list, alice
):
    services.opt_out(all_members_list, alice, source="portal")
    successor = registry.hand_over_contact(
        alice, name="田中 翔", email="sho@city.edogawa.example.jp"
    )

    assert not Subscription.objects.filter(contact=alice).exists()
    assert Subscription.objects.get(contact=successor).status == Subscription.Status.OPTED_OUT
    assert successor not in audience.recipients(all_members_list)
    assert successor in audience.recipients(kanto_list)


@pytest.mark.django_db
def test_it_loads_the_demo_lists_idempotently(alice, charlie):
    import io

    from django.core.management import call_command

    from mailing.models import MailingList

    call_command("load_demo_lists", stdout=io.StringIO())
    call_command("load_demo_lists", stdout=io.StringIO())

    names = list(MailingList.objects.order_by("pk").values_list("name", flat=True))
    assert names[0] == "全会員" and names[-1] == "連携自治体"
    assert "関東ブロック" in names and len(names) == 8
    kanto = MailingList.objects.get(slug="block-kanto")
    assert set(audience.recipients(kanto)) == {alice, charlie}


@pytest.mark.django_db
def test_it_queues_an_address_shared_by_two_contacts_once_even_if_one_opted_out(
    all_members_list, alice, adachi
):
    twin = registry.add_contact(adachi, name="佐藤 美咲", email=alice.email)
    services.opt_out(all_members_list, alice, source="portal")
    bulletin = _bulletin(all_members_list)
    services.start_bulletin(bulletin)

    assert services.snapshot_audience(bulletin.pk) == 1
    delivery = Delivery.objects.get(bulletin=bulletin)
    assert delivery.status == Delivery.Status.QUEUED
    assert delivery.contact == twin
    assert delivery.organisation == "東京都足立区"


@pytest.mark.django_db
def test_it_pauses_resumes_and_cancels(all_members_list, alice, bob, charlie, outbox):
    bulletin = _bulletin(all_members_list)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.pause_bulletin(bulletin)

    assert services.drain_bulletin(bulletin.pk) is False
    assert len(outbox) == 0
    bulletin.refresh_from_db()
    # No sender holds any of its deliveries: it shows as paused at once.
    assert bulletin.status == Bulletin.Status.PAUSED
    with pytest.raises(ValidationError):
        services.save_bulletin(bulletin, mailing_list=all_members_list, subject="x", body="y")

    services.resume_bulletin(bulletin)
    _token, rows = services.claim_deliveries(bulletin.pk, limit=1)
    assert len(rows) == 1
    services.cancel_bulletin(bulletin)

    bulletin.refresh_from_db()
    assert bulletin.status == Bulletin.Status.CANCELLED
    progress = services.bulletin_progress(bulletin)
    assert progress.cancelled == 2 and progress.sending == 1
    assert services.claim_deliveries(bulletin.pk, limit=10)[1] == []


@pytest.mark.django_db
def test_it_honours_an_opt_out_at_once_while_a_bulletin_is_sending(
    all_members_list, alice, charlie, outbox
):
    bulletin = _bulletin(all_members_list)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)

    services.opt_out(all_members_list, charlie, source=Subscription.Source.LINK)
    services.drain_bulletin(bulletin.pk)

    assert [m.to for m in outbox.messages()] == [alice.email]
    assert Delivery.objects.get(email=charlie.email).skip_reason == Delivery.SkipReason.OPTED_OUT


@pytest.mark.django_db
def test_it_keeps_the_archive_copy_as_sent_without_personal_data(all_members_list, alice):
    bulletin = _send(_bulletin(all_members_list))
    copy = services.archived_copy(bulletin)

    assert copy.subject == "【市区町村会】研修会のご案内"
    assert copy.text.startswith("ご担当者各位")
    assert "佐藤" not in copy.text and alice.email not in copy.text
    assert "https://renkei.example.jp/n/1" in copy.text.splitlines()


@pytest.mark.django_db
def test_it_previews_as_a_chosen_recipient(all_members_list, alice):
    bulletin = _bulletin(all_members_list)

    preview = services.preview_bulletin(bulletin, contact=alice)

    assert preview.text.startswith("東京都江戸川区\n健康部 保健予防課\n佐藤 美咲 様")
    assert "佐藤 美咲 様への本文です。" in preview.html
    assert preview.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.django_db
def test_it_retries_a_transient_failure_with_backoff_and_gives_up_after_the_limit(
    settings, all_members_list, alice
):
    from mailing.sending import Outcome

    settings.MAILING_MAX_ATTEMPTS = 2
    bulletin = _bulletin(all_members_list)
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)

    token, [row] = services.claim_deliveries(bulletin.pk, limit=10)
    services._record(token, row, Outcome("retry", error="451 later", retry_after=120))
    row.refresh_from_db()
    assert row.status == Delivery.Status.QUEUED
    assert row.next_attempt_at is not None
    assert (row.next_attempt_at - row.updated_at).total_seconds() >= 119
    assert services.claim_deliveries(bulletin.pk, limit=10)[1] == []

    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=None)
    token, [row] = services.claim_deliveries(bulletin.pk, limit=10)
    services._record(token, row, Outcome("retry", error="451 later"))
    row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED
    assert "451 later" in row.error


@pytest.mark.django_db
def test_it_tells_the_secretariat_which_member_lost_its_last_reachable_contact(
    alice, charlie, outbox
):
    from mailing import emails

    emails.send_unreachable_members([alice.member.pk], alice.email)

    [mail] = outbox.messages()
    assert "jimukyoku@renkei.example.jp" in mail.to
    assert alice.email in mail.text
    assert "東京都江戸川区" in mail.text


def test_it_routes_bulletins_to_their_own_queue_and_housekeeping_and_test_copies_to_the_fast_one():
    from config.celery import app

    def queue(name):
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("mailing.send_bulletin") == "bulletins"
    assert queue("mailing.snapshot_bulletin") == "bulletins"
    # Never behind a 60-second send: the sweeper and the scheduled start.
    assert queue("mailing.sweep_deliveries") == "transactional"
    assert queue("mailing.start_due_bulletins") == "transactional"
    assert queue("mailing.send_test_bulletin") == "transactional"
    assert queue("association.welcome_successor") == "transactional"


@pytest.mark.django_db
def test_it_never_reaches_the_staff_of_a_guest_municipality(all_members_list, alice):
    guest = registry.register_guest(lg("大阪府大阪市"))
    visitor = registry.add_contact(guest, name="中村 拓也", email="visitor@city.osaka.example.jp")
    services.add_to_list(all_members_list, visitor)

    assert list(audience.recipients(all_members_list)) == [alice]


def test_make_run_serves_housekeeping_with_a_worker_that_never_sends_bulletins():
    import shlex
    from pathlib import Path

    from config.celery import app

    procfile = Path(__file__).resolve().parents[2] / "Procfile.dev"
    served = []
    for line in procfile.read_text().splitlines():
        args = shlex.split(line.partition(":")[2])
        if "worker" in args and "-Q" in args:
            served.append(set(args[args.index("-Q") + 1].split(",")))
    sweeper = app.amqp.router.route({}, "mailing.sweep_deliveries")["queue"].name
    assert [queues for queues in served if sweeper in queues] == [{"transactional", "default"}]
    assert any("bulletins" in queues for queues in served)
