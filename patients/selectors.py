from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from clinic.db import PreparedPage, page_of
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


# The patient list's page as one prepared statement (clinic/db.py): a row per patient, its
# id and its JSON, built by PostgreSQL. The object is what PatientOutputSerializer shows, in
# its order, with the same nested orders (contacts emergency first then by name, the open
# care team by role and start, the current level from the latest open episode's first open
# stay, as patient_list prefetches them); tests/patients/test_patient_list.py holds the two
# to the same output.
_PATIENT_JSON = """
t.public_id::text,
json_build_object(
    'id', t.public_id, 'mrn', t.mrn, 'legal_first_name', t.legal_first_name,
    'legal_last_name', t.legal_last_name, 'date_of_birth', t.date_of_birth, 'time_zone', t.time_zone,
    'status', t.status, 'preferred_name', t.preferred_name, 'sex_assigned_at_birth', t.sex_assigned_at_birth,
    'gender_identity', t.gender_identity, 'pronouns', t.pronouns, 'phone', t.phone, 'email', t.email,
    'address_line1', t.address_line1, 'address_line2', t.address_line2, 'city', t.city, 'state', t.state,
    'postal_code', t.postal_code, 'preferred_language', t.preferred_language,
    'reminder_channel', t.reminder_channel,
    'contacts', (
        SELECT coalesce(json_agg(json_build_object(
                   'id', c.public_id, 'name', c.name, 'relationship', c.relationship, 'phone', c.phone,
                   'email', c.email, 'is_emergency_contact', c.is_emergency_contact,
                   'is_support_person', c.is_support_person
               ) ORDER BY c.is_emergency_contact DESC, c.name, c.id), '[]')
          FROM patients_patientcontact c WHERE c.patient_id = t.id),
    'current_level', (
        SELECT lv.code
          FROM patients_episodeofcare e
          JOIN patients_levelofcarestay st ON st.episode_id = e.id AND st.ended_on IS NULL
          JOIN clinic_levelofcare lv ON lv.id = st.level_id
         WHERE e.patient_id = t.id AND e.discharged_on IS NULL
         ORDER BY e.admitted_on DESC, e.id, st.started_on, st.id
         LIMIT 1),
    'care_team', (
        SELECT coalesce(json_agg(json_build_object(
                   'id', m.public_id, 'patient', t.public_id, 'member', sp.public_id,
                   'member_name', btrim(u.first_name || ' ' || u.last_name), 'team_role', m.team_role,
                   'started_on', m.started_on, 'ended_on', m.ended_on
               ) ORDER BY m.team_role, m.started_on, m.id), '[]')
          FROM patients_careteammember m
          JOIN auth_user u ON u.id = m.member_id
          LEFT JOIN clinic_staffprofile sp ON sp.user_id = u.id
         WHERE m.patient_id = t.id AND m.ended_on IS NULL)
)::text"""


def patient_rows(patients: QuerySet[Patient]) -> PreparedPage:
    """A page of `patients` (filtered and scoped by the caller) as (id, JSON text) rows, by name."""
    return page_of(
        patients,
        columns=_PATIENT_JSON,
        table="patients_patient",
        order_by="t.legal_last_name, t.legal_first_name, t.id",
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
