"""Japanese by default, English on request, from the committed catalogue (locale/en)."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]")


@pytest.fixture(autouse=True)
def _back_to_japanese():
    """LocaleMiddleware leaves the request's language active in the thread; undo that."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def read_po(path: Path) -> list[dict[str, object]]:
    """The live entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (list), flags."""
    entries: list[dict[str, object]] = []
    entry: dict[str, object] = {}
    field = ""

    def finish() -> None:
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {}

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            finish()
            continue
        if line.startswith("#,"):
            entry["flags"] = {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
            if field.startswith("msgstr"):
                strs = entry["msgstr"]
                assert isinstance(strs, list)
                strs[-1] += value
            else:
                entry[field] = str(entry[field]) + value
            continue
        keyword, _, rest = line.partition(" ")
        value = ast.literal_eval(rest)
        if keyword in ("msgctxt", "msgid") and "msgstr" in entry:
            finish()
        field = keyword
        if keyword == "msgstr" or keyword.startswith("msgstr["):
            entry.setdefault("msgstr", [])
            strs = entry["msgstr"]
            assert isinstance(strs, list)
            strs.append(value)
        else:
            entry[keyword] = value
    finish()
    return entries


def test_it_serves_the_login_page_in_japanese_by_default_and_in_english_on_request(client, db):
    url = reverse("account_request_login_code")

    japanese = client.get(url).content.decode()
    assert '<html lang="ja">' in japanese
    assert "会員ポータルにログイン" in japanese

    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in english
    assert "Log in to the member portal" in english
    assert "会員ポータルにログイン" not in english


def test_it_switches_the_portal_to_english_with_the_language_button(client, alice):
    client.force_login(alice.user)
    home = reverse("portal:member", args=[alice.member.local_government_id])
    assert "担当者を追加" in client.get(home).content.decode()

    response = client.post(reverse("set_language"), {"language": "en", "next": home})
    assert response.status_code == 302 and response["Location"] == home
    html = client.get(home).content.decode()
    assert "Add a staff contact" in html
    assert "Coordinator" in html  # alice's role, a model choice
    assert f"Logged in as {alice.name}" in html  # a blocktranslate with a variable
    assert "担当者を追加" not in html


def test_it_has_an_english_translation_for_every_string_in_the_catalogue():
    entries = read_po(LOCALE / "django.po")
    assert len(entries) > 100
    header, *messages = entries
    assert header["msgid"] == ""
    assert "fuzzy" not in header.get("flags", set())  # type: ignore[operator]
    with (LOCALE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    for entry in messages:
        msgid, strs = entry["msgid"], entry["msgstr"]
        assert isinstance(msgid, str) and isinstance(strs, list)
        assert "fuzzy" not in entry.get("flags", set()), msgid  # type: ignore[operator]
        assert all(text.strip() for text in strs), f"no English for {msgid!r}"
        assert len(strs) == (2 if "msgid_plural" in entry else 1), msgid
        for text in strs:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(msgid)), msgid
        # The committed .mo is compiled from this .po (a fresh machine needs no gettext).
        key = f"{entry['msgctxt']}\x04{msgid}" if "msgctxt" in entry else msgid
        if "msgid_plural" in entry:
            assert [compiled.get((key, n)) for n in range(2)] == strs, msgid
        else:
            assert compiled.get(key) == strs[0], msgid
