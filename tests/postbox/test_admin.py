"""送信できなかったメール: what the secretariat sees of mail that finally failed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from association.models import User
from postbox import services
from postbox.models import OutgoingMail

from .conftest import queue

pytestmark = pytest.mark.django_db

BAD = "nobody@city.edogawa.example.jp"
FAILED_LIST = "admin:postbox_failedmail_changelist"


@pytest.fixture
def failures(smtp):
    smtp.handler.always[BAD] = f"550 5.1.1 <{BAD}>: Recipient address rejected"
    failed = queue(
        BAD, subject="【市区町村会】担当者変更のお知らせ（東京都江戸川区）", kind="welcome"
    )
    sent = queue("alice@city.edogawa.example.jp")
    services.send_due_mail()
    failed.refresh_from_db()
    return failed, sent


def _staff(*perms: str) -> Client:
    user = User.objects.create_user(f"staff-{User.objects.count()}", password="x", is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def test_the_secretariat_sees_what_failed_and_why(admin_client, failures):
    _failed, _sent = failures

    html = admin_client.get(reverse(FAILED_LIST)).content.decode()

    assert "送信できなかったメール" in html
    assert BAD in html
    assert "担当者変更のお知らせ" in html  # the kind; the subject is on the detail page
    assert "550 5.1.1 &lt;nobody@city.edogawa.example.jp&gt;" in html  # as the server said it
    assert "宛先のメールサーバーがこのアドレスを受け付けませんでした" in html
    assert "alice@city.edogawa.example.jp" not in html  # sent mail is not a failure


def test_staff_without_the_contact_permission_see_no_address(failures):
    failed, _sent = failures
    client = _staff("postbox.view_failedmail")

    listing = client.get(reverse(FAILED_LIST)).content.decode()
    detail = client.get(
        reverse("admin:postbox_failedmail_change", args=[failed.pk])
    ).content.decode()
    searched = client.get(reverse(FAILED_LIST), {"q": "nobody"})

    for html in (listing, detail):
        assert "受け付けませんでした" in html  # the reason, with the address taken out
        assert "（宛先）" in html
        assert BAD not in html and "nobody" not in html
        assert "東京都江戸川区" not in html  # the subject names the member
    # Searching by address would tell who got mail: it finds nothing without the permission.
    assert searched.context["cl"].result_count == 0
    allowed = _staff("postbox.view_failedmail", "association.view_contact")
    assert allowed.get(reverse(FAILED_LIST), {"q": "nobody"}).context["cl"].result_count == 1


def test_staff_without_the_list_permission_cannot_open_it(failures):
    client = _staff("association.view_contact")

    assert client.get(reverse(FAILED_LIST)).status_code == 403


def test_the_lists_are_read_only(admin_client, failures):
    failed, _sent = failures

    assert admin_client.get(reverse("admin:postbox_outgoingmail_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:postbox_outgoingmail_change", args=[failed.pk]), {"to": "x@example.jp"}
    )
    assert response.status_code == 403
    failed.refresh_from_db()
    assert failed.to == BAD


def test_a_cleared_login_code_says_why_its_body_is_empty(admin_client, smtp):
    code = queue(kind="login_code", text="確認コード：XY7Q2K")
    services.send_due_mail()

    html = admin_client.get(
        reverse("admin:postbox_outgoingmail_change", args=[code.pk])
    ).content.decode()

    assert "XY7Q2K" not in html
    assert "確認コードを含むため" in html


@pytest.mark.parametrize("model", ["failedmail", "outgoingmail"])
def test_the_lists_run_a_fixed_number_of_queries(
    admin_client, smtp, model, django_assert_max_num_queries
):
    smtp.handler.always[BAD] = "550 5.1.1 No such user here"
    for i in range(40):
        queue(BAD if i % 2 else f"staff{i}@city.edogawa.example.jp", contact_id=i + 1)
    services.send_due_mail()
    assert OutgoingMail.objects.filter(status="failed").count() == 20

    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse(f"admin:postbox_{model}_changelist"))

    assert response.status_code == 200
    assert response.content.decode().count("受け付けませんでした") >= 20
