"""The admin's home page shows the day's work, each line linking to where it is done, in a
fixed number of queries whatever the data size."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from association import services as association
from association.models import Agreement, Contact, User
from events import services as events
from events.models import Registration, Training
from mailing import services as mailing
from mailing.models import Bulletin, MailingList, Suppression
from postbox import services as postbox
from tests.conftest import lg
from tests.postbox.conftest import queue, sink, smtp

__all__ = ["sink", "smtp"]

NO_SUCH_USER = "550 5.1.1 No such user here"


@pytest.fixture
def secretariat(db) -> User:
    return User.objects.create_superuser("jimukyoku", "jimukyoku@example.jp", "x-long-passphrase")


@pytest.fixture
def home(client, secretariat):
    client.force_login(secretariat)
    return client


def _training(title: str, *, starts_in: dt.timedelta, **values) -> Training:
    start = (timezone.localtime() + starts_in).replace(second=0, microsecond=0)
    fields = {
        "kind": Training.Kind.NATIONAL,
        "title": title,
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=3),
        "capacity": 2,
        "per_member_limit": 3,
        "status": Training.Status.PUBLISHED,
    }
    fields.update(values)
    return events.save_training(Training(**fields))


def _register_back_then(training: Training, contact: Contact) -> Registration:
    """A registration made while the (now past) training was still open."""
    return events.register_for_training(
        training, contact=contact, now=training.starts_at - dt.timedelta(days=30)
    )


def _people(members: int, per_member: int) -> list[Contact]:
    names = ["東京都江戸川区", "東京都足立区", "東京都港区", "神奈川県座間市", "新潟県長岡市"]
    governments = [lg(n) for n in names[:members]]
    contacts = []
    for i, government in enumerate(governments):
        member = association.admit_member(government, joined_on=dt.date(2011, 7, 1))
        for n in range(per_member):
            contacts.append(
                association.add_contact(
                    member, name=f"職員{i}-{n}", kana="しょくいん", email=f"s{n}@m{i}.example.jp"
                )
            )
    return contacts


@pytest.fixture
def busy_day(registry, smtp):
    """A day with something in every section."""
    contacts = _people(3, 3)
    # A member whose only contact bounced: unreachable.
    lonely = association.admit_member(lg("新潟県長岡市"), joined_on=dt.date(2015, 4, 1))
    bounced = association.add_contact(
        lonely, name="長岡 太郎", email="taro@city.nagaoka.example.jp"
    )
    mailing.suppress_address(bounced.email, reason=Suppression.Reason.HARD_BOUNCE)
    # Trainings: one closing within the week and full (waiting list), one past with attendance.
    soon = _training(
        "令和8年度 全体研修会",
        starts_in=dt.timedelta(days=12),
        closes_at=timezone.now() + dt.timedelta(days=3),
    )
    for contact in contacts[:3]:
        events.register_for_training(soon, contact=contact)
    past = _training("春のブロック研修会", starts_in=-dt.timedelta(days=10))
    _register_back_then(past, contacts[3])
    # Bulletins: one scheduled, one sending.
    the_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    scheduled = mailing.save_bulletin(
        None, mailing_list=the_list, subject="来月のお知らせ", body="本文"
    )
    mailing.schedule_bulletin(scheduled, at=timezone.now() + dt.timedelta(days=2))
    sending = mailing.save_bulletin(None, mailing_list=the_list, subject="今日の会報", body="本文")
    mailing.start_bulletin(sending)
    # A login code that finally failed.
    smtp.handler.always["gone@city.edogawa.example.jp"] = NO_SUCH_USER
    queue("gone@city.edogawa.example.jp")
    postbox.send_due_mail()
    # An agreement ending next month.
    Agreement.objects.create(
        local_government=lg("東京都足立区"),
        signed_on=dt.date(2023, 4, 1),
        expires_on=timezone.localdate() + dt.timedelta(days=30),
        hashtag="#いのちSOS足立",
    )
    return {"soon": soon, "past": past, "sending": sending, "lonely": lonely}


def test_the_home_page_shows_the_days_work_with_links(home, busy_day):
    response = home.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "今日の仕事" in html
    soon, sending, lonely = (busy_day[k] for k in ("soon", "sending", "lonely"))
    # Trainings: seats taken / capacity, the waiting list, and the deadline this week.
    assert "今週、申込締切があります" in html
    row = re.search(r"令和8年度 全体研修会</a></th>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert "2 / 2" in cells[2] and cells[3] == "1"
    assert reverse("admin:events_training_change", args=[soon.pk]) in html
    # Attendance to record for the past training.
    assert "出欠を記録する研修会" in html and "出欠未確認 1 名" in html
    # Bulletins: sending with a live progress, scheduled with its time.
    assert reverse("admin:mailing_bulletin_progress", args=[sending.pk]) in html
    assert "来月のお知らせ" in html and "予約済み" in html
    # Mail to one person that finally failed, bounces, unreachable members, agreements.
    assert "個人あてのメール 1 通が最終的に送れませんでした" in html
    assert reverse("admin:postbox_failedmail_changelist") in html
    assert "宛先不明（ハードバウンス）" in html and "taro@city.nagaoka.example.jp" in html
    assert reverse("admin:association_member_change", args=[lonely.pk]) in html
    assert "東京都足立区" in html and "期限が近い・切れた連携協定" in html
    # The model lists are still one click away.
    assert reverse("admin:association_contact_changelist") in html


def test_the_home_page_names_no_one_to_staff_without_the_contact_permission(busy_day, client):
    staff = User.objects.create_user("hojo", "hojo@example.jp", "x-long-passphrase", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    staff.user_permissions.remove(Permission.objects.get(codename="view_contact"))
    client.force_login(staff)
    html = client.get(reverse("admin:index")).content.decode()
    assert "宛先不明（ハードバウンス）" in html
    assert "taro@city.nagaoka.example.jp" not in html and "長岡 太郎" not in html
    assert "gone@city.edogawa.example.jp" not in html


def test_every_link_on_the_home_page_opens(home, busy_day):
    html = home.get(reverse("admin:index")).content.decode()
    links = set(re.findall(r'href="(/admin/[^"]+)"', html))
    assert len(links) > 10
    for link in sorted(links):
        if "logout" in link:
            continue
        response = home.get(link.replace("&amp;", "&"))
        assert response.status_code in (200, 302), link


def test_the_contacts_not_checked_since_april_link_lists_them(home, registry):
    contacts = _people(1, 2)
    before_april = timezone.make_aware(dt.datetime(timezone.localdate().year - 1, 3, 1))
    Contact.objects.filter(pk=contacts[0].pk).update(updated_at=before_april)
    html = home.get(reverse("admin:index")).content.decode()
    assert "4月1日以降に確認していない担当者が 1 名います" in html
    link = re.search(r'href="([^"]*checked=no[^"]*)"', html)
    assert link is not None
    listed = home.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert "職員0-0" in listed and "職員0-1" not in listed


def test_a_quiet_day_says_so(home, registry):
    html = home.get(reverse("admin:index")).content.decode()
    assert "いま対応が必要なことはありません。" in html


@pytest.mark.parametrize("scale", [1, 4])
def test_the_home_page_runs_the_same_few_queries_whatever_the_data_size(
    home, registry, django_assert_max_num_queries, scale
):
    contacts = _people(5, 3 * scale)
    the_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    for i in range(3 * scale):
        training = _training(
            f"研修会{i}",
            starts_in=dt.timedelta(days=10 + i),
            closes_at=timezone.now() + dt.timedelta(days=1 + i),
        )
        for contact in contacts[:3]:
            events.register_for_training(training, contact=contact)
        past = _training(f"過去の研修会{i}", starts_in=-dt.timedelta(days=3 + i))
        _register_back_then(past, contacts[i])
        bulletin = mailing.save_bulletin(None, mailing_list=the_list, subject=f"会報{i}", body="x")
        mailing.start_bulletin(bulletin)
        mailing.suppress_address(f"bounce{i}@example.jp", reason=Suppression.Reason.COMPLAINT)
        Agreement.objects.create(
            local_government=contacts[i].member.local_government,
            signed_on=dt.date(2020, 4, 1) + dt.timedelta(days=i),
            expires_on=timezone.localdate() + dt.timedelta(days=i),
        )
    with django_assert_max_num_queries(15):
        response = home.get(reverse("admin:index"))
    assert response.status_code == 200
    assert Bulletin.objects.count() == 3 * scale


def test_the_home_page_counts_a_bulletins_failures_from_its_tally_not_its_deliveries(
    home, registry
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailing.models import Delivery

    _people(2, 2)
    the_list = MailingList.objects.create(name="全会員", slug="all", all_members=True)
    bulletin = mailing.save_bulletin(
        None, mailing_list=the_list, subject="届かなかった号", body="x"
    )
    mailing.start_bulletin(bulletin)
    mailing.snapshot_audience(bulletin.pk)
    while mailing.drain_bulletin(bulletin.pk):
        pass
    for n, delivery in enumerate(Delivery.objects.filter(bulletin=bulletin, status="sent")[:2]):
        mailing.record_provider_event(
            mailing.EventInput(
                provider="test",
                event_id=f"ev-{n}",
                event_type="bounced",
                message_id=delivery.provider_message_id,
                recipient=delivery.email,
            )
        )

    with CaptureQueriesContext(connection) as captured:
        html = home.get(reverse("admin:index")).content.decode()

    row = re.search(r"届かなかった号</a></th>(.*?)</tr>", html, re.S)
    assert row is not None and "2 件" in row.group(1)
    assert not [q for q in captured if '"mailing_delivery"' in q["sql"]]
