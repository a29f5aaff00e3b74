"""Attack: read someone's login code in the development outbox (issue 8 §2). Each message's
page, not only the list, is for a superuser who passed the second factor, with DEBUG on, and
never outside the outbox folder. (The list, and the outbox absent in production:
test_admin_door.py.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.test import Client

from association.models import User
from mailing.outbox import read_outbox


@pytest.fixture
def message_name(settings, outbox) -> str:
    send_mail(
        "ログイン用の確認コード", "確認コード：ABC123", "jimukyoku@renkei.example.jp", ["a@x.jp"]
    )
    (item,) = read_outbox(settings.OUTBOX_DIR)
    return item.name


@pytest.fixture
def staff(db) -> User:
    user = User.objects.create_user("clerk", "clerk@npo.example.jp", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.all())  # every permission, still not superuser
    return user


@pytest.mark.django_db
def test_a_message_page_is_for_a_verified_superuser_with_debug_on(
    settings, message_name, staff, admin_user
):
    settings.DEBUG = True
    url = f"/dev/outbox/{message_name}/"
    assert Client().get(url).status_code == 404
    as_staff = Client()
    as_staff.force_login(staff)
    assert as_staff.get(url).status_code == 404
    assert as_staff.get("/dev/outbox/").status_code == 404
    as_root = Client()
    as_root.force_login(admin_user)
    page = as_root.get(url)
    assert page.status_code == 200 and "ABC123" in page.content.decode()

    settings.DEBUG = False
    assert as_root.get(url).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["..", "..%2F..%2Fsecret_key", "%2E%2E%2Fsecret_key", "nothing-here", ".%2Fx"]
)
def test_no_name_reads_outside_the_outbox(settings, admin_user, message_name, name):
    settings.DEBUG = True
    client = Client()
    client.force_login(admin_user)
    (settings.OUTBOX_DIR.parent / "secret_key.eml").write_text("Subject: secret\n\nsecret")

    assert client.get(f"/dev/outbox/{name}/").status_code == 404
