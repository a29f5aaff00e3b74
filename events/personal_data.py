"""What the events app holds of people, and how erasure treats it (association/privacy.py).
Seats go back and unsent notices are stopped first (handlers, through contact_erased)."""

from __future__ import annotations

from association import privacy
from association.privacy import BLANK, Erasure

from .models import CalendarFeed, Notice, Registration, Training, TrainingSession


# A notice's subject and body are the secretariat's words (a message, a reason for calling a
# training off) but were written to this person; its error may quote the address.
def _error(notice: Notice, erasure: Erasure) -> str:
    from .handlers import ERASED_REASON

    return ERASED_REASON if notice.status == Notice.Status.FAILED else ""


privacy.personal(Notice, owner="contact", fields={"subject": BLANK, "body": BLANK, "error": _error})
privacy.no_personal_data(Registration)
privacy.no_personal_data(Training)
privacy.no_personal_data(TrainingSession)
privacy.no_personal_data(CalendarFeed)
