from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from patients.models import (
    CareTeamMember,
    Consent,
    Disclosure,
    EpisodeOfCare,
    IntakeAssessment,
    LevelOfCareStay,
    MeasureResponse,
    Patient,
    Referral,
)


def current_stays() -> QuerySet[LevelOfCareStay]:
    """The stays patients are in now: open stays of open episodes."""
    return LevelOfCareStay.objects.filter(ended_on__isnull=True, episode__discharged_on__isnull=True)


def current_level_code(patient: Patient) -> str | None:
    """The code of the level the patient is at today, or None when not admitted."""
    today = timezone.localdate()
    return (
        current_stays()
        .filter(episode__patient=patient, started_on__lte=today)
        .values_list("level__code", flat=True)
        .first()
    )


def patient_list() -> QuerySet[Patient]:
    """Patients with what the list and detail show: contacts, the open care team and the
    current level of care, each in one query for the whole page."""
    open_stays = LevelOfCareStay.objects.filter(ended_on__isnull=True).select_related("level")
    open_episodes = EpisodeOfCare.objects.filter(discharged_on__isnull=True).prefetch_related(
        Prefetch("stays", queryset=open_stays, to_attr="open_stays")
    )
    open_team = CareTeamMember.objects.filter(ended_on__isnull=True).select_related("member__staff_profile")
    return Patient.objects.prefetch_related(
        "contacts",
        Prefetch("episodes", queryset=open_episodes, to_attr="open_episodes"),
        Prefetch("care_team", queryset=open_team, to_attr="open_care_team"),
    )


def patients_at_level(patients: QuerySet[Patient], level_code: str) -> QuerySet[Patient]:
    """The patients whose current stay is at that level (API filter and admin filter)."""
    # One filter() call: the open episode and its open stay must be the same rows.
    return patients.filter(
        episodes__discharged_on__isnull=True,
        episodes__stays__ended_on__isnull=True,
        episodes__stays__level__code=level_code,
    )


def episode_list() -> QuerySet[EpisodeOfCare]:
    return EpisodeOfCare.objects.select_related("patient", "intake_assessment").prefetch_related(
        Prefetch("stays", queryset=LevelOfCareStay.objects.select_related("level", "decided_by"))
    )


def consent_list() -> QuerySet[Consent]:
    return Consent.objects.select_related("patient")


def disclosure_list() -> QuerySet[Disclosure]:
    return Disclosure.objects.select_related("patient", "consent", "disclosed_by")


def referral_list() -> QuerySet[Referral]:
    return Referral.objects.select_related("owner", "converted_patient")


def measure_list() -> QuerySet[MeasureResponse]:
    return MeasureResponse.objects.select_related("patient")


def care_team_member_list() -> QuerySet[CareTeamMember]:
    return CareTeamMember.objects.select_related("patient", "member__staff_profile")


def intake_list() -> QuerySet[IntakeAssessment]:
    return IntakeAssessment.objects.select_related(
        "patient", "assessed_by", "proposed_level", "decided_level", "decided_by"
    ).prefetch_related("benzodiazepines", "substances", "prescribers")


def intake_latest(patient: Patient) -> IntakeAssessment | None:
    """The assessment an admission follows: the patient's latest."""
    return (
        IntakeAssessment.objects.filter(patient=patient)
        .select_related("decided_level")
        .order_by("-assessed_on", "-created_at")
        .first()
    )
