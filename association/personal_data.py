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
        # Derived from the fields above by save(): recomputed from the erased values.
        "search_text": BLANK,
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


# questions/ imports none of the other apps, so its declaration lives here, where the registry
# is. Its change history names the person who changed an answer under the caller's opaque
# reference "contact:<id>" (questions.services.forget_actor). The answers themselves belong to
# their owner's answer set (a registration, a municipality's reply to a 照会): the owning app
# erases or keeps them (a registration's answers go with the person:
# events.services.erase_training_answers, through contact_erased).


def _forget_answer_history(erasure: Erasure) -> int:
    from questions.services import forget_actor

    return forget_actor(f"contact:{erasure.contact.pk}")


def _answers_belong_to_their_owner(erasure: Erasure) -> int:
    return 0


def _declare_questions() -> None:
    from django.apps import apps

    if not apps.is_installed("questions"):
        return
    from questions.models import Answer, AnswerChange, Question, QuestionSet

    privacy.no_personal_data(QuestionSet)
    privacy.no_personal_data(Question)  # the secretariat's form, never an answer
    privacy.personal(
        AnswerChange,
        fields={"actor_name": BLANK, "actor_ref": BLANK, "old_value": BLANK, "new_value": BLANK},
        erase=_forget_answer_history,
    )
    privacy.no_personal_data(AnswerChange, "via")
    privacy.personal(Answer, fields={"value": BLANK}, erase=_answers_belong_to_their_owner)


_declare_questions()
