"""Settings read from the environment: booleans (anymail's too) through the one typed helper,
an unrecognised boolean an error, and the demo's SITE_URL following make run's HOST/PORT.
Settings are read once at start, so each case starts a Python of its own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .workers import BASE_DIR, child_env

READ = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'anymail': s.ANYMAIL, 'site_url': s.SITE_URL, 'debug': s.DEBUG}))"
)


def start(**env: str) -> subprocess.CompletedProcess[str]:
    full = child_env(DJANGO_SETTINGS_MODULE="config.settings")
    full.update(env)  # empty values too
    for name in ("SITE_URL", "RENKEI_HOST", "RENKEI_PORT"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", READ], cwd=BASE_DIR, env=full, capture_output=True, text=True
    )


def read(**env: str) -> dict:
    done = start(**env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_anymail_booleans_from_the_environment_are_booleans():
    got = read(
        ANYMAIL_IGNORE_RECIPIENT_STATUS="False",
        ANYMAIL_POSTMARK_USE_BULK_API="yes",
        ANYMAIL_SENDGRID_GENERATE_MESSAGE_ID="0",
        ANYMAIL_POSTMARK_SERVER_TOKEN="token-False",
    )["anymail"]
    assert got["IGNORE_RECIPIENT_STATUS"] is False
    assert got["POSTMARK_USE_BULK_API"] is True
    assert got["SENDGRID_GENERATE_MESSAGE_ID"] is False
    assert got["POSTMARK_SERVER_TOKEN"] == "token-False"  # not a boolean: left as given


@pytest.mark.parametrize(
    "name", ["ANYMAIL_DEBUG_API_REQUESTS", "ANYMAIL_IGNORE_UNSUPPORTED_FEATURES", "DEBUG"]
)
def test_an_unrecognised_boolean_stops_the_start_naming_the_variable(name):
    done = start(**{name: "flase"})
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert f"{name}='flase' is not a boolean" in done.stderr


def test_an_empty_boolean_is_its_default():
    assert read(DEBUG="")["debug"] is False


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"RENKEI_HOST": "127.0.0.1", "RENKEI_PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"RENKEI_HOST": "0.0.0.0", "RENKEI_PORT": "8080"}, "http://localhost:8080"),
        ({}, "http://localhost:8000"),
        (
            {"RENKEI_PORT": "8080", "SITE_URL": "https://renkei.example.jp/"},
            "https://renkei.example.jp",
        ),
    ],
)
def test_the_demos_site_url_follows_where_make_run_serves(env, url):
    assert read(**env)["site_url"] == url
