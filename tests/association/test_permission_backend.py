"""The one-query permissions backend answers exactly as Django's ModelBackend: direct and group
permissions, nothing for an inactive user, everything for a superuser, each in one query."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from association.backends import OneQueryPermissionBackend
from association.models import User


def permission(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


def fresh(user: User) -> User:
    """The user as a new request loads it: no permission cache yet."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def people(db) -> dict[str, User]:
    desk = Group.objects.create(name="事務局")
    desk.permissions.add(permission("view_contact"), permission("change_member"))
    readers = Group.objects.create(name="閲覧")
    readers.permissions.add(permission("view_contact"), permission("view_bulletin"))

    alice = User.objects.create_user("alice", password="x-long-pass", is_staff=True)
    alice.user_permissions.add(permission("add_agreement"), permission("view_contact"))
    bob = User.objects.create_user("bob", password="x-long-pass", is_staff=True)
    bob.groups.add(desk, readers)
    charlie = User.objects.create_user("charlie", password="x-long-pass", is_active=False)
    charlie.user_permissions.add(permission("view_contact"))
    charlie.groups.add(desk)
    nobody = User.objects.create_user("nobody", password="x-long-pass")
    root = User.objects.create_superuser("root", "root@example.jp", "x-long-pass")
    return {"alice": alice, "bob": bob, "charlie": charlie, "nobody": nobody, "root": root}


@pytest.mark.parametrize("name", ["alice", "bob", "charlie", "nobody", "root"])
def test_it_grants_what_model_backend_grants(people, name):
    ours = OneQueryPermissionBackend().get_all_permissions(fresh(people[name]))
    django = ModelBackend().get_all_permissions(fresh(people[name]))

    assert ours == django
    for perm in ("association.view_contact", "association.change_member", "mailing.add_bulletin"):
        assert OneQueryPermissionBackend().has_perm(
            fresh(people[name]), perm
        ) == ModelBackend().has_perm(fresh(people[name]), perm)
    for app in ("association", "mailing", "events"):
        assert OneQueryPermissionBackend().has_module_perms(
            fresh(people[name]), app
        ) == ModelBackend().has_module_perms(fresh(people[name]), app)


def test_it_reads_direct_and_group_permissions_together_in_one_query(people):
    bob = fresh(people["bob"])
    bob.user_permissions.add(permission("add_agreement"))
    bob = fresh(bob)

    with CaptureQueriesContext(connection) as captured:
        assert bob.has_perm("association.add_agreement")  # direct
        assert bob.has_perm("mailing.view_bulletin")  # through a group
        assert not bob.has_perm("mailing.delete_bulletin")
        assert bob.has_module_perms("association")

    assert len(captured) == 1


def test_it_gives_an_inactive_user_nothing_and_asks_nothing(people):
    charlie = fresh(people["charlie"])

    with CaptureQueriesContext(connection) as captured:
        assert not charlie.has_perm("association.view_contact")
        assert charlie.get_all_permissions() == set()

    assert len(captured) == 0


def test_it_is_the_backend_the_site_uses_and_checks_passwords_as_before(people, settings):
    assert "association.backends.OneQueryPermissionBackend" in settings.AUTHENTICATION_BACKENDS
    assert "django.contrib.auth.backends.ModelBackend" not in settings.AUTHENTICATION_BACKENDS
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert "allauth.account.auth_backends.AuthenticationBackend" in settings.AUTHENTICATION_BACKENDS
    assert (
        OneQueryPermissionBackend().authenticate(None, username="alice", password="x-long-pass")
        == people["alice"]
    )
    assert (
        OneQueryPermissionBackend().authenticate(None, username="charlie", password="x-long-pass")
        is None
    )
