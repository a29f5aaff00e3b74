"""Papers to print: PDFs made from HTML templates by WeasyPrint, with the IPAex fonts embedded.

Why WeasyPrint: the papers are laid out as HTML and CSS like every other page (tables that
break across pages with their header repeated, page headers and 「n / N ページ」 from @page
boxes), and it embeds a subset of the TrueType fonts it is given, so a PDF prints the same on
any office PC. The fonts are Debian's fonts-ipaexfont-gothic and -mincho (scripts/ensure-fonts,
run by make setup and make test); settings OFFICE_FONT_GOTHIC / OFFICE_FONT_MINCHO point
elsewhere. A certificate carries a short code, the registration's id with a keyed tag, that
anyone can check at /certificates/<code>/ without a login.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from association.models import Contact
from events.models import Registration, Training
from inquiries.models import Inquiry
from inquiries.services import survey_before_certificate, surveys_before_certificates

GOTHIC = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
MINCHO = "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"
CODE_SALT = "office.papers.certificate"


def _font(setting: str, default: str) -> Path:
    path = Path(getattr(settings, setting, "") or default)
    if not path.is_file():
        raise ImproperlyConfigured(
            _(
                "PDF に埋め込む日本語フォント %(path)s がありません。"
                "make fonts（fonts-ipaexfont-gothic / -mincho）でインストールしてください。"
            )
            % {"path": path}
        )
    return path


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """TEMPLATE rendered with CONTEXT, as a PDF with the fonts embedded."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = {
        "gothic_url": _font("OFFICE_FONT_GOTHIC", GOTHIC).as_uri(),
        "mincho_url": _font("OFFICE_FONT_MINCHO", MINCHO).as_uri(),
    }
    html = render_to_string(template, {**context, **fonts})
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(
        font_config=FontConfiguration()
    )


def roster(training: Training) -> QuerySet[Registration]:
    """Confirmed registrations in the order of the sheet: block, prefecture, the municipality
    by its kana, then the person by theirs (as a reception desk looks people up)."""
    return (
        training.registrations.confirmed()
        .with_people()
        .order_by(
            "member__local_government__prefecture__block__sort_order",
            "member__local_government__prefecture_id",
            "member__local_government__kana",
            "member__local_government_id",
            "contact__kana",
            "id",
        )
    )


def attendance_sheet(training: Training) -> bytes:
    """出欠表・受付名簿: every confirmed participant with a column to sign."""
    return render_pdf(
        "office/papers/attendance.html",
        {"training": training, "registrations": list(roster(training))},
    )


def certificate_code(registration: Registration) -> str:
    """The short code printed on a certificate: the registration's id and a keyed tag."""
    tag = salted_hmac(CODE_SALT, str(registration.pk)).hexdigest()[:10].upper()
    return f"{registration.pk}-{tag}"


def find_certificate(code: str) -> Registration | None:
    """The attended registration a code names, or None for any code not made here."""
    number, _sep, tag = code.strip().upper().partition("-")
    if not number.isdigit() or len(number) > 12 or len(tag) != 10:
        return None
    expected = salted_hmac(CODE_SALT, str(int(number))).hexdigest()[:10].upper()
    if not hmac.compare_digest(tag, expected):
        return None
    return (
        Registration.objects.with_people()
        .filter(
            pk=int(number),
            status=Registration.Status.CONFIRMED,
            attendance=Registration.Attendance.ATTENDED,
        )
        .first()
    )


def attended(training: Training) -> QuerySet[Registration]:
    return roster(training).filter(attendance=Registration.Attendance.ATTENDED)


def survey_first(registration: Registration) -> Inquiry | None:
    """The survey the attendee must answer before the portal offers their certificate (the
    rule is inquiries'); the secretariat's download is never held back by it."""
    return survey_before_certificate(registration.training, registration.contact)


def surveys_first(registrations: list[Registration]) -> dict[int, Inquiry]:
    """survey_first() for many REGISTRATIONS in two queries: registration id -> the survey
    its attendee answers first (those not waiting are left out)."""
    waiting = surveys_before_certificates((r.training_id, r.contact_id) for r in registrations)
    return {
        r.pk: waiting[(r.training_id, r.contact_id)]
        for r in registrations
        if (r.training_id, r.contact_id) in waiting
    }


def certificates_of(contact: Contact) -> QuerySet[Registration]:
    """The attendances whose 参加証明書 CONTACT may have from the portal, newest first, however
    many 年度 ago: their own; a coordinator's, everyone's of their municipality (they register
    colleagues and keep the papers for the office). Never another municipality's."""
    rows = Registration.objects.with_people().filter(
        member_id=contact.member_id,
        status=Registration.Status.CONFIRMED,
        attendance=Registration.Attendance.ATTENDED,
    )
    if not contact.is_coordinator:
        rows = rows.filter(contact_id=contact.pk)
    return rows.order_by("-training__starts_at", "-training_id", "contact__kana", "id")


def certificates(registrations: list[Registration]) -> bytes:
    """参加証明書, one page per attendee (only those marked attended)."""
    pages = [
        {
            "registration": r,
            "code": certificate_code(r),
            "url": settings.SITE_URL + reverse("certificate", args=[certificate_code(r)]),
        }
        for r in registrations
        if r.status == Registration.Status.CONFIRMED
        and r.attendance == Registration.Attendance.ATTENDED
    ]
    return render_pdf(
        "office/papers/certificates.html",
        {"pages": pages, "association": settings.SITE_NAME},
    )


def badges(training: Training) -> bytes:
    """名札 on A4 label sheets of 10 (2 × 5, 91 × 55 mm): 団体名, ふりがな, 氏名."""
    return render_pdf(
        "office/papers/badges.html", {"training": training, "registrations": list(roster(training))}
    )


def notices(training: Training, *, member_ids: list[int] | None = None) -> bytes:
    """開催通知: one page per registered municipality, addressed to the head of each
    participant's department (所属長), naming that municipality's participants, so that they
    can be sent on the trip (出張命令)."""
    by_member: dict[int, list[Registration]] = {}
    for registration in roster(training):
        if member_ids is None or registration.member_id in member_ids:
            by_member.setdefault(registration.member_id, []).append(registration)
    letters = []
    for registrations in by_member.values():
        departments = sorted({r.contact.department for r in registrations if r.contact.department})
        letters.append(
            {"member": registrations[0].member, "departments": departments, "people": registrations}
        )
    return render_pdf(
        "office/papers/notices.html",
        {
            "training": training,
            "letters": letters,
            "association": settings.SITE_NAME,
            "today": timezone.localdate(),
        },
    )
