"""§7 Production that refuses to be unsafe: the README's production recipe passes
`check --deploy --fail-level WARNING`; DEBUG, plain-http SITE_URL and the like are refused."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def readme_production_env() -> dict[str, str]:
    """The variables the README's Production section exports, as a new operator copies them."""
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Production", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "no shell block in the README's Production section"
    text = block.group(1).replace("\\\n", " ")
    exports = [line for line in text.splitlines() if line.startswith("export ")]
    assert exports, "no export line in the README's Production section"
    env = {}
    for word in shlex.split(exports[0])[1:]:
        name, _, value = word.partition("=")
        env[name] = value
    return env


def run_manage(env: dict[str, str], *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    key = tmp_path / "secret_key"
    key.write_text("k" * 20 + "-production-secret-for-the-check-" + "z" * 20)
    full = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RENKEI_VAR_DIR": str(tmp_path / "var"),
        **env,
    }
    if "SECRET_KEY_FILE" in full:
        full["SECRET_KEY_FILE"] = str(key)  # the README's path is the server's, not ours
    for name in [name for name in full if name.endswith("_FILE") and name != "SECRET_KEY_FILE"]:
        secret = tmp_path / name.lower()
        secret.write_text("renkei:webhook-secret-for-the-check")
        full[name] = str(secret)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readmes_production_recipe_passes_the_deploy_check_with_no_warning(tmp_path):
    env = readme_production_env()
    assert env["RENKEI_ENV"] == "production"
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_plain_http_site_url_is_an_error_naming_it(tmp_path):
    env = readme_production_env() | {"SITE_URL": "http://renkei.example.jp"}
    result = run_manage(env, "check", "--deploy", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "renkei.E001" in result.stderr and "SITE_URL" in result.stderr


def test_debug_is_impossible_in_production(tmp_path):
    env = readme_production_env() | {"DEBUG": "1"}
    result = run_manage(env, "check", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_without_a_secret_key_does_not_start(tmp_path):
    env = {k: v for k, v in readme_production_env().items() if k != "SECRET_KEY_FILE"}
    result = run_manage(env, "check", tmp_path=tmp_path)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_the_file_outbox_in_production_is_a_warning(tmp_path):
    env = readme_production_env() | {"EMAIL_BACKEND": "mailing.outbox.OutboxBackend"}
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path)
    assert result.returncode != 0 and "renkei.W001" in result.stderr


def test_production_settings_turn_on_hsts_ssl_redirect_and_secure_cookies(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER[0])"
    )
    result = run_manage(readme_production_env(), "shell", "-c", code, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == [
        "31536000",
        "True",
        "True",
        "True",
        "HTTP_X_FORWARDED_PROTO",
    ]


@pytest.mark.django_db
def test_healthz_gives_the_public_no_detail_but_this_machine_and_the_secretariat_all(
    admin_client,
):
    public = Client().get("/healthz", REMOTE_ADDR="203.0.113.5")
    assert json.loads(public.content) == {"status": "ok"}
    local = Client().get("/healthz", REMOTE_ADDR="127.0.0.1")
    assert set(json.loads(local.content)) == {"status", "database", "broker"}
    staff = admin_client.get("/healthz", REMOTE_ADDR="203.0.113.5")
    assert "database" in json.loads(staff.content)


def test_every_provider_backend_the_readme_names_imports_after_pip_install():
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    backends = set(re.findall(r"anymail\.backends\.(\w+)\.EmailBackend", readme))
    assert "amazon_ses" in backends
    for backend in sorted(backends):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings';"
                f"django.setup(); from anymail.backends.{backend} import EmailBackend;"
                "EmailBackend(fail_silently=True)",
            ],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
        )
        assert "ModuleNotFoundError" not in result.stderr, (backend, result.stderr)
