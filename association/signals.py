from django.dispatch import Signal

# Sent inside the hand-over transaction with old=, new= (Contact) and by= (User or None), so
# that other apps (mailing lists, training registrations) move what belonged to the old contact.
contact_handed_over = Signal()

# Sent inside erase_contact()'s transaction with contact= (already deactivated, personal data
# about to be replaced), so that other apps scrub their own copies (names, addresses).
contact_erased = Signal()

# Sent inside deactivate_contact()'s transaction with contact= and by=: the person is no
# longer a contact (a hand-over sends contact_handed_over instead).
contact_deactivated = Signal()
