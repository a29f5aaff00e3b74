"""The privacy registry covers every model: a new text or JSON field that is declared neither as
personal data (with how erasure treats it) nor as holding none fails here, at merge."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.conf import settings

from association import privacy
from association.models import Contact

ROOT = Path(settings.BASE_DIR).resolve()


def project_apps() -> list[str]:
    """Every installed app whose code lives in this repository (not in a library)."""
    labels = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(ROOT) and ".venv" not in path.parts:
            labels.append(config.label)
    return labels


def test_the_walk_sees_every_project_app():
    assert {"association", "mailing", "events"} <= set(project_apps())
    assert "admin" not in project_apps() and "account" not in project_apps()


def test_every_text_and_json_field_of_every_project_model_is_declared():
    missing = privacy.undeclared_fields(project_apps())
    assert missing == [], (
        "Declare these fields in the app's personal_data.py, with privacy.personal(...) and how "
        "erasure treats them, or privacy.no_personal_data(...): " + ", ".join(missing)
    )


def test_a_new_undeclared_field_would_be_caught(monkeypatch):
    monkeypatch.setitem(privacy._none, "association.Contact", set())
    monkeypatch.setitem(
        privacy._personal, "association.Contact", privacy._personal["association.User"]
    )
    assert "association.Contact.name" in privacy.undeclared_fields(["association"])


def test_every_personal_declaration_says_whose_rows_they_are_and_names_real_fields(db):
    for declaration in privacy.declarations():
        model = declaration.model
        for name in [*declaration.fields, *declaration.json_keys, *declaration.addresses]:
            model._meta.get_field(name)  # raises for a typo
        assert declaration.owner is not None or declaration.erase is not None
        if declaration.owner not in (None, "pk"):
            owner = str(declaration.owner)
            model._default_manager.filter(**{owner: 1}).exists()  # a real lookup


def test_relations_to_people_count_as_personal_for_the_admin_rule():
    from mailing.models import Delivery, Subscription

    assert {"contact"} <= privacy.personal_field_names(Subscription)
    assert {"email", "recipient_name", "contact", "error"} <= privacy.personal_field_names(Delivery)
    assert "name" in privacy.personal_field_names(Contact)
