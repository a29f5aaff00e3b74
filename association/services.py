"""Every change to the member registry. Each function is one transaction and names the act."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from . import emails, privacy
from .codes import normalise_code
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
from .search import refresh_search_text
from .signals import (
    collect_reserved_addresses,
    contact_deactivated,
    contact_erased,
    contact_handed_over,
)

CONTACT_FIELDS = ("name", "kana", "department", "title", "email", "phone", "role")

# A contact's one-line fields: each reaches a mail header (a recipient's display name) or a
# paper (宛名, 名札, 出席簿), where a line break or another control character would split a
# header or a line. They are refused at input, never folded, so that what is stored is what
# the person typed (refuse_control_characters; the admin form, the portal forms and the
# contact import all go through it).
ONE_LINE_CONTACT_FIELDS = ("name", "kana", "department", "title")
# C0 and C1 controls (CR, LF, TAB, NUL, ESC, NEL...) and the Unicode line and paragraph
# separators. Spaces, the full-width space included, are ordinary text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# --- small normalisers ---------------------------------------------------------------------


def normalise_text(value: object) -> str:
    """NFKC (full-width letters, digits and spaces to their usual forms), trimmed, one space."""
    text = unicodedata.normalize("NFKC", str(value if value is not None else ""))
    return " ".join(text.split())


def normalise_kana(value: object) -> str:
    """Kana as a person writes it: half-width katakana become full-width (NFKC)."""
    return normalise_text(value)


def normalise_email(value: object) -> str:
    email = normalise_text(value).replace(" ", "").lower()
    if not email:
        raise ValidationError(_("メールアドレスが空です。"), code="empty")
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            _("メールアドレス「%(email)s」の形式が正しくありません。") % {"email": email},
            code="invalid",
        ) from None
    return email


def audit(
    actor: User | None,
    action: str,
    obj: Any,
    summary: str,
    *,
    people: Mapping[str, Contact | int] | None = None,
    **changes: Any,
) -> AuditEntry:
    """Record an act. SUMMARY names no one: write a person as a placeholder ({contact}, {old},
    {new}…) and give them in PEOPLE (a contact or its id); OBJ, when it is a contact, is
    {contact}. The entry is then found by the person's id when they are erased, and shows
    their name only to those who may see personal data (AuditEntry.render)."""
    linked: dict[str, Contact | int] = dict(people or {})
    if isinstance(obj, Contact):
        linked.setdefault("contact", obj)
    entry = AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        summary=summary[:300],
        changes={k: str(v) for k, v in changes.items()},
    )
    AuditPerson.objects.bulk_create(
        AuditPerson(
            entry=entry, role=role, contact_id=person if isinstance(person, int) else person.pk
        )
        for role, person in linked.items()
    )
    return entry


def audit_export(actor: User | None, action: str, summary: str, **details: Any) -> AuditEntry:
    """Every export of personal data is recorded: who, when, and what (which list, format,
    filters, how many rows)."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type="export",
        object_id="",
        summary=summary[:300],
        changes={k: str(v) for k, v in details.items()},
    )


# --- reference data ------------------------------------------------------------------------


DEFAULT_BLOCKS: dict[str, list[str]] = {
    "北海道・東北": ["01", "02", "03", "04", "05", "06", "07"],
    "関東": ["08", "09", "10", "11", "12", "13", "14"],
    "中部・北陸": ["15", "16", "17", "18", "19", "20", "21", "22", "23"],
    "近畿": ["24", "25", "26", "27", "28", "29", "30"],
    "中国・四国": ["31", "32", "33", "34", "35", "36", "37", "38", "39"],
    "九州・沖縄": ["40", "41", "42", "43", "44", "45", "46", "47"],
}


def _kind_of(city: str) -> LocalGovernment.Kind:
    if not city:
        return LocalGovernment.Kind.PREFECTURE
    if city.endswith("区"):
        return LocalGovernment.Kind.SPECIAL_WARD
    if city.endswith("市"):
        return LocalGovernment.Kind.CITY
    if city.endswith("町"):
        return LocalGovernment.Kind.TOWN
    return LocalGovernment.Kind.VILLAGE


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    restored: int = 0
    retired_with_members: list[str] = field(default_factory=list)


@transaction.atomic
def load_local_governments(
    rows: Iterable[dict[str, str]], *, today: dt.date | None = None
) -> LoadResult:
    """Load or refresh the code list. A code missing from the new list is retired, never
    deleted, so a member that points at it keeps its history."""
    today = today or timezone.localdate()
    result = LoadResult()
    if not Block.objects.exists():
        for order, name in enumerate(DEFAULT_BLOCKS, start=1):
            Block.objects.create(name=name, sort_order=order)
    blocks_by_pref = {
        pref: Block.objects.get(name=name)
        for name, prefs in DEFAULT_BLOCKS.items()
        for pref in prefs
    }
    existing = {lg.code: lg for lg in LocalGovernment.objects.all()}
    prefectures = {p.code: p for p in Prefecture.objects.all()}
    seen: set[str] = set()
    pending_cities = []
    for number, row in enumerate(rows, start=2):
        try:
            code = normalise_code(row["code"])
        except (KeyError, ValidationError) as exc:
            raise ValidationError(
                _("%(line)d行目: 団体コードを読めません（%(error)s）")
                % {"line": number, "error": "; ".join(getattr(exc, "messages", [str(exc)]))}
            ) from None
        pref_name = normalise_text(row["prefecture"])
        city = normalise_text(row.get("city", ""))
        if not city:
            pref = prefectures.get(code[:2])
            if pref is None:
                pref = Prefecture.objects.create(
                    code=code[:2],
                    name=pref_name,
                    kana=normalise_kana(row.get("prefecture_kana", "")),
                    block=blocks_by_pref[code[:2]],
                )
                prefectures[code[:2]] = pref
        pending_cities.append((code, pref_name, city, row))
        seen.add(code)

    to_create = []
    renamed: list[str] = []
    for code, pref_name, city, row in pending_cities:
        name = city or pref_name
        kana = normalise_kana(row.get("city_kana") if city else row.get("prefecture_kana"))
        values = {
            "prefecture_id": code[:2],
            "name": name,
            "kana": kana,
            "kind": _kind_of(city),
        }
        current = existing.get(code)
        if current is None:
            created = LocalGovernment(code=code, **values)
            created.search_text = created.folded(pref_name)
            to_create.append(created)
            continue
        changed = [k for k, v in values.items() if getattr(current, k) != v]
        if current.retired_on is not None:
            current.retired_on = None
            changed.append("retired_on")
            result.restored += 1
        if changed:
            for key in changed:
                if key in values:
                    setattr(current, key, values[key])
            current.save(update_fields=changed)
            result.updated += 1
            if "name" in changed or "kana" in changed:
                renamed.append(code)
        else:
            result.unchanged += 1
    LocalGovernment.objects.bulk_create(to_create, batch_size=500)
    refresh_search_text(Contact.objects.filter(member__local_government__in=renamed))
    result.created = len(to_create)

    for code, lg in existing.items():
        if code not in seen and lg.retired_on is None:
            lg.retired_on = today
            lg.save(update_fields=["retired_on"])
            result.retired += 1
            if Member.objects.filter(local_government=lg).exists():
                result.retired_with_members.append(lg.full_name)
    return result


def find_local_government(raw_code: object) -> LocalGovernment:
    """The local government for a code typed or imported by a person, or a clear refusal."""
    code = normalise_code(raw_code)
    try:
        return LocalGovernment.objects.select_related("prefecture").get(code=code)
    except LocalGovernment.DoesNotExist:
        raise ValidationError(
            _("団体コード「%(code)s」は全国地方公共団体コードの一覧にありません。")
            % {"code": code},
            code="unknown",
        ) from None


# --- members -------------------------------------------------------------------------------


@transaction.atomic
def admit_member(
    local_government: LocalGovernment,
    *,
    kind: str = Member.Kind.MEMBER,
    joined_on: dt.date | None = None,
    by: User | None = None,
    note: str = "",
) -> Member:
    """A local government joins, or rejoins if it was a member before."""
    joined_on = joined_on or timezone.localdate()
    member = Member.objects.select_for_update().filter(local_government=local_government).first()
    if member is None:
        member = Member.objects.create(
            local_government=local_government, kind=kind, joined_on=joined_on
        )
        action = MembershipEvent.Action.JOINED
    elif member.status == Member.Status.ACTIVE:
        raise ValidationError(_("%(name)s はすでに会員です。") % {"name": member.name})
    elif member.status == Member.Status.GUEST:
        member.status = Member.Status.ACTIVE
        member.kind = kind
        member.joined_on = joined_on
        member.save(update_fields=["status", "kind", "joined_on", "updated_at"])
        action = MembershipEvent.Action.JOINED
    else:
        member.status = Member.Status.ACTIVE
        member.kind = kind
        member.joined_on = joined_on
        member.left_on = None
        member.save(update_fields=["status", "kind", "joined_on", "left_on", "updated_at"])
        action = MembershipEvent.Action.REJOINED
        for contact in member.contacts.active().select_related("member", "user"):
            _sync_login(contact)
    MembershipEvent.objects.create(
        member=member, action=action, kind=kind, effective_on=joined_on, note=note, recorded_by=by
    )
    audit(by, action, member, f"{member.name}: {MembershipEvent.Action(action).label}")
    return member


@transaction.atomic
def register_guest(
    local_government: LocalGovernment, *, by: User | None = None, note: str = ""
) -> Member:
    """Record a non-member municipality so that its staff can join trainings open to
    non-members. It gets no bulletins; admit_member() later makes it a member."""
    if Member.objects.filter(local_government=local_government).exists():
        raise ValidationError(
            _("%(name)s はすでに登録されています。") % {"name": local_government.full_name}
        )
    today = timezone.localdate()
    member = Member.objects.create(
        local_government=local_government,
        kind=Member.Kind.MEMBER,
        status=Member.Status.GUEST,
        joined_on=today,
    )
    MembershipEvent.objects.create(
        member=member,
        action=MembershipEvent.Action.GUEST,
        kind=member.kind,
        effective_on=today,
        note=note,
        recorded_by=by,
    )
    audit(by, "guest_registered", member, f"{member.name}: 非会員（研修参加）として登録")
    return member


@transaction.atomic
def withdraw_member(
    member: Member, *, left_on: dt.date | None = None, by: User | None = None, note: str = ""
) -> Member:
    """A member leaves. Its contacts stay on record but can no longer log in."""
    left_on = left_on or timezone.localdate()
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status == Member.Status.LEFT:
        raise ValidationError(_("%(name)s はすでに退会しています。") % {"name": member.name})
    member.status = Member.Status.LEFT
    member.left_on = left_on
    member.save(update_fields=["status", "left_on", "updated_at"])
    MembershipEvent.objects.create(
        member=member,
        action=MembershipEvent.Action.LEFT,
        kind=member.kind,
        effective_on=left_on,
        note=note,
        recorded_by=by,
    )
    for contact in member.contacts.filter(user__isnull=False).select_related("member", "user"):
        _sync_login(contact)
    audit(by, "left", member, f"{member.name}: 退会")
    return member


@transaction.atomic
def change_member_kind(
    member: Member, *, kind: str, effective_on: dt.date | None = None, by: User | None = None
) -> Member:
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.kind == kind:
        return member
    member.kind = kind
    member.save(update_fields=["kind", "updated_at"])
    MembershipEvent.objects.create(
        member=member,
        action=MembershipEvent.Action.KIND_CHANGED,
        kind=kind,
        effective_on=effective_on or timezone.localdate(),
        recorded_by=by,
    )
    audit(by, "kind_changed", member, f"{member.name}: 種別を{member.get_kind_display()}に変更")
    return member


@transaction.atomic
def set_block_override(member: Member, *, block: Block | None, by: User | None = None) -> Member:
    """Put MEMBER in BLOCK whatever its prefecture's block, or (None) back in that block."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.block_override_id == (block.pk if block else None):
        return member
    member.block_override = block
    member.save(update_fields=["block_override", "updated_at"])
    where = block.name if block else _("都道府県のブロック")
    audit(by, "member_updated", member, f"{member.name}: ブロックを{where}に変更")
    return member


@transaction.atomic
def record_agreement(
    local_government: LocalGovernment,
    *,
    signed_on: dt.date,
    hashtag: str = "",
    expires_on: dt.date | None = None,
    by: User | None = None,
) -> Agreement:
    """A partnership agreement signed on SIGNED_ON; the same day's agreement is not doubled."""
    agreement, created = Agreement.objects.get_or_create(
        local_government=local_government,
        signed_on=signed_on,
        defaults={"hashtag": normalise_text(hashtag), "expires_on": expires_on},
    )
    if created:
        audit(
            by,
            "agreement_recorded",
            agreement,
            f"{local_government.full_name}: 連携協定（{signed_on.isoformat()}）を登録",
        )
    return agreement


# --- contacts and their accounts -------------------------------------------------------------


def refuse_control_characters(values: Mapping[str, Any]) -> None:
    """Refuse a contact's one-line field (ONE_LINE_CONTACT_FIELDS) that holds a line break or
    another control character, with a message naming the field. Raises
    ValidationError({field: …}) for every such field in VALUES; other keys are not looked at."""
    errors: dict[str, ValidationError] = {}
    for key in ONE_LINE_CONTACT_FIELDS:
        value = values.get(key)
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            label = getattr(Contact._meta.get_field(key), "verbose_name", key)
            errors[key] = ValidationError(
                _("%(label)sに改行や制御文字は使えません（宛名や見出しに載るため）。")
                % {"label": label},
                code="control_character",
            )
    if errors:
        raise ValidationError(errors)


def _clean_contact_fields(values: dict[str, Any]) -> dict[str, Any]:
    refuse_control_characters(values)
    cleaned: dict[str, Any] = {}
    for key in CONTACT_FIELDS:
        if key not in values:
            continue
        value = values[key]
        if key == "email":
            cleaned[key] = normalise_email(value)
        elif key == "kana":
            cleaned[key] = normalise_kana(value)
        elif key == "role":
            cleaned[key] = parse_role(value)
        else:
            cleaned[key] = normalise_text(value)
    if "name" in cleaned and not cleaned["name"]:
        raise ValidationError(_("氏名が空です。"), code="empty")
    return cleaned


ROLE_WORDS = {
    "coordinator": Contact.Role.COORDINATOR,
    "取りまとめ担当": Contact.Role.COORDINATOR,
    "取りまとめ": Contact.Role.COORDINATOR,
    "取纏め担当": Contact.Role.COORDINATOR,
    "staff": Contact.Role.STAFF,
    "担当者": Contact.Role.STAFF,
    "担当": Contact.Role.STAFF,
    "": Contact.Role.STAFF,
}


def parse_role(value: object) -> str:
    key = normalise_text(value).lower()
    if key in ROLE_WORDS:
        return ROLE_WORDS[key]
    raise ValidationError(
        _("役割「%(value)s」は「取りまとめ担当」か「担当者」で入力してください。")
        % {"value": normalise_text(value)},
        code="role",
    )


def reserved_addresses() -> set[str]:
    """Addresses that can never be a login: the association's own sender, error, unsubscribe
    and secretariat addresses, and every reply-to address other apps declare (mailing lists,
    bulletins) through the collect_reserved_addresses signal. A login code mailed to one of
    them would land in a shared mailbox or in the inbound pipeline."""
    raw = [
        settings.DEFAULT_FROM_EMAIL,
        settings.SERVER_EMAIL,
        getattr(settings, "MAILING_UNSUBSCRIBE_MAILTO", ""),
        getattr(settings, "MAILING_SECRETARIAT_EMAIL", ""),
        *(address for _name, address in getattr(settings, "ADMINS", ())),
    ]
    for _receiver, addresses in collect_reserved_addresses.send(sender=Contact):
        raw.extend(addresses or ())
    return {address.strip().lower() for _n, address in getaddresses(raw) if address.strip()}


def check_login_address(email: str) -> None:
    """A contact's address is its login: refuse one that may never be a login."""
    staff = User.objects.filter(email__iexact=email).filter(Q(is_staff=True) | Q(is_superuser=True))
    if email in reserved_addresses() or staff.exists():
        raise ValidationError(
            {
                "email": _(
                    "%(email)s は事務局の送信用・返信用のアドレスか事務局のアカウントのため、"
                    "担当者には登録できません。"
                )
                % {"email": email}
            },
            code="reserved_address",
        )


def logins_for_address(email: str) -> list[User]:
    """The portal logins a login code mailed to EMAIL opens: those of the active contacts of
    portal members with that address (found through each contact's own key, contact.user),
    never a secretariat account and never a reserved address. The one rule for the code
    request and for switching between memberships (see portal_memberships())."""
    try:
        email = normalise_email(email)
    except ValidationError:
        return []
    if email in reserved_addresses():
        return []
    return list(
        User.objects.filter(
            contact__in=Contact.objects.portal().filter(email=email),
            is_active=True,
            is_staff=False,
            is_superuser=False,
        ).order_by("contact__id")
    )


def _end_sessions(user: User) -> None:
    # Django checks each session against a hash of the password field; a contact's login has
    # no usable password, so a new random one ends every session it has without a lookup.
    user.set_unusable_password()


def _sync_login(contact: Contact) -> None:
    """Keep the contact's own login (contact.user, a one-to-one key) in step with the contact:
    created with it, carrying the contact's address, active exactly while the contact may use
    the portal. An address change moves the login and ends its sessions; so does losing the
    portal (deactivation, hand-over, the member leaving). Never looks a login up by address."""
    allowed = contact.is_active and contact.member.status in Member.PORTAL_STATUSES
    user = contact.user
    if user is None:
        if not allowed:
            return
        user = User(username=f"contact-{contact.pk}", email=contact.email)
        user.set_unusable_password()
        user.save()
        contact.user = user
        contact.save(update_fields=["user", "updated_at"])
        return
    changed = []
    if user.email != contact.email:
        user.email = contact.email
        changed.append("email")
        # allauth records the address a code was mailed to; the old one opens nothing now.
        EmailAddress.objects.filter(user=user).delete()
    if user.is_active != allowed:
        user.is_active = allowed
        changed.append("is_active")
    if changed:
        _end_sessions(user)
        user.save(update_fields=[*changed, "password"])


def _check_email_free(member: Member, email: str, *, exclude: int | None = None) -> None:
    clash = Contact.objects.filter(member=member, email=email)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError(
            {
                "email": _("%(email)s は %(member)s の担当者としてすでに登録されています。")
                % {"email": email, "member": member.name}
            },
            code="duplicate",
        )


@transaction.atomic
def add_contact(member: Member, *, by: User | None = None, **values: Any) -> Contact:
    cleaned = _clean_contact_fields(values)
    _check_email_free(member, cleaned["email"])
    check_login_address(cleaned["email"])
    contact = Contact.objects.create(member=member, **cleaned)
    _sync_login(contact)
    audit(by, "contact_added", contact, f"{member.name}: 担当者 {{contact}} を登録")
    return contact


@transaction.atomic
def update_contact(contact: Contact, *, by: User | None = None, **values: Any) -> Contact:
    cleaned = _clean_contact_fields(values)
    if "email" in cleaned:
        _check_email_free(contact.member, cleaned["email"], exclude=contact.pk)
    changed = {k: v for k, v in cleaned.items() if getattr(contact, k) != v}
    if not changed:
        return contact
    if "email" in changed:
        check_login_address(changed["email"])
    old_email = contact.email
    for key, value in changed.items():
        setattr(contact, key, value)
    contact.save(update_fields=[*changed, "updated_at"])
    if "email" in changed:
        _sync_login(contact)
    details: dict[str, Any] = {k: v for k, v in changed.items() if k != "email"}
    if "email" in changed:
        details["email"] = f"{old_email} → {contact.email}"
    audit(
        by,
        "contact_updated",
        contact,
        f"{contact.member.name}: 担当者 {{contact}} を更新",
        **details,
    )
    return contact


@transaction.atomic
def set_training_copies(contact: Contact, *, on: bool, by: User | None = None) -> Contact:
    """A coordinator turns the copies of her colleagues' training mails on or off. Only a
    coordinator may: staff get no copies, so a switch for them would promise something."""
    if not contact.is_coordinator:
        raise PermissionDenied(_("この操作は取りまとめ担当の方のみ行えます。"))
    if contact.receives_training_copies == on:
        return contact
    contact.receives_training_copies = on
    contact.save(update_fields=["receives_training_copies", "updated_at"])
    done = "受け取る" if on else "受け取らない"
    audit(
        by,
        "contact_updated",
        contact,
        f"{contact.member.name}: 担当者 {{contact}} が研修メールの写しを{done}ように変更",
    )
    return contact


@transaction.atomic
def deactivate_contact(contact: Contact, *, by: User | None = None) -> Contact:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if not contact.is_active:
        return contact
    contact.is_active = False
    contact.deactivated_at = timezone.now()
    contact.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    _sync_login(contact)
    contact_deactivated.send(sender=Contact, contact=contact, by=by)
    audit(by, "contact_deactivated", contact, f"{contact.member.name}: 担当者 {{contact}} を無効化")
    return contact


@transaction.atomic
def hand_over_contact(
    contact: Contact,
    *,
    by: User | None = None,
    successor: Contact | None = None,
    **successor_values: Any,
) -> Contact:
    """担当者変更: the successor takes the contact's role and subscriptions in one step; the
    old contact is deactivated and keeps its history. The successor is an existing active
    colleague of the same member, or a new contact made from SUCCESSOR_VALUES."""
    contact = Contact.objects.select_for_update().select_related("member").get(pk=contact.pk)
    if not contact.is_active:
        raise ValidationError(_("%(name)s さんはすでに無効です。") % {"name": contact.name})
    if successor is None:
        successor_values.setdefault("role", contact.role)
        successor_values.setdefault("department", contact.department)
        successor = add_contact(contact.member, by=by, **successor_values)
    else:
        successor = Contact.objects.select_for_update().get(pk=successor.pk)
        if successor.member_id != contact.member_id or not successor.is_active:
            raise ValidationError(
                _("後任は同じ団体の有効な担当者から選んでください。"), code="successor"
            )
        if successor.pk == contact.pk:
            raise ValidationError(_("本人を後任にはできません。"), code="successor")
    if contact.role == Contact.Role.COORDINATOR and successor.role != contact.role:
        successor.role = contact.role
        successor.save(update_fields=["role", "updated_at"])
    contact.is_active = False
    contact.deactivated_at = timezone.now()
    contact.successor = successor
    contact.save(update_fields=["is_active", "deactivated_at", "successor", "updated_at"])
    _sync_login(contact)
    contact_handed_over.send(sender=Contact, old=contact, new=successor, by=by)
    emails.send_welcome_successor(successor, contact)
    audit(
        by,
        "contact_handed_over",
        contact,
        f"{contact.member.name}: {{contact}} から {{new}} へ担当者変更",
        people={"new": successor},
        successor=successor.pk,
    )
    return successor


ERASED_NAME = privacy.ERASED


def erased_email(contact_pk: int) -> str:
    return f"erased-{contact_pk}@invalid.invalid"


def end_sessions(user: User) -> int:
    """Log USER out everywhere: delete their sessions (database and cache)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.sessions.models import Session

    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.all().iterator():
        try:
            owner = session.get_decoded().get("_auth_user_id")
        except Exception:  # an undecodable session belongs to no one we can tell
            continue
        if owner == str(user.pk):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended


def _forget_login(user: User) -> None:
    """Delete a portal login for good, with its sessions (the rows themselves), allauth's
    addresses (cascade) and its name in django_admin_log."""
    end_sessions(user)
    privacy.forget_admin_log(User, [user.pk])
    user.delete()


def _remove_login(contact: Contact) -> int:
    """Erasure deletes the contact's own login (contact.user, one-to-one), never a secretariat
    account, with its sessions and its name in django_admin_log."""
    user = contact.user
    if user is None:
        return 0
    Contact.objects.filter(pk=contact.pk).update(user=None)
    contact.user = None
    if user.is_staff or user.is_superuser:
        return 0
    _forget_login(user)
    return 1


@transaction.atomic
def erase_contact(contact: Contact, *, by: User | None = None) -> Contact:
    """Delete a person's data for good (APPI): the record stays as an anonymous row so that
    counts and history (registrations, deliveries) hold, but nothing identifies the person.
    Other apps first act on it through the contact_erased signal (queued mail cancelled, seats
    given back); then every copy declared in the privacy registry is erased, found by the
    contact's id (association/privacy.py), the login and the contact row last."""
    contact = Contact.objects.select_for_update().select_related("member").get(pk=contact.pk)
    if contact.name == ERASED_NAME:
        return contact
    if contact.is_active:
        contact.is_active = False
        contact.deactivated_at = timezone.now()
        contact.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    contact_erased.send(sender=Contact, contact=contact, by=by)
    privacy.erase_person(contact)
    # The audit entry names no one: the summary says only which member lost a contact.
    audit(by, "contact_erased", contact, f"{contact.member.name}: 担当者の個人情報を削除")
    return contact


# --- who may do what in the portal ----------------------------------------------------------


def portal_contact(user: User, code: str, *, registry: bool = True) -> Contact:
    """The user's own active contact record at the member for local government CODE, with the
    member (and, for pages that show them, its registry rows) in one query; the portal's pages
    start with it. Http404 when there is no such member, PermissionDenied when it is not the
    user's."""
    if not user.is_authenticated:
        raise PermissionDenied
    related = (
        ("member__local_government__prefecture__block", "member__block_override")
        if registry
        else ("member",)
    )
    found = (
        Contact.objects.for_user(user)
        .filter(member__local_government_id=code)
        .select_related(*related)
        .order_by()[:1]  # one contact per user and member; no ORDER BY to compile or run
    )
    contact = next(iter(found), None)
    if contact is not None:
        return contact
    if not Member.objects.filter(local_government_id=code).exists():
        raise Http404
    raise PermissionDenied(_("この団体の情報を見る権限がありません。"))


def portal_memberships(user: User, *, address: str) -> list[Contact]:
    """The memberships a person who logged in with a code mailed to ADDRESS may enter: the
    contact of their own login and, when the same address is an active contact of other
    members too, those contacts (each has its own login; the person switches between them,
    see switch_login()). The address counts only while it is still this login's address.
    Nothing while the secretariat views a member's portal read-only (association.view_as): a
    switch would log them in as that person."""
    if getattr(user, "portal_view_as", None) is not None:
        return []
    if not address or address != user.email:
        return list(Contact.objects.for_user(user).select_related("member__local_government"))
    logins = logins_for_address(address)
    if user.pk not in {login.pk for login in logins}:
        return []
    return list(
        Contact.objects.filter(user__in=logins)
        .select_related("member__local_government__prefecture")
        .order_by("member__local_government_id")
    )


def switch_login(user: User, *, address: str, code: str) -> User:
    """The login to switch to for the member with local government CODE: one of
    portal_memberships(), else PermissionDenied."""
    for contact in portal_memberships(user, address=address):
        if contact.member.local_government_id == code and contact.user is not None:
            return contact.user
    raise PermissionDenied(_("この団体の情報を見る権限がありません。"))


def require_coordinator(user: User, code: str) -> Contact:
    contact = portal_contact(user, code)
    if not contact.is_coordinator:
        raise PermissionDenied(_("この操作は取りまとめ担当の方のみ行えます。"))
    return contact
