"""Lists cost the same number of queries whatever their length (pinned by comparison)."""

from datetime import date

import pytest

from clinic.models import LevelOfCare
from clinic.roles import Role
from patients.models import CareTeamMember, Consent, EpisodeOfCare, LevelOfCareStay
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def add_patient_with_records(staff):
    patient = PatientFactory.create()
    episode = EpisodeOfCare.objects.create(patient=patient, admitted_on=date(2026, 11, 1))
    LevelOfCareStay.objects.create(
        episode=episode,
        level=LevelOfCare.objects.get(code="php"),
        started_on=date(2026, 11, 1),
        kind="admission",
        reason="r",
        decided_by=staff,
    )
    CareTeamMember.objects.create(patient=patient, member=staff, team_role="nurse", started_on=date(2026, 11, 1))
    Consent.objects.create(
        patient=patient,
        recipient_type="family_member",
        recipient_name="Sam",
        information=["attendance"],
        amount_and_kind="Attendance",
        purposes=["family_involvement"],
        effective_on=date(2026, 11, 1),
        expiry_event="end of treatment",
        signed_at="2026-11-01T12:00:00Z",
        signature_method="wet",
        right_to_revoke_statement="You may revoke.",
        recorded_by=staff,
    )


@pytest.mark.parametrize(
    "url", ["/api/v1/patients/", "/api/v1/episodes/", "/api/v1/consents/", "/api/v1/care-team-members/"]
)
def test_list_queries_do_not_grow_with_rows(make_user, client_for, django_assert_max_num_queries, url):
    nurse = make_user(Role.NURSE)
    desk = client_for(make_user(Role.ADMISSIONS))
    for _ in range(2):
        add_patient_with_records(nurse)
    with django_assert_max_num_queries(20) as small:
        assert desk.get(url).json()["count"] == 2
    for _ in range(8):
        add_patient_with_records(nurse)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert desk.get(url).json()["count"] == 10
