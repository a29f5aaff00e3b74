"""§4, attacked: hostile text in every field, the same submission twice at once, the 調査票
round trip for any text (Hypothesis), list pages in a fixed number of queries."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from association import services as association
from inquiries import services
from inquiries.models import Reply
from mailing.models import Addressee, Bulletin
from questions.models import AnswerChange
from questions.values import clean_line

from .conftest import answers, by_text, deliver_bulletins, reply_of

LONG_NAME = "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末食う寝る処に住む処藪ら柑子の藪柑子パイポパイポパイポのシューリンガン"[
    :60
]


def test_a_sixty_character_name_and_cr_lf_everywhere_stay_on_one_line(
    make_inquiry, edogawa, outbox
):
    # A contact's name or department with CR/LF is refused at input (it reaches mail
    # headers); an inquiry's title and answers are folded onto one line.
    with pytest.raises(ValidationError) as refused:
        association.add_contact(
            edogawa,
            name=f"{LONG_NAME}\r\nBcc: evil@example.com",
            email="long@city.edogawa.example.jp",
            department="健康部\r\nBcc: evil@example.com",
            role="coordinator",
        )
    assert set(refused.value.error_dict) == {"name", "department"}
    contact = association.add_contact(
        edogawa,
        name=LONG_NAME,
        email="long@city.edogawa.example.jp",
        department="健康部",
        role="coordinator",
    )
    inquiry = services.send_inquiry(
        make_inquiry(title="照会\r\nBcc: evil@example.com", purpose="目的\r\n二行目")
    )
    assert inquiry.title == "照会 Bcc: evil@example.com" and "\n" not in inquiry.purpose
    services.announce_inquiry(inquiry.pk)
    deliver_bulletins()
    (mail,) = outbox.to(contact.email)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.message["Bcc"] is None
    assert f"{LONG_NAME} 様" in mail.text
    reply = reply_of(inquiry, edogawa)
    q = by_text(inquiry)
    services.save_reply(
        reply,
        answers(inquiry, {"担当課名": "課\r\n名\x00", "課題": "一行目\r\n二行目\r三行目"}),
        contact=contact,
        submit=True,
    )
    values = services.questions.answer_values(reply.answer_set)
    assert values[q["担当課名"].pk] == "課 名"
    assert values[q["課題"].pk] == "一行目\n二行目\n三行目"
    assert set(AnswerChange.objects.values_list("actor_name", flat=True)) == {LONG_NAME}


def test_a_questions_type_cannot_change_in_the_admin_once_answered(
    admin_client, inquiry, edogawa, alice
):
    services.save_reply(reply_of(inquiry, edogawa), answers(inquiry), contact=alice)
    question = by_text(inquiry)["自殺対策の予算額"]
    with pytest.raises(ValidationError) as refused:
        services.questions.save_question(inquiry.question_set, question, kind="short_text")
    assert "回答の形式は変更できません" in " ".join(refused.value.messages)


@pytest.mark.django_db(transaction=True)
def test_two_submissions_of_the_same_form_at_once_save_once(make_inquiry, edogawa, alice, bob):
    inquiry = services.send_inquiry(make_inquiry())
    reply = reply_of(inquiry, edogawa)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(text: str) -> None:
        try:
            barrier.wait()
            services.save_reply(
                reply,
                answers(inquiry, {"課題": text}),
                contact=alice,
                submit=True,
                expected_revision=0,
            )
            outcomes.append("saved")
        except ValidationError as exc:
            outcomes.append(exc.code or "invalid")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=submit, args=(t,)) for t in ("一回目", "二回目")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["saved", "stale"]
    assert AnswerChange.objects.count() == 7
    assert Reply.objects.get(pk=reply.pk).answer_set.revision == 1


@pytest.mark.django_db(transaction=True)
def test_the_request_mail_announced_by_two_workers_at_once_goes_once(
    make_inquiry, edogawa, adachi, alice, charlie
):
    inquiry = services.send_inquiry(make_inquiry())
    barrier = threading.Barrier(2)

    def announce() -> None:
        barrier.wait()
        services.announce_inquiry(inquiry.pk)
        close_old_connections()

    threads = [threading.Thread(target=announce) for _i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (bulletin,) = Bulletin.objects.all()  # one request, naming each coordinator once
    to = sorted(
        Addressee.objects.filter(bulletin=bulletin).values_list("contact__email", flat=True)
    )
    assert to == sorted([alice.email, charlie.email])


TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=60,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(department=TEXT, issue=TEXT)
def test_any_text_survives_the_chosahyo_download_and_upload(
    inquiry, edogawa, alice, department, issue
):
    reply = reply_of(inquiry, edogawa)
    q = by_text(inquiry)
    typed = answers(inquiry, {"担当課名": clean_line(department) or "課", "課題": issue})
    try:
        services.save_reply(reply, typed, contact=alice)
    except ValidationError:
        return  # refused on the web, as it would be from the file
    before = services.questions.answer_values(reply.answer_set)
    services.upload_reply(reply, services.xlsx_form(reply), contact=alice)
    assert services.questions.answer_values(reply.answer_set) == before
    assert before[q["担当課名"].pk]


def test_the_changelist_and_the_secretariats_pages_take_a_fixed_number_of_queries(
    admin_client, make_inquiry, registry, django_assert_max_num_queries
):
    from association.models import LocalGovernment

    for lg in LocalGovernment.objects.municipalities().order_by("code")[:25]:
        member = association.admit_member(lg)
        for n, role in enumerate(("coordinator", "staff")):
            association.add_contact(
                member, name=f"職員{n}", email=f"s{n}@{lg.code}.example.jp", role=role
            )
    inquiry = services.send_inquiry(make_inquiry())
    for reply in inquiry.replies.all()[:10]:
        services.save_reply(reply, answers(inquiry), by=admin_client_user(), submit=True)
    pages = [
        (reverse("admin:inquiries_inquiry_changelist"), 12),
        (reverse("admin:inquiries_inquiry_progress", args=[inquiry.pk]), 15),
        (reverse("admin:inquiries_inquiry_results", args=[inquiry.pk]), 15),
        (reverse("admin:inquiries_inquiry_export", args=[inquiry.pk]), 15),
    ]
    for url, most in pages:
        with django_assert_max_num_queries(most):
            assert admin_client.get(url).status_code == 200


def admin_client_user():  # type: ignore[no-untyped-def]
    from association.models import User

    return User.objects.get(username="admin")
