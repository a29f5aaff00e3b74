#!/usr/bin/env python
"""Benchmark: the secretariat's admin pages and the portal's pages at 1,000 and 100,000 rows.

    .venv/bin/python bench/pages.py                      # SQLite (var/bench-pages/)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/renkei .venv/bin/python bench/pages.py
    .venv/bin/python bench/pages.py --sizes 1000 100000 --repeat 5
    .venv/bin/python bench/pages.py --reuse --only "bulletin report"   # the last run's data

In one run, for each size N (the first size is the baseline): N contacts, one sent bulletin with
N deliveries (sent, delivered, bounced, failed, skipped), N/100 bulletins (at least 100, so that
a list's first page is full at both sizes), N registrations over N/1000 trainings (at least 100),
N provider events, N audit entries, N/10 opt-outs and N/10 suppressions,
bulk-inserted (the registry services would take minutes at 100,000), then ANALYZE as autovacuum
would. Each page is requested with Django's in-process client by a secretariat superuser (who
passed the second factor) or a portal contact: one warm-up request, then the median of REPEAT,
with the number of queries of one request. The data grows in place from one size to the next,
so each page shows the same objects at both sizes.

Prints each page's queries and time at every size and its growth over the baseline, and ends
with one JSON line. A page is "ok" within MAX_QUERIES queries and 3x its baseline time; the
progress endpoint polled during a send also under 50 ms at the largest size.

PostgreSQL: its own database (<DATABASE_URL's name>_bench_pages, dropped and re-created).
SQLite: var/bench-pages/pages.sqlite3, re-created.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

MAX_QUERIES = 15
MAX_GROWTH = 3.0
PROGRESS_MS = 50.0
GIVEN_ENV = dict(os.environ)
SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
SURNAME_KANA = ["さとう", "すずき", "たかはし", "たなか", "いとう"]
SURNAME_KANA += ["わたなべ", "やまもと", "なかむら", "こばやし", "かとう"]


def log(message: str) -> None:
    print(message, flush=True)


def var_dir() -> Path:
    base = Path(GIVEN_ENV.get("RENKEI_VAR_DIR", BASE_DIR / "var"))
    return base / "bench-pages"


def prepare_environment(*, reuse: bool = False) -> str:
    """Point Django at the bench's own database (re-created unless REUSE); returns
    'postgresql' or 'sqlite'."""
    directory = var_dir()
    if not reuse:
        shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["RENKEI_VAR_DIR"] = str(directory)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = ""
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    base = GIVEN_ENV.get("DATABASE_URL", "")
    if not base:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(directory / "pages.sqlite3")
        return "sqlite"
    import psycopg

    parsed = urlparse(base)
    name = (parsed.path.lstrip("/") or "renkei") + "_bench_pages"
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name}: not a bench database")
    admin = parsed._replace(path="/postgres").geturl()
    if not reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = parsed._replace(path=f"/{name}").geturl()
    return "postgresql"


# --- the data ------------------------------------------------------------------------------


class World:
    """The rows every size shares (created once) and the counters of what exists."""

    @classmethod
    def left_by_last_run(cls) -> World:
        """The data of the last run's largest size, as it is (migrated to the current code)."""
        from django.core.management import call_command

        from association.models import Contact, Member, User
        from events.models import Training
        from mailing.models import Bulletin, MailingList

        call_command("migrate", "--noinput", verbosity=0)
        world = cls.__new__(cls)
        world.members = list(Member.objects.order_by("local_government_id"))
        world.admin = User.objects.get(username="bench-jimukyoku")
        world.list = MailingList.objects.get(slug="all-members")
        world.big = Bulletin.objects.get(subject="令和8年度 全体研修会のご案内")
        world.trainings = list(Training.objects.order_by("pk"))
        world.training = world.trainings[0]
        world.contacts = Contact.objects.count()
        world.last_contact_pk = Contact.objects.order_by("-pk").values_list("pk", flat=True)[0]
        world.bulletins = Bulletin.objects.count()
        world.portal_contact = Contact.objects.select_related("member", "user").get(
            user__isnull=False
        )
        return world

    def __init__(self) -> None:
        import io

        from django.core.management import call_command

        from association.models import LocalGovernment, Member, User
        from events.models import Training
        from mailing.models import Bulletin, MailingList

        call_command("migrate", "--noinput", verbosity=0)
        call_command("load_local_governments", stdout=io.StringIO())
        governments = list(LocalGovernment.objects.municipalities().current().order_by("code"))
        Member.objects.bulk_create(
            [
                Member(local_government=lg, kind="member", joined_on=dt.date(2020, 4, 1))
                for lg in governments
            ],
            batch_size=2000,
        )
        self.members = list(Member.objects.order_by("local_government_id"))
        self.admin = User.objects.create_superuser("bench-jimukyoku", "jimu@bench.example.jp")
        self.list = MailingList.objects.create(
            name="全会員", slug="all-members", all_members=True, description="ベンチマーク用"
        )
        now = dt.datetime.now(dt.UTC)
        self.big = Bulletin.objects.create(
            mailing_list=self.list,
            subject="令和8年度 全体研修会のご案内",
            body="いつもお世話になっております。",
            status=Bulletin.Status.SENT,
            started_at=now - dt.timedelta(hours=2),
            finished_at=now - dt.timedelta(hours=1),
            snapshot_at=now - dt.timedelta(hours=2),
            sent_subject="【市区町村会】令和8年度 全体研修会のご案内",
            sent_text="各位\n\nいつもお世話になっております。",
        )
        self.training = Training.objects.create(
            kind="national",
            nendo=2026,
            title="令和8年度 全体研修会",
            starts_at=now + dt.timedelta(days=60),
            ends_at=now + dt.timedelta(days=60, hours=3),
            capacity=1_000_000,
            per_member_limit=1000,
            status="open",
        )
        self.trainings = [self.training]
        self.contacts = 0
        self.last_contact_pk = 0
        self.bulletins = 1
        self.portal_contact: Any = None

    def grow(self, n: int) -> None:
        """Add rows until each table holds its share of N."""
        from django.db import connection

        from association.models import AuditEntry, Contact, User
        from association.privacy import address_hash
        from events.models import Registration, Training
        from mailing.models import Bulletin, Delivery, ProviderEvent, Subscription, Suppression

        start, stop = self.contacts, n
        contacts = []
        for i in range(start, stop):
            member = self.members[i % len(self.members)]
            surname = i % len(SURNAMES)
            email = f"staff{i}@lg{member.local_government_id}.example.jp"
            contacts.append(
                Contact(
                    member=member,
                    name=f"{SURNAMES[surname]} {i:06d}",
                    kana=f"{SURNAME_KANA[surname]} {i:06d}",
                    department="保健福祉部 健康推進課",
                    email=email,
                    email_hash=address_hash(email),
                    role="coordinator" if i < len(self.members) else "staff",
                )
            )
        Contact.objects.bulk_create(contacts, batch_size=5000)
        new = list(
            Contact.objects.filter(pk__gt=self.last_contact_pk)
            .order_by("pk")
            .values_list("pk", "member_id", "email", "name")
        )
        self.last_contact_pk = new[-1][0]
        self.contacts = stop

        statuses = ["sent"] * 60 + ["delivered"] * 30 + ["bounced"] * 3 + ["failed"] * 2
        statuses += ["skipped"] * 5
        sent_at = self.big.started_at
        deliveries = []
        for k, (pk, member_id, email, name) in enumerate(new):
            status = statuses[(start + k) % len(statuses)]
            deliveries.append(
                Delivery(
                    bulletin=self.big,
                    email=email,
                    contact_id=pk,
                    member_id=member_id,
                    recipient_name=name,
                    organisation="",
                    status=status,
                    skip_reason="opted_out" if status == "skipped" else "",
                    attempts=0 if status == "skipped" else 1,
                    message_id=f"<{pk}.bench@renkei.example.jp>",
                    provider_message_id=f"pm-{pk}",
                    error="550 5.1.1 User unknown" if status in ("bounced", "failed") else "",
                    sent_at=None if status == "skipped" else sent_at,
                )
            )
        Delivery.objects.bulk_create(deliveries, batch_size=5000)
        delivery_ids = dict(
            Delivery.objects.filter(bulletin=self.big, contact_id__gte=new[0][0]).values_list(
                "contact_id", "pk"
            )
        )

        now = dt.datetime.now(dt.UTC)
        wanted_bulletins = max(100, n // 100)
        Bulletin.objects.bulk_create(
            [
                Bulletin(
                    mailing_list=self.list,
                    subject=f"お知らせ {b}",
                    body="本文",
                    status=Bulletin.Status.SENT,
                    started_at=now - dt.timedelta(days=b),
                    finished_at=now - dt.timedelta(days=b),
                    sent_subject=f"【市区町村会】お知らせ {b}",
                    sent_text="各位\n\n本文",
                    created_by=self.admin,
                )
                for b in range(self.bulletins, wanted_bulletins)
            ],
            batch_size=2000,
        )
        self.bulletins = wanted_bulletins
        # The bulletin watched is the newest one, first on the list.
        Bulletin.objects.filter(pk=self.big.pk).update(created_at=now + dt.timedelta(minutes=1))

        wanted_trainings = max(100, n // 1000)
        for t in range(len(self.trainings), wanted_trainings):
            self.trainings.append(
                Training.objects.create(
                    kind="national",
                    nendo=2026,
                    title=f"研修会 {t}",
                    starts_at=now + dt.timedelta(days=60 + t),
                    ends_at=now + dt.timedelta(days=60 + t, hours=3),
                    capacity=1_000_000,
                    per_member_limit=1000,
                    status="open",
                )
            )
        Registration.objects.bulk_create(
            [
                Registration(
                    training=self.trainings[(start + k) % len(self.trainings)],
                    contact_id=pk,
                    member_id=member_id,
                    status="confirmed",
                    confirmed_at=now,
                )
                for k, (pk, member_id, _email, _name) in enumerate(new)
            ],
            batch_size=5000,
        )
        ProviderEvent.objects.bulk_create(
            [
                ProviderEvent(
                    provider="amazon_ses",
                    event_id=f"ev-{pk}",
                    event_type="delivered",
                    message_id=f"pm-{pk}",
                    recipient=email,
                    delivery_id=delivery_ids.get(pk),
                    occurred_at=now,
                )
                for pk, _member_id, email, _name in new
            ],
            batch_size=5000,
        )
        AuditEntry.objects.bulk_create(
            [
                AuditEntry(
                    action="contact.changed",
                    object_type="contact",
                    object_id=str(pk),
                    summary="担当者を変更しました",
                    changes={"department": ["健康推進課", "保健福祉部 健康推進課"]},
                    actor=self.admin,
                )
                for pk, _member_id, _email, _name in new
            ],
            batch_size=5000,
        )
        tenth = new[::10]
        Subscription.objects.bulk_create(
            [
                Subscription(
                    mailing_list=self.list, contact_id=pk, status="opted_out", source="link"
                )
                for pk, _member_id, _email, _name in tenth
            ],
            batch_size=5000,
        )
        Suppression.objects.bulk_create(
            [
                Suppression(email=email, email_hash=address_hash(email), reason="hard_bounce")
                for _pk, _member_id, email, _name in tenth
            ],
            batch_size=5000,
        )
        if self.portal_contact is None:
            contact = Contact.objects.select_related("member").get(pk=new[0][0])
            user = User.objects.create_user(username=f"portal-{contact.pk}", email=contact.email)
            Contact.objects.filter(pk=contact.pk).update(user=user)
            self.portal_contact = Contact.objects.select_related("member", "user").get(
                pk=contact.pk
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        # Bulk inserts send no model signals: say, as any bulk write must, that the audiences
        # changed, so that the lists' kept recipient counts are counted again (mailing/audience.py).
        from mailing.audience import audience_changed

        audience_changed()


# --- the pages -----------------------------------------------------------------------------


def pages(world: World) -> list[tuple[str, str, str]]:
    """(name, who, url) of every page that grows with the data."""
    from django.urls import reverse

    contact = world.portal_contact
    code = contact.member.local_government_id
    big = world.big.pk
    return [
        ("admin home", "admin", reverse("admin:index")),
        ("bulletin report", "admin", reverse("admin:mailing_bulletin_change", args=[big])),
        ("bulletin progress", "admin", reverse("admin:mailing_bulletin_progress", args=[big])),
        ("bulletins", "admin", reverse("admin:mailing_bulletin_changelist")),
        ("contacts", "admin", reverse("admin:association_contact_changelist")),
        (
            "contacts searched",
            "admin",
            reverse("admin:association_contact_changelist") + "?q=たなか+000123",
        ),
        (
            "contacts by email",
            "admin",
            reverse("admin:association_contact_changelist") + f"?q={contact.email}",
        ),
        ("deliveries", "admin", reverse("admin:mailing_delivery_changelist")),
        (
            "deliveries searched",
            "admin",
            reverse("admin:mailing_delivery_changelist") + f"?q={contact.email}",
        ),
        (
            "deliveries of a bulletin",
            "admin",
            reverse("admin:mailing_delivery_changelist") + f"?bulletin__id__exact={big}",
        ),
        ("registrations", "admin", reverse("admin:events_registration_changelist")),
        (
            "training",
            "admin",
            reverse("admin:events_training_change", args=[world.training.pk]),
        ),
        ("trainings", "admin", reverse("admin:events_training_changelist")),
        ("subscriptions", "admin", reverse("admin:mailing_subscription_changelist")),
        ("suppressions", "admin", reverse("admin:mailing_suppression_changelist")),
        ("audit log", "admin", reverse("admin:association_auditentry_changelist")),
        ("provider events", "admin", reverse("admin:mailing_providerevent_changelist")),
        ("members", "admin", reverse("admin:association_member_changelist")),
        (
            "member",
            "admin",
            reverse("admin:association_member_change", args=[contact.member.pk]),
        ),
        (
            "mailing list",
            "admin",
            reverse("admin:mailing_mailinglist_change", args=[world.list.pk]),
        ),
        ("portal home", "portal", reverse("portal:member", args=[code])),
        ("portal preferences", "portal", reverse("mailing:preferences")),
        ("portal archive", "portal", reverse("mailing:archive")),
        ("portal archive bulletin", "portal", reverse("mailing:archive_detail", args=[big])),
        ("portal trainings", "portal", reverse("events:member", args=[code])),
        (
            "portal training",
            "portal",
            reverse("events:detail", args=[code, world.training.pk]),
        ),
    ]


def clients(world: World) -> dict[str, Any]:
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    admin = Client()
    admin.force_login(world.admin)
    device = TOTPDevice.objects.create(user=world.admin, name="認証アプリ", confirmed=True)
    session = admin.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    portal = Client()
    portal.force_login(world.portal_contact.user)
    return {"admin": admin, "portal": portal}


def measure(client: Any, url: str, repeat: int) -> tuple[int, float, int]:
    """(queries of one request, median ms, status code)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up: templates, caches, prepared statements
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries), statistics.median(times), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[], help="page names to measure")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the data the last run left (its largest size), without building",
    )
    args = parser.parse_args()
    vendor = prepare_environment(reuse=args.reuse)
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver"]

    log(f"database: {vendor}; sizes: {args.sizes}; median of {args.repeat}")
    started = time.perf_counter()
    world = World.left_by_last_run() if args.reuse else World()
    if args.reuse:
        args.sizes = [world.contacts]
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for n in sorted(args.sizes):
        t0 = time.perf_counter()
        if n > world.contacts:
            world.grow(n)
        log(f"\n== {n:,} contacts and deliveries (built in {time.perf_counter() - t0:.1f} s)")
        logged_in = clients(world)
        for name, who, url in pages(world):
            if args.only and name not in args.only:
                continue
            queries, ms, status = measure(logged_in[who], url, args.repeat)
            results.setdefault(name, {})[str(n)] = {"queries": queries, "ms": round(ms, 1)}
            log(f"{name:26} {status:3}  {queries:3} queries  {ms:9.1f} ms")
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status} at {url}")

    sizes = [str(n) for n in sorted(args.sizes)]
    base, top = sizes[0], sizes[-1]
    log(f"\n{'page':26} " + " ".join(f"{s + ' q':>9} {s + ' ms':>12}" for s in sizes) + "  growth")
    failures = []
    summary: dict[str, Any] = {}
    for name, by_size in results.items():
        growth = by_size[top]["ms"] / max(by_size[base]["ms"], 0.1)
        ok = by_size[top]["queries"] <= MAX_QUERIES and growth <= MAX_GROWTH
        if name == "bulletin progress":
            ok = ok and by_size[top]["ms"] < PROGRESS_MS
        if not ok:
            failures.append(name)
        cells = " ".join(f"{by_size[s]['queries']:9} {by_size[s]['ms']:12.1f}" for s in sizes)
        log(f"{name:26} {cells}  x{growth:.2f}{'' if ok else '  <-- over'}")
        summary[name] = {**by_size, "growth": round(growth, 2), "ok": ok}
    log(
        f"\n{len(results) - len(failures)} of {len(results)} pages within {MAX_QUERIES} queries "
        f"and x{MAX_GROWTH:.0f} ({time.perf_counter() - started:.0f} s)"
    )
    log(
        json.dumps(
            {
                "bench": "pages",
                "database": vendor,
                "sizes": [int(s) for s in sizes],
                "repeat": args.repeat,
                "max_queries": MAX_QUERIES,
                "max_growth": MAX_GROWTH,
                "over": failures,
                "pages": summary,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
