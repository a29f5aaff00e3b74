"""§2: what the secretariat sees — response rate by block, who has not answered (with their
coordinators for those who may see people), one click to remind them, aggregation with a
chart, the export, one municipality's answer uploaded or reopened on its behalf."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from association.models import User
from inquiries import services
from inquiries.models import Inquiry, Reply
from mailing.models import Addressee

from .conftest import answers, reply_of, working_day_after
from .test_portal import fill
from .test_surveys import make_survey, opened, values


def clerk_with(*codenames: str) -> User:
    user = User.objects.create_user("clerk", "clerk@example.jp", "x-long-passphrase", is_staff=True)
    for full in codenames:
        app, codename = full.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return User.objects.get(pk=user.pk)


def test_the_secretariat_composes_and_sends_an_inquiry_in_the_admin(admin_client, edogawa, alice):
    response = admin_client.post(
        reverse("admin:inquiries_inquiry_add"),
        {
            "kind": "inquiry",
            "title": "令和8年度 自殺対策計画の\r\n策定状況について",
            "purpose": "",
            "body": "",
            "all_members": "on",
            "deadline": working_day_after(10).isoformat(),
            "reminder_days": "3、1",
            "questions-TOTAL_FORMS": "1",
            "questions-INITIAL_FORMS": "0",
            "questions-0-order": "1",
            "questions-0-kind": "single_choice",
            "questions-0-text": "計画の策定状況",
            "questions-0-required": "on",
            "questions-0-choices_text": "策定済み\r\n策定中\r\n未策定",
            "questions-0-max_rows": "20",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    inquiry = Inquiry.objects.get()
    assert (
        inquiry.title == "令和8年度 自殺対策計画の 策定状況について"
    )  # one line: no header injection
    assert inquiry.reminder_days == [3, 1]
    assert inquiry.question_set.questions.count() == 1
    page = admin_client.get(reverse("admin:inquiries_inquiry_change", args=[inquiry.pk]))
    assert "要配慮個人情報" in page.content.decode()
    admin_client.post(reverse("admin:inquiries_inquiry_send", args=[inquiry.pk]))
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.OPEN
    assert list(inquiry.replies.values_list("member_id", flat=True)) == [edogawa.pk]


def test_a_inquiry_with_no_question_is_not_sent_from_the_admin(admin_client, edogawa):
    inquiry = services.save_inquiry(
        Inquiry(title="設問なし", all_members=True, deadline=working_day_after(10))
    )
    response = admin_client.post(
        reverse("admin:inquiries_inquiry_send", args=[inquiry.pk]), follow=True
    )
    assert "設問がありません" in response.content.decode()
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.DRAFT


def test_progress_shows_the_rate_by_block_and_who_has_not_answered(
    admin_client, client, inquiry, edogawa, alice, charlie
):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    url = reverse("admin:inquiries_inquiry_progress", args=[inquiry.pk])
    page = admin_client.get(url).content.decode()
    assert "関東" in page and "50%" in page
    assert "東京都足立区" in page and charlie.email in page
    # Without the contact permission: the municipalities, never the people.
    client.force_login(clerk_with("inquiries.view_inquiry"))
    page = client.get(url).content.decode()
    assert "東京都足立区" in page and charlie.email not in page and charlie.name not in page
    assert client.post(url).status_code == 403  # view only: no reminder


def test_one_click_reminds_only_the_municipalities_that_have_not_submitted(
    admin_client, inquiry, edogawa, alice, charlie
):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    url = reverse("admin:inquiries_inquiry_progress", args=[inquiry.pk])
    admin_client.post(url)
    admin_client.post(url)  # twice: still one round
    reminders = Addressee.objects.filter(bulletin__subject__startswith="【照会・ご回答のお願い】")
    assert list(reminders.values_list("contact__email", flat=True)) == [charlie.email]


def test_the_aggregate_counts_submitted_answers_with_a_chart(
    admin_client, inquiry, edogawa, adachi, alice, charlie
):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    services.save_reply(
        reply_of(inquiry, adachi),
        answers(inquiry, {"計画の策定状況": "策定中", "自殺対策の予算額": "7500"}),
        contact=charlie,
        submit=True,
    )
    page = admin_client.get(reverse("admin:inquiries_inquiry_results", args=[inquiry.pk]))
    html = page.content.decode()
    assert "<svg" in html and "策定済み: 1（50.0%）" in html
    assert "20,000千円" in html and "10,000千円" in html  # sum and mean of the budgets
    assert "若年層への周知" in html and "東京都江戸川区" in html  # free text with its municipality


def test_the_export_has_one_row_per_municipality_codes_as_text(
    admin_client, inquiry, edogawa, adachi, alice
):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    response = admin_client.get(reverse("admin:inquiries_inquiry_export", args=[inquiry.pk]))
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("団体コード", "団体名", "都道府県", "ブロック", "状態", "提出日時")
    codes = {row[0]: row for row in rows[1:]}
    assert set(codes) == {edogawa.local_government_id, adachi.local_government_id}
    assert sheet.cell(2, 1).data_type == "s"
    edo = codes[edogawa.local_government_id]
    assert edo[4] == "提出済み" and 12500 in edo and "学校、保健所" not in edo
    assert "保健所、学校" in edo  # choices in their own order
    assert codes[adachi.local_government_id][4] == "未着手"
    assert book.worksheets[1].cell(3, 1).value == edogawa.local_government_id  # the table sheet


def test_the_secretariat_uploads_a_file_that_came_by_mail_and_reopens_one_municipality(
    admin_client, inquiry, edogawa, adachi
):
    data = services.xlsx_form(reply_of(inquiry, adachi))
    filled = fill(data, inquiry, {"担当課名": "こころの健康課", "計画の策定状況": "策定中"})
    url = reverse("admin:inquiries_inquiry_reply", args=[inquiry.pk, reply_of(inquiry, adachi).pk])
    admin_client.post(url, {"action": "upload", "file": io.BytesIO(filled)})
    assert reply_of(inquiry, adachi).is_submitted
    page = admin_client.get(url).content.decode()
    assert "事務局（Excel）" in page
    url = reverse("admin:inquiries_inquiry_reply", args=[inquiry.pk, reply_of(inquiry, edogawa).pk])
    admin_client.post(url, {"action": "reopen", "until": working_day_after(20).isoformat()})
    assert reply_of(inquiry, edogawa).reopened_until == working_day_after(20)
    assert Reply.objects.get(pk=reply_of(inquiry, adachi).pk).reopened_until is None


def test_published_results_are_for_members_and_hold_free_text_only_when_chosen(
    client, inquiry, edogawa, alice, bob, registry
):
    from association import services as association
    from tests.conftest import lg

    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice, submit=True)
    url = reverse("inquiries:published", args=[inquiry.pk])
    client.force_login(bob.user)
    assert client.get(url).status_code == 404  # not published
    inquiry.published = True
    services.save_inquiry(inquiry)
    page = client.get(url).content.decode()
    assert "策定済み: 1（100.0%）" in page and "若年層への周知" not in page
    assert inquiry.title in client.get(reverse("inquiries:published_list")).content.decode()
    inquiry.publish_text = True
    services.save_inquiry(inquiry)
    assert "若年層への周知" in client.get(url).content.decode()
    guest = association.register_guest(lg("東京都墨田区"))
    outsider = association.add_contact(guest, name="非会員 職員", email="x@city.sumida.example.jp")
    client.force_login(outsider.user)
    assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302


def _one_question_inquiry(edogawa, adachi) -> Inquiry:  # type: ignore[no-untyped-def]
    inquiry = services.save_inquiry(
        Inquiry(title="相談窓口の設置状況", all_members=True, deadline=working_day_after(10))
    )
    services.questions.save_question(
        inquiry.question_set, kind="yes_no", text="相談窓口がありますか", required=True
    )
    return services.send_inquiry(inquiry)


def _change_form(inquiry: Inquiry, *, new: dict[str, str] | None = None, **first: str) -> dict:
    """The change page's POST for a sent 照会: its texts and its questions as they are, the
    first question's fields overridden by FIRST, and NEW as one more question."""
    questions = list(inquiry.question_set.questions.all())
    data = {
        "title": inquiry.title,
        "purpose": "",
        "body": "",
        "reminder_days": "",
        "questions-TOTAL_FORMS": str(len(questions) + (1 if new else 0)),
        "questions-INITIAL_FORMS": str(len(questions)),
    }
    for n, q in enumerate(questions):
        fields = {
            "id": str(q.pk),
            "order": str(q.order),
            "kind": q.kind,
            "text": q.text,
            "max_rows": str(q.max_rows),
            **({"required": "on"} if q.required else {}),
        }
        if n == 0:
            fields.update(first)
            fields = {k: v for k, v in fields.items() if v != ""}
        data.update({f"questions-{n}-{k}": v for k, v in fields.items()})
    if new:
        n = len(questions)
        data.update({f"questions-{n}-{k}": v for k, v in {"max_rows": "20", **new}.items()})
    return data


def test_a_required_question_is_refused_once_a_member_has_submitted(
    admin_client, edogawa, adachi, alice
):
    inquiry = _one_question_inquiry(edogawa, adachi)
    url = reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])
    late = {"order": "2", "kind": "short_text", "text": "担当課名", "required": "on"}
    # No one has submitted yet: a required question may still be added.
    assert admin_client.post(url, _change_form(inquiry, new=late)).status_code == 302
    assert inquiry.question_set.questions.filter(text="担当課名", required=True).exists()

    services.save_reply(
        reply_of(inquiry, edogawa),
        {
            q.pk: True if q.kind == "yes_no" else "保健予防課"
            for q in inquiry.question_set.questions.all()
        },
        contact=alice,
        submit=True,
    )
    later = {"order": "3", "kind": "number", "text": "相談件数", "required": "on"}
    refused = admin_client.post(url, _change_form(inquiry, new=later))
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "すでに1件の回答が提出されているため、必須の設問は追加できません" in page
    assert not inquiry.question_set.questions.filter(text="相談件数").exists()

    # An optional question made required is the same case.
    services.questions.save_question(
        inquiry.question_set, kind="long_text", text="課題", required=False
    )
    optional = inquiry.question_set.questions.get(text="課題")
    data = _change_form(inquiry)
    n = list(inquiry.question_set.questions.all()).index(optional)
    data[f"questions-{n}-required"] = "on"
    assert "必須の設問は追加できません" in admin_client.post(url, data).content.decode()
    optional.refresh_from_db()
    assert not optional.required

    # The same question, optional, is taken.
    later.pop("required")
    assert admin_client.post(url, _change_form(inquiry, new=later)).status_code == 302
    assert inquiry.question_set.questions.filter(text="相談件数", required=False).exists()
    # A required question submitted answers already have stays required when edited.
    first = inquiry.question_set.questions.get(text="相談窓口がありますか")
    data = _change_form(inquiry, text="相談窓口がありますか（常設）")
    assert admin_client.post(url, data).status_code == 302
    first.refresh_from_db()
    assert first.required and first.text == "相談窓口がありますか（常設）"


def test_a_surveys_answers_count_as_submitted_for_the_required_rule(attended, alice):
    survey = opened(make_survey(attended, anonymous=True))
    services.check_question(survey, required=True)  # no answer yet
    services.answer_survey(survey, alice, values(survey))
    with pytest.raises(ValidationError):
        services.check_question(survey, required=True)
    services.check_question(survey, required=False)
