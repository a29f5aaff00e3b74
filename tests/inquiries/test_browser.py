"""The issue's walk, in Chromium with a real Celery worker: a 照会 to all demo members goes out,
three municipalities answer (one on the web, one by uploading the 調査票, one after the
deadline once the secretariat reopened it), the reminder reaches only the others, and the
aggregate and the export are right."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from pathlib import Path

import openpyxl
import pytest
from django.utils import timezone

from association.demo import SECRETARIAT_USERNAME, load_demo_data, secretariat_password
from association.models import Contact, Member, User
from inquiries import services
from inquiries.models import Inquiry, Reply
from tests.door import second_factor_device, totp_code

from .conftest import add_questions, working_day_after
from .test_portal import fill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/brief/shots/inquiries")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS.parent.parent.exists():  # only on the team's machine, never in CI
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def admin_log_in(page, next_path: str) -> None:  # type: ignore[no-untyped-def]
    device = second_factor_device(User.objects.get(username=SECRETARIAT_USERNAME))
    page.goto(f"/admin/login/?next={next_path}")
    page.locator("#id_username").fill(SECRETARIAT_USERNAME)
    page.locator("#id_password").fill(secretariat_password())
    page.locator("#id_otp_token").fill(totp_code(device))
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(next_path)))


def portal_log_in(page, contact: Contact, path: str, outbox, lands: str = "") -> None:  # type: ignore[no-untyped-def]
    before = len(outbox.to(contact.email))
    page.goto(path)
    page.get_by_label("メールアドレス").fill(contact.email)
    page.get_by_role("button", name="確認コードを受け取る").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/confirm/"))
    deadline = time.monotonic() + 30  # the code mail is sent by the worker
    while len(outbox.to(contact.email)) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    match = re.search(r"確認コード：(\S+)", outbox.to(contact.email)[-1].text)
    assert match is not None
    page.get_by_label("確認コード").fill(match.group(1))
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_url(re.compile(lands or re.escape(path) + "$"))


def coordinator(member: Member) -> Contact:
    return member.contacts.active().get(role=Contact.Role.COORDINATOR)


def mail_url(outbox, contact: Contact, words: str) -> str:  # type: ignore[no-untyped-def]
    """The answer link of the 照会 bulletin: one URL for all, printed in full on its line."""
    mail = next(m for m in outbox.to(contact.email) if words in m.subject)
    match = re.search(r"^http://localhost:8000(/inquiries/\d+/answer/)$", mail.text, re.MULTILINE)
    assert match is not None, mail.text
    return match.group(1)


def own_answer_page(member: Member) -> str:
    """Where the link lands for a member's staff: its own answer page."""
    return re.escape(f"/inquiries/m/{member.local_government_id}/") + r"\d+/$"


def test_an_inquiry_to_all_demo_members_answered_three_ways_reminded_counted_and_exported(
    page, celery_worker, registry, outbox, tmp_path
):
    load_demo_data()
    members = list(Member.objects.active().order_by("local_government_id"))
    inquiry = services.save_inquiry(
        Inquiry(
            title="令和8年度 自殺対策計画の策定状況について",
            purpose="総会資料にまとめるため",
            body="ご多用のところ恐れ入りますが、**期限まで**にご回答ください。",
            all_members=True,
            deadline=working_day_after(14),
            reminder_days=[3, 1],
        )
    )
    add_questions(inquiry.question_set)

    # The secretariat sends it from the admin; the worker mails every member's coordinator.
    admin_log_in(page, f"/admin/inquiries/inquiry/{inquiry.pk}/change/")
    assert "要配慮個人情報" in page.locator("#content").inner_text()
    shot(page, "01-admin-compose")
    page.get_by_role("link", name="送信", exact=True).click()
    shot(page, "02-admin-send")
    page.get_by_role("button", name="送信する").click()
    page.wait_for_url(re.compile(r"/progress/$"))
    coordinators = {m.pk: coordinator(m) for m in members}
    celery_worker.wait_for(
        lambda: all(
            any("【照会】" in m.subject for m in outbox.to(c.email)) for c in coordinators.values()
        ),
        timeout=60,
    )
    staff = Contact.objects.filter(role=Contact.Role.STAFF, member__in=members)
    assert not any(outbox.to(c.email) for c in staff)  # the coordinators only

    web, excel, late, *others = members
    portal = page.context.browser.new_context(locale="ja-JP", base_url=page.url.split("/admin")[0])
    municipality = portal.new_page()

    # 1. On the web: the coordinator follows the link in the mail and submits.
    path = mail_url(outbox, coordinators[web.pk], "【照会】")
    portal_log_in(municipality, coordinators[web.pk], path, outbox, own_answer_page(web))
    questions = {q.text: q for q in inquiry.question_set.questions.all()}
    municipality.get_by_role("button", name="提出する").click()
    summary = municipality.locator(".error-summary")
    assert "「担当課名」に回答してください（必須）。" in summary.inner_text()
    assert municipality.evaluate("document.activeElement.classList.contains('error-summary')")
    shot(municipality, "03a-portal-missing-answers")
    municipality.get_by_label("1. 担当課名").fill("健康部 保健予防課")
    municipality.get_by_label("2. 自殺対策の予算額").fill("１２，０００")
    municipality.locator(f"#id_q{questions['計画の策定状況'].pk}").get_by_label("策定済み").check()
    shot(municipality, "03-portal-answer")
    municipality.get_by_role("button", name="提出する").click()
    assert "回答を提出しました" in municipality.locator(".messages").inner_text()
    shot(municipality, "04-portal-submitted")

    # 2. By Excel: download the 調査票, fill it in, upload it.
    municipality.get_by_role("button", name="ログアウト").click()
    path = mail_url(outbox, coordinators[excel.pk], "【照会】")
    portal_log_in(municipality, coordinators[excel.pk], path, outbox, own_answer_page(excel))
    with municipality.expect_download() as download:
        municipality.get_by_role("link", name="調査票をダウンロード（.xlsx）").click()
    filled = fill(
        Path(download.value.path()).read_bytes(),
        inquiry,
        {"担当課名": "福祉部 障害福祉課", "計画の策定状況": "策定中", "自殺対策の予算額": 8000},
    )
    upload = tmp_path / "chosahyo.xlsx"
    upload.write_bytes(filled)
    municipality.get_by_label("記入した調査票（.xlsx）").set_input_files(str(upload))
    municipality.get_by_role("button", name="読み込んで提出").click()
    assert "調査票を読み込み、回答を提出しました" in municipality.locator(".messages").inner_text()

    # The reminder reaches only those who have not submitted.
    page.goto(f"/admin/inquiries/inquiry/{inquiry.pk}/progress/")
    shot(page, "05-admin-progress")
    page.get_by_role("button", name="未提出の団体に督促する").click()
    expected = {coordinators[m.pk].email for m in [late, *others]}

    def reminded() -> set[str]:
        return {m.to for m in outbox.messages() if "ご回答のお願い" in m.subject}

    celery_worker.wait_for(lambda: reminded() == expected, timeout=60)
    assert reminded() == expected
    for member in (web, excel):
        assert not any(
            "ご回答のお願い" in m.subject for m in outbox.to(coordinators[member.pk].email)
        )

    # 3. The deadline passes; the late municipality is refused until the secretariat reopens it.
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Inquiry.objects.filter(pk=inquiry.pk).update(deadline=yesterday)
    municipality.get_by_role("button", name="ログアウト").click()
    path = mail_url(outbox, coordinators[late.pk], "【照会】")
    portal_log_in(municipality, coordinators[late.pk], path, outbox, own_answer_page(late))
    assert "回答期限" in municipality.locator(".warning").inner_text()
    assert municipality.get_by_role("button", name="提出する").count() == 0
    shot(municipality, "06-portal-after-deadline")
    reply = Reply.objects.get(inquiry=inquiry, member=late)
    page.goto(f"/admin/inquiries/inquiry/{inquiry.pk}/replies/{reply.pk}/")
    page.get_by_label("再開の期限").fill(working_day_after(3).isoformat())
    page.get_by_role("button", name="この団体だけ再開する").click()
    assert "回答を再開しました" in page.locator(".messagelist").inner_text()
    municipality.reload()
    municipality.get_by_label("1. 担当課名").fill("保健センター")
    municipality.locator(f"#id_q{questions['計画の策定状況'].pk}").get_by_label("策定済み").check()
    municipality.get_by_role("button", name="提出する").click()
    assert "回答を提出しました" in municipality.locator(".messages").inner_text()

    # The aggregate and the export.
    assert inquiry.replies.submitted().count() == 3
    page.goto(f"/admin/inquiries/inquiry/{inquiry.pk}/results/")
    text = page.locator("#content").inner_text()
    assert f"回答 3 / {len(members)}" in text
    assert page.locator("svg.chart").count() >= 3
    shot(page, "07-admin-results")
    html = page.content()
    assert "策定済み: 2（66.7%）" in html and "策定中: 1（33.3%）" in html
    assert "20,000千円" in text and "10,000千円" in text  # the sum and mean of two budgets
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel に書き出す（1団体1行）").click()
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = {row[0]: row for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {m.local_government_id for m in members}
    assert rows[web.local_government_id][4] == "提出済み"
    assert rows[excel.local_government_id][6] == "福祉部 障害福祉課"
    assert rows[late.local_government_id][6] == "保健センター"
    assert {rows[m.local_government_id][4] for m in others} == {"未着手"}
    portal.close()
