"""The read-only admin of prescribers of record and communications: the care team's patients
only; admissions and billing see none of it; every page shown is audited."""

import pytest

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from tapers.services import coordination
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_coordination import EpisodeFactory, OutsidePrescriberFactory, fax_letter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


@pytest.fixture
def records(make_user):
    prescriber = make_user(Role.PRESCRIBER)
    patient = PatientFactory.create(legal_first_name="Jordan", legal_last_name="Quill")
    put_on_care_team(patient, prescriber)
    outside = OutsidePrescriberFactory.create(name="Lee Park")
    change = coordination.prescriber_of_record_set(
        episode=EpisodeFactory.create(patient=patient), prescriber=outside, by=prescriber
    )
    letter = fax_letter(patient, outside, by=prescriber)
    return prescriber, patient, change.record, letter


def _grant_admin_permissions(user):
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_communication", "view_prescriberofrecord"])
    )


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING])
def test_the_front_office_sees_none_of_it(client, make_user, records, role):
    _, _, _, letter = records
    user = make_user(role)
    _grant_admin_permissions(user)
    client.force_login(user)
    assert client.get("/admin/tapers/communication/").status_code == 403
    assert client.get(f"/admin/tapers/communication/{letter.pk}/change/").status_code == 403
    assert client.get("/admin/tapers/prescriberofrecord/").status_code == 403
    assert "Lee Park" not in client.get("/admin/").content.decode()


def test_the_care_team_reads_them_audited_and_cannot_change_them(client, records):
    prescriber, patient, _, letter = records
    _grant_admin_permissions(prescriber)
    client.force_login(prescriber)
    page = client.get("/admin/tapers/communication/")
    assert page.status_code == 200
    assert "Taper step" in page.content.decode()
    detail = client.get(f"/admin/tapers/communication/{letter.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/tapers/prescriberofrecord/").status_code == 200
    events = AuditEvent.objects.filter(patient_id=patient.public_id, via="admin")
    assert set(events.values_list("action", flat=True)) == {AuditAction.LIST, AuditAction.READ}


def test_a_clinician_off_the_team_sees_an_empty_list(client, make_user, records):
    stranger = make_user(Role.CLINICIAN)
    _grant_admin_permissions(stranger)
    client.force_login(stranger)
    page = client.get("/admin/tapers/communication/")
    assert page.status_code == 200
    assert "Taper step" not in page.content.decode()
