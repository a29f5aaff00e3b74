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

# Sent by services.reserved_addresses() with no arguments; each receiver returns an iterable of
# addresses the association sends from or receives replies at (e.g. a mailing list's reply-to),
# which can never be a login.
collect_reserved_addresses = Signal()
