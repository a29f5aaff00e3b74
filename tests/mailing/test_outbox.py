"""The demo outbox: a page at a time, only that page's files read, pruned by age and count."""

from __future__ import annotations

import os
import pathlib
import time

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.urls import reverse

from association.models import User
from mailing.outbox import PER_PAGE, prune_outbox, read_outbox
from mailing.tasks import prune_outbox_task


def _send(count: int, *, to: str = "staff{i}@city.example.jp") -> None:
    for i in range(count):
        EmailMessage(f"件名 {i:04d}", "本文", to=[to.format(i=i)]).send()


@pytest.fixture
def root_client(client, db, settings):
    settings.DEBUG = True
    client.force_login(User.objects.create_superuser("root", "root@example.jp", "x-long-pass"))
    return client


@pytest.fixture
def opened(monkeypatch, settings):
    """The outbox files each request opens."""
    seen: list[str] = []
    original = pathlib.Path.open

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if pathlib.Path(settings.OUTBOX_DIR) in self.parents:
            seen.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", spy)
    return seen


def test_it_lists_a_page_of_the_newest_mail_reading_only_that_pages_files(
    root_client, outbox, opened
):
    _send(PER_PAGE * 2 + 7)
    names = [item.path.name for item in read_outbox(outbox.directory)]
    opened.clear()

    html = root_client.get(reverse("outbox_list")).content.decode()

    assert "件名 0106" in html and "件名 0057" in html and "件名 0056" not in html
    assert f"{PER_PAGE * 2 + 7} 通" in html and "1 / 3" in html
    assert sorted(opened) == sorted(names[:PER_PAGE])  # each of the page's files, once


def test_it_pages_to_older_mail_and_past_the_end_shows_the_last_page(root_client):
    _send(PER_PAGE + 3)

    second = root_client.get(reverse("outbox_list") + "?page=2").content.decode()
    beyond = root_client.get(reverse("outbox_list") + "?page=99").content.decode()
    garbage = root_client.get(reverse("outbox_list") + "?page=%0D%0Ax")

    assert "件名 0000" in second and "件名 0003" not in second and "2 / 2" in second
    assert "件名 0000" in beyond and "2 / 2" in beyond
    assert garbage.status_code == 200 and "件名 0052" in garbage.content.decode()


def test_the_recipient_filter_reads_first_lines_and_keeps_itself_across_pages(
    root_client, outbox, opened
):
    _send(PER_PAGE + 5, to="m-sato@city.edogawa.example.jp")
    _send(30)
    opened.clear()

    first = root_client.get(reverse("outbox_list") + "?to=M-Sato@").content.decode()
    second = root_client.get(reverse("outbox_list") + "?to=m-sato%40&page=2").content.decode()

    assert f"{PER_PAGE + 5} 通" in first and "staff" not in first
    assert "?to=m-sato%40&amp;page=2" in first
    assert "件名 0000" in second and "staff" not in second
    # The filter reads one line of each file and the headers of the page's files only.
    assert len(opened) <= (PER_PAGE + 35) * 2 + PER_PAGE + 5


def test_a_message_opens_whole_and_a_half_written_file_is_not_shown(root_client, outbox):
    message = EmailMultiAlternatives("件名テスト", "本文です。\n", to=["a@example.jp"])
    message.attach_alternative("<p>本文です。</p>", "text/html")
    message.send()
    (outbox.directory / ".20990101-000000-000000-deadbeef.eml.tmp").write_bytes(b"Subject: x\n")
    item = read_outbox(outbox.directory)[0]

    detail = root_client.get(reverse("outbox_detail", args=[item.name])).content.decode()
    hidden = root_client.get("/dev/outbox/.20990101-000000-000000-deadbeef.eml/")

    assert "本文です。" in detail and "Content-Type" in detail
    assert len(read_outbox(outbox.directory)) == 1 and hidden.status_code == 404


def test_prune_keeps_the_newest_by_count(settings, outbox):
    settings.OUTBOX_KEEP_COUNT = 10
    _send(25)

    deleted = prune_outbox()

    assert deleted == 15
    assert [i.subject for i in read_outbox()] == [f"件名 {i:04d}" for i in range(24, 14, -1)]


def test_prune_deletes_by_age_and_leftover_temporary_files(settings, outbox):
    settings.OUTBOX_KEEP_DAYS = 7
    _send(4)
    old, *_ = sorted(outbox.directory.glob("*.eml"))
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    stale_tmp = outbox.directory / ".x.eml.tmp"
    stale_tmp.write_bytes(b"")
    os.utime(stale_tmp, (eight_days_ago, eight_days_ago))
    fresh_tmp = outbox.directory / ".y.eml.tmp"  # being written right now
    fresh_tmp.write_bytes(b"")

    prune_outbox_task()

    assert not old.exists() and not stale_tmp.exists() and fresh_tmp.exists()
    assert len(read_outbox()) == 3


def test_prune_of_a_missing_outbox_does_nothing(settings, tmp_path):
    settings.OUTBOX_DIR = tmp_path / "never-written"

    assert prune_outbox() == 0


def test_beat_prunes_the_outbox_on_the_housekeeping_queue(settings):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    from config.celery import app

    route = app.amqp.router.route({}, "mailing.prune_outbox")

    assert "mailing.prune_outbox" in schedule
    assert route["queue"].name == "transactional"
