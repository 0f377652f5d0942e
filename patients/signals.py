"""Signals the patients app sends; higher apps (scheduling, insurance) listen."""

from django.dispatch import Signal

# Sent after commit when an episode moves between levels of care (including admission and
# transfer out). Keyword arguments: episode_id (int), from_level_id (int | None),
# to_level_id (int | None: None on transfer out and discharge), kind (a TransitionKind value, or
# "discharge"), effective_on (date).
level_of_care_changed = Signal()

# Sent in the saving transaction when a patient's reminder channel, phone, email or time zone
# changes, so that what listens (scheduling's reminders) re-plans. Keyword argument:
# patient_id (int).
reminder_contact_changed = Signal()
