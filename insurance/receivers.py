"""Listening to patients: a level-of-care change opens an "authorization needed" item."""

from datetime import date
from typing import Any

from django.dispatch import receiver

from patients.signals import level_of_care_changed


@receiver(level_of_care_changed, dispatch_uid="insurance.authorization_needed")
def open_authorization_needed(
    sender: Any, *, episode_id: int, to_level_id: int | None, effective_on: date, **kwargs: Any
) -> None:
    from clinic.models import LevelOfCare
    from insurance.services.authorizations import authorization_needed_open
    from patients.models import EpisodeOfCare

    if to_level_id is None:
        return
    episode = EpisodeOfCare.objects.select_related("patient").get(pk=episode_id)
    authorization_needed_open(
        patient=episode.patient, level=LevelOfCare.objects.get(pk=to_level_id), effective_on=effective_on
    )
