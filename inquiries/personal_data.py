"""What the inquiries app holds of people (association/privacy.py). A 照会's answers are the
municipality's, not a person's: erasure keeps them, and the person's name leaves their change
history through questions' declaration (forget_actor by "contact:<id>", in
association/personal_data.py). A named survey's reply points at the contact row, which erasure
keeps anonymous; an anonymous survey's reply points at no one."""

from __future__ import annotations

from association import privacy

from .models import Inquiry, Invitation, Reminder, Reply

privacy.no_personal_data(Inquiry)
privacy.no_personal_data(Reply)
privacy.no_personal_data(Invitation)
privacy.no_personal_data(Reminder)
