"""Permissions in one query: every admin page asks what its viewer may do, and Django's
ModelBackend answers with two queries (the user's own permissions, then its groups'). Same
answers, same cache on the user object, one UNION query."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission


class OneQueryPermissionBackend(ModelBackend):
    """ModelBackend (password login, is_active check) whose permissions of a user are read in
    one query and kept on the user object for the request, as ModelBackend keeps them."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = _permissions_of(user_obj)
        return user_obj._perm_cache

    async def aget_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return await sync_to_async(self.get_all_permissions)(user_obj, obj)


def _permissions_of(user: Any) -> set[str]:
    columns = ("content_type__app_label", "codename")
    if user.is_superuser:
        rows = Permission.objects.values_list(*columns).order_by()
    else:
        direct = Permission.objects.filter(user=user).values_list(*columns).order_by()
        via_groups = Permission.objects.filter(group__user=user).values_list(*columns).order_by()
        rows = direct.union(via_groups)
    return {f"{app_label}.{codename}" for app_label, codename in rows}


# The backend a session names when we log someone in ourselves (after the second factor, on
# switching membership): it must be one of AUTHENTICATION_BACKENDS, or the session is dropped.
PASSWORD_BACKEND = f"{OneQueryPermissionBackend.__module__}.{OneQueryPermissionBackend.__name__}"
