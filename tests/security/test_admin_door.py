"""§2 The secretariat's door: password and a second factor, throttled per account and per
client address with lock-out and an audit row; only a superuser grants privileges."""

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from association import accounts
from association.models import AuditEntry, User
from tests.door import second_factor_device, totp_code

LOGIN = "/admin/login/"
PASSWORD = "x-long-passphrase-7"
BASE_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@npo.example.jp", PASSWORD)


@pytest.fixture
def clerk(db):
    user = User.objects.create_user("clerk", "clerk@npo.example.jp", PASSWORD, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user", "add_user"])
    )
    return user


def log_in(client, username, password=PASSWORD, token="", ip="198.51.100.7", **extra):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "otp_token": token, "next": "/admin/"},
        REMOTE_ADDR=ip,
        **extra,
    )


def is_in_admin(client):
    return client.get("/admin/").status_code == 200


def test_the_right_password_without_the_second_factor_is_refused(client, root):
    device = second_factor_device(root)
    response = log_in(client, "root")
    assert response.status_code == 200
    assert "確認コードが違うか" in response.content.decode()
    assert not is_in_admin(client)
    response = log_in(client, "root", token=totp_code(device))
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert is_in_admin(client)


def test_a_wrong_second_factor_counts_as_a_failed_login(client, root):
    second_factor_device(root)
    log_in(client, "root", token="000000")
    assert AccessFailureLog.objects.filter(username="root").count() == 1
    assert not is_in_admin(client)


def test_25_wrong_passwords_lock_the_account_and_the_right_one_is_refused_after(client, root):
    device = second_factor_device(root)
    statuses = [log_in(client, "root", password=f"guess-{n}").status_code for n in range(25)]
    assert statuses[:4] == [200] * 4
    assert set(statuses[5:]) == {429}
    locked = log_in(client, "root", token=totp_code(device))
    assert locked.status_code == 429
    assert "ログインを一時的に止めています" in locked.content.decode()
    assert not is_in_admin(client)
    # The audit rows: every failure with who, from where, when.
    attempt = AccessAttempt.objects.get(username="root")
    assert attempt.failures_since_start >= 5 and attempt.ip_address == "198.51.100.7"
    assert AccessFailureLog.objects.filter(username="root").count() >= 5


def test_the_account_stays_locked_from_another_address(client, root):
    device = second_factor_device(root)
    for n in range(5):
        log_in(client, "root", password=f"guess-{n}", ip="198.51.100.7")
    assert log_in(Client(), "root", token=totp_code(device), ip="203.0.113.9").status_code == 429


def test_one_client_address_trying_many_accounts_is_locked_out(client, root, clerk):
    for n in range(5):
        log_in(client, f"nobody-{n}", ip="198.51.100.7")
    device = second_factor_device(clerk)
    assert log_in(Client(), "clerk", token=totp_code(device), ip="198.51.100.7").status_code == 429
    # Another client still gets in to the same account.
    assert log_in(Client(), "clerk", token=totp_code(device), ip="203.0.113.9").status_code == 302


def test_behind_the_proxy_each_client_counts_apart_and_a_forged_header_changes_nothing(
    settings, root
):
    settings.TRUSTED_PROXY_COUNT = settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    device = second_factor_device(root)
    for n in range(5):
        # The attacker writes their own X-Forwarded-For; the proxy appends the real address.
        log_in(
            Client(),
            f"nobody-{n}",
            ip=proxy,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.66",
        )
    assert AccessAttempt.objects.filter(ip_address="198.51.100.66").count() == 5
    refused = log_in(
        Client(), "root", token=totp_code(device), ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.66"
    )
    assert refused.status_code == 429
    # Someone else behind the same proxy is not locked out by that client.
    ok = log_in(
        Client(), "root", token=totp_code(device), ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.20"
    )
    assert ok.status_code == 302


def test_a_recovery_code_lets_one_in_once(client, root):
    second_factor_device(root)
    codes = accounts.new_recovery_codes(root)
    assert log_in(client, "root", token=codes[0]).status_code == 302
    again = log_in(Client(), "root", token=codes[0])
    assert again.status_code == 200 and "確認コードが違うか" in again.content.decode()
    # Right after a wrong code, django-otp holds the codes back for a second.
    held = log_in(Client(), "root", token=codes[1])
    assert "少し待ってから" in held.content.decode()
    time.sleep(1.1)
    assert log_in(Client(), "root", token=codes[1]).status_code == 302


def test_the_first_login_sets_up_the_app_then_shows_recovery_codes_once(client, root):
    response = log_in(client, "root")
    assert response["Location"] == reverse("admin:enrol_second_factor")
    assert not is_in_admin(client)
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page
    found = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page)
    assert found
    secret = found.group(1)
    device = TOTPDevice.objects.get(user=root, confirmed=False)
    assert secret.replace(" ", "") in device.config_url
    wrong = client.post(reverse("admin:enrol_second_factor"), {"token": "000000"})
    assert "コードが違います" in wrong.content.decode()
    time.sleep(1.1)  # django-otp holds the app back for a second after a wrong code
    done = client.post(reverse("admin:enrol_second_factor"), {"token": totp_code(device)})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == 10
    assert is_in_admin(client)
    assert AuditEntry.objects.filter(action="second_factor_enrolled", object_id=str(root.pk))
    # The setup page is gone now; the next login asks for the app's code.
    assert client.get(reverse("admin:enrol_second_factor"))["Location"] == reverse("admin:login")
    assert log_in(Client(), "root", token=codes[0]).status_code == 302


def test_the_setup_page_cannot_replace_an_existing_factor_or_skip_the_password(client, root):
    assert client.get(reverse("admin:enrol_second_factor"))["Location"] == reverse("admin:login")
    second_factor_device(root)
    log_in(client, "root")  # right password, no code
    assert client.get(reverse("admin:enrol_second_factor"))["Location"] == reverse("admin:login")
    assert TOTPDevice.objects.filter(user=root).count() == 1


def test_a_wrong_password_never_opens_the_setup(client, root):
    response = log_in(client, "root", password="wrong")
    assert response.status_code == 200
    assert client.get(reverse("admin:enrol_second_factor"))["Location"] == reverse("admin:login")


def test_a_portal_login_cannot_enter_the_admin_even_with_a_password(client, alice):
    alice.user.set_password(PASSWORD)
    alice.user.save()
    assert log_in(client, alice.user.username).status_code == 200
    assert not is_in_admin(client)


def test_manage_py_resets_a_lost_factor(client, root):
    second_factor_device(root)
    accounts.new_recovery_codes(root)
    out = io.StringIO()
    call_command("reset_second_factor", "root", stdout=out)
    assert "root" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=root).exists()
    assert not StaticDevice.objects.filter(user=root).exists()
    assert AuditEntry.objects.filter(action="second_factor_reset", object_id=str(root.pk))
    assert log_in(client, "root")["Location"] == reverse("admin:enrol_second_factor")


def test_a_staff_account_with_change_user_cannot_raise_itself_or_others(client, clerk, root, alice):
    client.force_login(clerk)
    url = reverse("admin:association_user_change", args=[clerk.pk])
    page = client.get(url)
    assert page.status_code == 200
    group = Group.objects.create(name="全権")
    group.permissions.set(Permission.objects.all())
    client.post(
        url,
        {
            "username": "clerk",
            "email": "clerk@npo.example.jp",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [group.pk],
            "user_permissions": list(Permission.objects.values_list("pk", flat=True)),
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    clerk.refresh_from_db()
    assert not clerk.is_superuser
    assert not clerk.groups.exists()
    assert clerk.user_permissions.count() == 3
    # Nor may it change a secretariat account, its password included.
    root_url = reverse("admin:association_user_change", args=[root.pk])
    assert client.post(root_url, {"username": "root", "is_active": ""}).status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    taken = {"password1": "taken-over-123", "password2": "taken-over-123"}
    assert client.post(password_url, taken).status_code == 403
    root.refresh_from_db()
    assert root.check_password(PASSWORD)
    # Groups (which carry permissions) are the superuser's alone.
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403


def test_even_a_superuser_does_not_turn_a_contacts_login_into_a_secretariat_account(
    client, root, alice
):
    client.force_login(root)
    url = reverse("admin:association_user_change", args=[alice.user.pk])
    client.post(
        url,
        {
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    alice.user.refresh_from_db()
    assert not alice.user.is_staff and not alice.user.is_superuser


def test_the_admin_never_shows_a_second_factors_secret(client, root):
    client.force_login(root)
    for model in ("totpdevice", "staticdevice"):
        assert client.get(f"/admin/otp_{model.removesuffix('device')}/{model}/").status_code == 404


@pytest.mark.parametrize("debug", [True, False])
def test_the_outbox_is_for_a_superuser_through_the_door_only(client, settings, root, clerk, debug):
    settings.DEBUG = debug
    assert client.get("/dev/outbox/").status_code == 404  # anonymous, even from this machine
    client.force_login(clerk)
    assert client.get("/dev/outbox/").status_code == 404
    client.force_login(root)
    assert client.get("/dev/outbox/").status_code == (200 if debug else 404)
    unverified = Client()
    unverified.post(LOGIN, {"username": "root", "password": PASSWORD})  # no second factor
    assert unverified.get("/dev/outbox/").status_code == 404


def test_the_outbox_is_not_mounted_in_production(tmp_path):
    code = (
        "import django; django.setup();"
        "from django.urls import resolve, Resolver404\n"
        "try:\n resolve('/dev/outbox/'); print('mounted')\n"
        "except Resolver404: print('absent')"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "RENKEI_ENV": "production",
        "SECRET_KEY": "k" * 60,
        "RENKEI_VAR_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "absent", out.stderr
