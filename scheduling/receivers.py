"""Listening to patients: a level-of-care change proposes what it means for the schedule."""

from datetime import date
from typing import Any

from django.dispatch import receiver

from patients.signals import level_of_care_changed, reminder_contact_changed


@receiver(level_of_care_changed, dispatch_uid="scheduling.level_change_review")
def propose_schedule_review(
    sender: Any,
    *,
    episode_id: int,
    from_level_id: int | None,
    to_level_id: int | None,
    effective_on: date,
    kind: str,
    **kwargs: Any,
) -> None:
    from scheduling.services.reviews import level_change_review_propose

    # An admission has no old track to leave; the admitting clinician enrols directly.
    if from_level_id is None:
        return
    level_change_review_propose(
        episode_id=episode_id, from_level_id=from_level_id, to_level_id=to_level_id, effective_on=effective_on
    )


@receiver(reminder_contact_changed, dispatch_uid="scheduling.reminders_replan")
def replan_reminders(sender: Any, *, patient_id: int, **kwargs: Any) -> None:
    from patients.models import Patient
    from scheduling.services.reminders import reminders_for_patient_replan

    reminders_for_patient_replan(Patient.objects.get(pk=patient_id))
