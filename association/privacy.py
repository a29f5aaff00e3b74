"""Personal data (APPI): where it lives, how it is erased, who may see it. One place for each.

1. The registry. Every app declares, in its own `personal_data.py` (found at start-up like
   admin.py), every text or JSON field of its models: either as personal data, with how erasure
   treats it and how to find the rows of one person BY ID, or as holding none:

       privacy.personal(Delivery, owner="contact", fields={"email": erased_address,
                        "recipient_name": BLANK, "error": BLANK})
       privacy.personal(AuditEntry, owner="person_links__contact",
                        json_keys={"changes": {"name": REPLACE, "phone": REPLACE}})
       privacy.no_personal_data(Delivery, "claim_token", "message_id")

   A field is erased BLANK (""), REPLACE (ERASED), HASH (a keyed hash of the value), by a
   function of the row, or its rows are deleted (DELETE). A model whose copies need more than
   that (the login, sessions, the suppression list) registers an `erase` function instead.
   tests/association/test_privacy_registry.py walks every model of every project app and fails
   on a text or JSON field that is declared neither way, so a new model cannot be forgotten.
   CharFields with choices are exempt: they hold only their choices.

2. Erasure. erase_person(contact) applies every declaration to the rows that belong to that
   contact by id, never by searching for their name: another person with the same name keeps
   every row. association.services.erase_contact() calls it after the apps' business side
   effects (cancelled mail, released seats) and before the contact row itself is blanked.

3. Who may see it. can_see_personal_data(user) is the one rule (the contact view permission);
   PersonalDataAdminMixin applies it to an admin: without the permission its personal fields
   leave the list, the form, the search and the filters, and admin log entries never carry
   an object's name.

4. address_hash(email): the keyed hash (HMAC-SHA256, key derived from SECRET_KEY) under which
   the suppression list remembers an erased address, and every address it checks.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import Contact

ERASED = "（削除済み）"
PERMISSION = "association.view_contact"


class How(Enum):
    BLANK = "blank"
    REPLACE = "replace"
    HASH = "hash"
    DELETE = "delete"


BLANK, REPLACE, HASH, DELETE = How.BLANK, How.REPLACE, How.HASH, How.DELETE

FieldRule = How | Callable[[Any, "Erasure"], Any]


@dataclass
class Erasure:
    """One person's erasure in progress: who, and the addresses they are known to have had
    (collected from their own rows, by id), for the copies that are keyed by address."""

    contact: Contact
    addresses: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Declaration:
    model: type[models.Model]
    owner: str | None = None
    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    json_keys: Mapping[str, Mapping[str, FieldRule]] = field(default_factory=dict)
    addresses: tuple[str, ...] = ()
    erase: Callable[[Erasure], int] | None = None
    order: int = 0


_personal: dict[str, Declaration] = {}
_none: dict[str, set[str]] = {}


def personal(
    model: type[models.Model],
    *,
    owner: str | None = None,
    fields: Mapping[str, FieldRule] | None = None,
    json_keys: Mapping[str, Mapping[str, FieldRule]] | None = None,
    addresses: Iterable[str] = (),
    erase: Callable[[Erasure], int] | None = None,
    order: int = 0,
) -> None:
    """Declare MODEL's personal fields. OWNER is the lookup from MODEL to the Contact whose data
    a row holds ("contact", "delivery__contact", "pk" for Contact itself); ADDRESSES name fields
    whose values are that person's addresses (read before erasure, for address-keyed copies);
    ERASE replaces the field rules with a function of its own. ORDER: lower runs first."""
    if owner is None and erase is None:
        raise ValueError(f"{model._meta.label}: say whose rows these are (owner) or how to erase")
    _personal[model._meta.label] = Declaration(
        model=model,
        owner=owner,
        fields=dict(fields or {}),
        json_keys={name: dict(keys) for name, keys in (json_keys or {}).items()},
        addresses=tuple(addresses),
        erase=erase,
        order=order,
    )


def no_personal_data(model: type[models.Model], *field_names: str) -> None:
    """Declare that these text or JSON fields of MODEL hold no personal data (with no names:
    all of them)."""
    names = set(field_names) or {f.name for f in _text_fields(model)}
    _none.setdefault(model._meta.label, set()).update(names)


def declarations() -> list[Declaration]:
    return sorted(_personal.values(), key=lambda d: d.order)


def declared_fields(model: type[models.Model]) -> tuple[set[str], set[str]]:
    """(personal, none) field names declared for MODEL."""
    declaration = _personal.get(model._meta.label)
    personal_names: set[str] = set()
    if declaration is not None:
        personal_names = set(declaration.fields) | set(declaration.json_keys)
    return personal_names, set(_none.get(model._meta.label, set()))


def personal_field_names(model: type[models.Model]) -> set[str]:
    """The fields of MODEL that hold personal data, and its relations to people (a contact or
    a login shows as the person's name or address)."""
    names = declared_fields(model)[0]
    for item in model._meta.get_fields():
        related = getattr(item, "related_model", None)
        if related is not None and related._meta.label in PEOPLE_MODELS:
            names.add(item.name)
    return names


# Models whose rows are people: a relation to one of them displays a name or an address.
PEOPLE_MODELS = {"association.Contact", "association.User"}

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def _text_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, TEXT_FIELDS) and not getattr(f, "choices", None)
    ]


def undeclared_fields(app_labels: Iterable[str]) -> list[str]:
    """Text and JSON fields of the apps' models declared neither personal nor free of it."""
    from django.apps import apps

    missing = []
    for label in app_labels:
        for model in apps.get_app_config(label).get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            personal_names, none = declared_fields(model)
            for f in _text_fields(model):
                if f.name not in personal_names | none:
                    missing.append(f"{model._meta.label}.{f.name}")
    return missing


def autodiscover() -> None:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("personal_data")


# --- erasure ---------------------------------------------------------------------------------


def _value(rule: FieldRule, row: Any, erasure: Erasure, current: Any, null: bool) -> Any:
    if callable(rule):
        return rule(row, erasure)
    if rule is How.BLANK:
        return None if null else ""
    if rule is How.REPLACE:
        return ERASED if current else current
    if rule is How.HASH:
        return address_hash(str(current)) if current else current
    raise ValueError(rule)


def rows_of(declaration: Declaration, contact: Contact) -> models.QuerySet[Any]:
    """The rows of the declared model that hold CONTACT's data, found by id."""
    assert declaration.owner is not None
    manager = declaration.model._default_manager
    if declaration.owner == "pk":
        return manager.filter(pk=contact.pk)
    return manager.filter(**{declaration.owner: contact.pk}).distinct()


def collect_addresses(contact: Contact) -> set[str]:
    """Every address CONTACT is known to have had, from their own rows (by id)."""
    found = {contact.email.lower()}
    for declaration in declarations():
        if declaration.owner is None:
            continue
        for name in declaration.addresses:
            for value in rows_of(declaration, contact).values_list(name, flat=True):
                found.update(_addresses_in(value))
    return {a for a in found if a and "@" in a}


def _addresses_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        value = " ".join(str(v) for v in value.values())
    return {word.strip("<>,").lower() for word in str(value or "").split() if "@" in word}


def erase_person(contact: Contact) -> Erasure:
    """Apply every declaration to CONTACT's rows (inside the caller's transaction)."""
    erasure = Erasure(contact=contact, addresses=collect_addresses(contact))
    for declaration in declarations():
        label = declaration.model._meta.label
        if declaration.erase is not None:
            erasure.counts[label] = declaration.erase(erasure)
            continue
        erasure.counts[label] = _apply(declaration, erasure)
    return erasure


def _apply(declaration: Declaration, erasure: Erasure) -> int:
    rows = rows_of(declaration, erasure.contact)
    if any(rule is How.DELETE for rule in declaration.fields.values()):
        forget_admin_log(declaration.model, list(rows.values_list("pk", flat=True)))
        return rows.delete()[0]
    count = 0
    model = declaration.model
    for row in rows.order_by("pk"):
        changed = []
        for name, rule in declaration.fields.items():
            model_field = model._meta.get_field(name)
            current = getattr(row, name)
            new = _value(rule, row, erasure, current, bool(getattr(model_field, "null", False)))
            if new != current:
                setattr(row, name, new)
                changed.append(name)
        for name, keys in declaration.json_keys.items():
            payload = getattr(row, name)
            if not isinstance(payload, dict):
                continue
            new_payload = {
                key: _value(keys[key], row, erasure, value, False) if key in keys else value
                for key, value in payload.items()
            }
            if new_payload != payload:
                setattr(row, name, new_payload)
                changed.append(name)
        if changed:
            model._default_manager.filter(pk=row.pk).update(
                **{name: getattr(row, name) for name in changed}
            )
            count += 1
    forget_admin_log(model, list(rows.values_list("pk", flat=True)))
    return count


def forget_admin_log(model: type[models.Model], pks: list[Any]) -> int:
    """django_admin_log keeps each object's name as it was (object_repr) and the names of
    inline objects in its messages: for these rows, only the kind of object and its id stay."""
    if not pks:
        return 0
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    entries = LogEntry.objects.filter(
        content_type=content_type, object_id__in=[str(p) for p in pks]
    )
    count = 0
    for entry in entries.only("pk", "object_id"):
        LogEntry.objects.filter(pk=entry.pk).update(
            object_repr=neutral_repr(model, entry.object_id), change_message=""
        )
        count += 1
    return count


def neutral_repr(model: type[models.Model], pk: Any) -> str:
    return f"{model._meta.verbose_name} #{pk}"


# --- the keyed hash of an address ------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _hash_key(secret: str) -> bytes:
    return hashlib.sha256(b"renkei.privacy.address-hash\x00" + secret.encode()).digest()


def address_hash(email: str, *, secret: str | None = None) -> str:
    """HMAC-SHA256 of the normalised address under a key derived from SECRET_KEY (or SECRET),
    hex. Without the key, a hash cannot be tested against a list of guessed addresses."""
    key = _hash_key(secret if secret is not None else settings.SECRET_KEY)
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def address_hashes(email: str) -> list[str]:
    """The address's hash under SECRET_KEY and under each of SECRET_KEY_FALLBACKS."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [address_hash(email, secret=secret) for secret in secrets]


# --- who may see it --------------------------------------------------------------------------


def can_see_personal_data(user: Any) -> bool:
    """The one rule: names, addresses, phone numbers… are shown only to a viewer who holds the
    contact view permission (superusers hold every permission)."""
    return bool(user is not None and user.is_active and user.has_perm(PERMISSION))


class PersonalDataAdminMixin:
    """For every ModelAdmin (and inline) whose pages can show people: without the contact view
    permission, the fields that hold personal data (the registry's, relations to contacts and
    logins, and the admin's own PERSONAL_DISPLAY callables) leave the changelist, the form, the
    search and the filters. Admin log entries name objects by kind and id only."""

    personal_display: tuple[str, ...] = ()
    # For an admin whose rows ARE people (contacts): no page at all without the permission
    # (Django would otherwise let change_contact alone view them).
    requires_personal_permission: bool = False

    def _gate(self, request: HttpRequest, allowed: bool) -> bool:
        if self.requires_personal_permission and not can_see_personal_data(request.user):
            return False
        return allowed

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._gate(request, super().has_view_permission(request, obj))  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._gate(request, super().has_change_permission(request, obj))  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._gate(request, super().has_add_permission(request, *args))  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._gate(request, super().has_delete_permission(request, obj))  # type: ignore[misc]

    def _personal(self) -> set[str]:
        model = self.model  # type: ignore[attr-defined]
        return personal_field_names(model) | set(self.personal_display)

    def _hides(self, request: HttpRequest) -> bool:
        return not can_see_personal_data(request.user)

    def _without(self, names: Iterable[Any], request: HttpRequest) -> list[Any]:
        if not self._hides(request):
            return list(names)
        hidden = self._personal()
        kept = []
        for name in names:
            key = name[0] if isinstance(name, (list, tuple)) else name
            base = key.split("__", 1)[0] if isinstance(key, str) else key
            if isinstance(key, str) and (key in hidden or base in hidden):
                continue
            kept.append(name)
        return kept

    def get_list_display(self, request: HttpRequest) -> Any:
        return self._without(super().get_list_display(request), request)  # type: ignore[misc]

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)  # type: ignore[misc]
        if links:
            links = [name for name in links if name in list_display] or list(list_display)[:1]
        return links

    def get_search_fields(self, request: HttpRequest) -> Any:
        return self._without(super().get_search_fields(request), request)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        return self._without(super().get_list_filter(request), request)  # type: ignore[misc]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._without(super().get_fields(request, obj), request)  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if not self._hides(request):
            return fieldsets
        return [
            (title, {**options, "fields": self._without(options.get("fields", ()), request)})
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._without(super().get_readonly_fields(request, obj), request)  # type: ignore[misc]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])  # type: ignore[misc]
        if self._hides(request):
            model = self.model  # type: ignore[attr-defined]
            exclude += [n for n in self._personal() if _is_model_field(model, n)]
        return exclude or None

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return _log(request, obj, message, flag=1)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return _log(request, obj, message, flag=2)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        from django.contrib.admin.models import DELETION

        return [_log(request, obj, "", flag=DELETION) for obj in queryset]


def _is_model_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


def _log(request: HttpRequest, obj: Any, message: Any, *, flag: int) -> Any:
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    return LogEntry.objects.create(
        user_id=request.user.pk or 0,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=neutral_repr(type(obj), obj.pk)[:200],
        action_flag=flag,
        change_message=message if isinstance(message, str) else _json(message),
    )


def _json(message: Any) -> str:
    import json

    # Inline objects appear in a change message by name; keep only their kind.
    def scrub(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: scrub(v) for k, v in item.items() if k != "object"}
        if isinstance(item, list):
            return [scrub(v) for v in item]
        return item

    return json.dumps(scrub(message))
