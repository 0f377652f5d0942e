"""The patient list is one prepared statement that has PostgreSQL build each patient's JSON
(patients.selectors.patient_rows) while a single patient still goes through
PatientOutputSerializer: each patient in the list must read exactly as their own detail,
for every kind of record the list shows, and the ORM's scope and filters still choose who."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from clinic.models import AuditAction, AuditEvent, LevelOfCare
from clinic.roles import Role
from patients.models import CareTeamMember, EpisodeOfCare, LevelOfCareStay, PatientContact
from tests.clinic.factories import StaffProfileFactory
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db


def admit(patient, level, by, *, admitted_on=date(2026, 11, 1), discharged_on=None):
    episode = EpisodeOfCare.objects.create(
        patient=patient,
        admitted_on=admitted_on,
        discharged_on=discharged_on,
        discharge_reason="completed" if discharged_on else "",
    )
    LevelOfCareStay.objects.create(
        episode=episode,
        level=LevelOfCare.objects.get(code=level),
        started_on=admitted_on,
        kind="admission",
        reason="r",
        decided_by=by,
    )


@pytest.fixture
def patients(make_user):
    """Patients with every kind of record the list shows: two contacts (the emergency one
    listed first), a care team of two (one without a staff profile) beside an ended
    membership, an open stay, a past episode only, no phone, a preferred name."""
    nurse, lead = make_user(Role.NURSE), StaffProfileFactory.create(user=make_user(Role.CLINICIAN)).user
    # A different value in every column (so a column under the wrong key shows), text that JSON
    # must escape, and values other than the defaults.
    full = PatientFactory.create(
        legal_first_name='Ana "Nana" \\ María',
        legal_last_name="Núñez-O'Brien",
        time_zone=ZoneInfo("America/Chicago"),
        status="admitted",
        preferred_name="Jo",
        sex_assigned_at_birth="intersex",
        gender_identity="non-binary",
        pronouns="they/them",
        phone="+16175550111",
        email="ana@example.org",
        address_line1="1 Main St",
        address_line2="Apt 2",
        city="Springfield",
        state="IL",
        postal_code="62701",
        preferred_language="es",
        reminder_channel="email",
    )
    # Emergency first, then by name: Zed, Alex, Bea whatever order they were added in.
    PatientContact.objects.create(patient=full, name="Bea", relationship="sibling", phone="+16175550133")
    PatientContact.objects.create(
        patient=full, name="Alex", relationship="friend", email="alex@example.org", is_support_person=True
    )
    PatientContact.objects.create(
        patient=full, name="Zed", relationship="parent", phone="+16175550122", is_emergency_contact=True
    )
    put_on_care_team(full, lead, team_role="primary_clinician")
    put_on_care_team(full, nurse, team_role="nurse")
    CareTeamMember.objects.create(
        patient=full,
        member=make_user(Role.CLINICIAN),
        team_role="other",
        started_on=date(2026, 1, 1),
        ended_on=date(2026, 2, 1),
    )
    admit(full, "php", nurse)
    discharged = PatientFactory.create(phone="")
    admit(discharged, "iop", nurse, admitted_on=date(2026, 3, 1), discharged_on=date(2026, 4, 1))
    plain = PatientFactory.create()
    return {"full": full, "discharged": discharged, "plain": plain, "lead": lead}


def test_it_lists_each_patient_exactly_as_their_detail_shows_them(make_user, client_for, patients):
    desk = client_for(make_user(Role.ADMISSIONS))
    rows = desk.get("/api/v1/patients/").json()["results"]
    assert len(rows) == 3
    for row in rows:
        assert row == desk.get(f"/api/v1/patients/{row['id']}/").json()
    full = next(row for row in rows if row["id"] == str(patients["full"].public_id))
    # The variety the comparison covered, so it cannot pass on plain rows alone.
    assert [contact["name"] for contact in full["contacts"]] == ["Zed", "Alex", "Bea"]
    texts = [value for value in full.values() if isinstance(value, str)]
    assert len(texts) == 21  # none left blank
    assert len(set(texts)) == len(texts)  # no two alike
    assert sorted(member["team_role"] for member in full["care_team"]) == ["nurse", "primary_clinician"]
    assert None in [member["member"] for member in full["care_team"]]
    assert full["current_level"] == "php"
    discharged = next(row for row in rows if row["id"] == str(patients["discharged"].public_id))
    assert (discharged["current_level"], discharged["phone"]) == (None, "")


def test_the_orm_still_chooses_who_is_listed(make_user, client_for, patients):
    lead = patients["lead"]
    mine = client_for(lead).get("/api/v1/patients/").json()
    assert [row["id"] for row in mine["results"]] == [str(patients["full"].public_id)]
    desk = client_for(make_user(Role.ADMISSIONS))
    for query, expected in [
        ("level_of_care=php", ["full"]),
        (f"primary_clinician={lead.staff_profile.public_id}", ["full"]),
        (f"search={patients['plain'].mrn}", ["plain"]),
        ("status=referred&level_of_care=iop", []),
    ]:
        body = desk.get(f"/api/v1/patients/?{query}").json()
        assert [row["id"] for row in body["results"]] == [str(patients[name].public_id) for name in expected], query
    assert client_for(make_user(Role.CLINICIAN)).get("/api/v1/patients/").json()["count"] == 0


def test_listing_audits_each_patient_on_the_page_once(make_user, client_for, patients):
    desk_user = make_user(Role.ADMISSIONS)
    body = client_for(desk_user).get("/api/v1/patients/?page_size=2").json()
    events = AuditEvent.objects.filter(action=AuditAction.LIST)
    assert sorted(str(e.patient_id) for e in events) == sorted(row["id"] for row in body["results"])
    assert {(e.actor_id, e.object_type, e.via) for e in events} == {(desk_user.pk, "patients.Patient", "api")}
    assert sorted(e.object_id for e in events) == sorted(row["id"] for row in body["results"])
    assert {(e.actor_username, e.ip_address) for e in events} == {(desk_user.username, "127.0.0.1")}
    assert len({e.request_id for e in events}) == 1
    assert all(e.request_id for e in events)
