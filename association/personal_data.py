"""What the registry's models (and the contrib models it relies on) hold of people, and how
erasure treats it. See association/privacy.py."""

from __future__ import annotations

from . import privacy
from .models import (
    Agreement,
    AuditEntry,
    AuditPerson,
    Block,
    Contact,
    LocalGovernment,
    Member,
    MembershipEvent,
    Prefecture,
    User,
)
from .privacy import BLANK, REPLACE, Erasure

# The contact row itself goes last: every other declaration finds its rows by the contact's id
# and reads the addresses it had before they are replaced.
CONTACT_ORDER = 100
LOGIN_ORDER = 90


def _erase_contact_row(erasure: Erasure) -> int:
    from .services import erased_email

    contact = erasure.contact
    contact.name = privacy.ERASED
    contact.kana = contact.department = contact.title = contact.phone = ""
    contact.email = erased_email(contact.pk)
    contact.save()  # through save(): the address's hash follows the address
    privacy.forget_admin_log(Contact, [contact.pk])
    return 1


def _erase_login(erasure: Erasure) -> int:
    from .services import _remove_login

    return _remove_login(erasure.contact)


privacy.personal(
    Contact,
    owner="pk",
    fields={
        "name": REPLACE,
        "kana": BLANK,
        "department": BLANK,
        "title": BLANK,
        "phone": BLANK,
        "email": REPLACE,
        "email_hash": privacy.HASH,
    },
    erase=_erase_contact_row,
    order=CONTACT_ORDER,
)
privacy.personal(
    User,
    owner="contact",
    fields={"username": BLANK, "email": BLANK, "first_name": BLANK, "last_name": BLANK},
    addresses=("email", "username"),
    erase=_erase_login,
    order=LOGIN_ORDER,
)
privacy.no_personal_data(User, "password")
privacy.personal(
    AuditEntry,
    owner="person_links__contact",
    json_keys={
        "changes": {
            "name": REPLACE,
            "kana": REPLACE,
            "department": REPLACE,
            "title": REPLACE,
            "email": REPLACE,
            "phone": REPLACE,
        }
    },
    addresses=("changes",),
)
# People appear in a summary only as placeholders, linked by id (AuditPerson).
privacy.no_personal_data(AuditEntry, "action", "object_type", "object_id", "summary")
privacy.no_personal_data(AuditPerson, "role")
privacy.no_personal_data(Block)
privacy.no_personal_data(Prefecture)
privacy.no_personal_data(LocalGovernment)
# The secretariat's notes on a member and its status history are about the municipality; the
# forms say so, and an erasure cannot tell a person's name in them from any other text.
privacy.no_personal_data(Member, "notes")
privacy.no_personal_data(MembershipEvent, "note")
privacy.no_personal_data(Agreement)

# Contrib models hold copies too, erased by code rather than by field: django_admin_log per
# object (privacy.forget_admin_log), sessions and allauth's addresses with the login
# (services._remove_login). The whole-database test after an erasure checks them all.
