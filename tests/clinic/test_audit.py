import uuid

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.db.utils import InternalError, ProgrammingError

from clinic.audit import AuditTarget, audit_record, audit_record_many
from clinic.models import AuditAction, AuditEvent, AuditLogIsAppendOnly
from clinic.roles import Role
from patients.models import Patient
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db


def test_reading_a_patient_writes_an_audit_event(clinician, clinician_client, patient):
    response = clinician_client.get(
        f"/api/v1/patients/{patient.public_id}/", HTTP_X_REQUEST_ID="req-123", REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-123"
    event = AuditEvent.objects.get()
    assert event.actor == clinician
    assert event.actor_username == clinician.username
    assert event.action == AuditAction.READ
    assert event.object_type == "patients.Patient"
    assert event.object_id == str(patient.public_id)
    assert event.patient_id == patient.public_id
    assert event.ip_address == "10.1.2.3"
    assert event.request_id == "req-123"
    assert event.via == "api"


def test_a_list_writes_one_event_per_patient_shown(clinician, clinician_client):
    patients = PatientFactory.create_batch(3)
    for each in patients:
        put_on_care_team(each, clinician)
    response = clinician_client.get("/api/v1/patients/?page_size=2")
    assert response.status_code == 200
    shown = {row["id"] for row in response.json()["results"]}
    assert len(shown) == 2
    events = AuditEvent.objects.filter(action=AuditAction.LIST)
    assert {str(e.patient_id) for e in events} == shown
    assert {e.actor_id for e in events} == {clinician.pk}


def test_a_list_costs_the_same_queries_at_any_size(clinician, clinician_client, django_assert_num_queries):
    for each in PatientFactory.create_batch(2):
        put_on_care_team(each, clinician)
    # token with its user and roles, count, the page (each patient's JSON with contacts,
    # level and care team, built by PostgreSQL), audit insert (one for the page)
    with django_assert_num_queries(4) as small:
        clinician_client.get("/api/v1/patients/")
    for each in PatientFactory.create_batch(20):
        put_on_care_team(each, clinician)
    with django_assert_num_queries(len(small.captured_queries)):
        clinician_client.get("/api/v1/patients/")


@pytest.mark.parametrize("incoming", ["bad id with spaces", "abc\n", "x" * 65])
def test_a_generated_request_id_is_returned_and_recorded(clinician_client, patient, incoming):
    response = clinician_client.get(f"/api/v1/patients/{patient.public_id}/", HTTP_X_REQUEST_ID=incoming)
    request_id = response["X-Request-ID"]
    assert request_id != incoming
    assert len(request_id) == 32
    assert AuditEvent.objects.get().request_id == request_id


def test_a_failed_lookup_writes_no_read_event(clinician_client):
    response = clinician_client.get("/api/v1/patients/4b1d1c5e-8f0e-4a8e-9d8e-1c2b3a4f5e6d/")
    assert response.status_code == 404
    assert not AuditEvent.objects.exists()


def test_the_app_refuses_to_change_or_delete_an_event(clinician_client, patient):
    clinician_client.get(f"/api/v1/patients/{patient.public_id}/")
    event = AuditEvent.objects.get()
    event.reason = "tampered"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().update(reason="tampered")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().reason == ""


@pytest.mark.parametrize(
    "statement",
    ["UPDATE clinic_auditevent SET reason = 'tampered'", "DELETE FROM clinic_auditevent"],
)
def test_the_database_refuses_to_change_or_delete_an_event(clinician_client, patient, statement):
    clinician_client.get(f"/api/v1/patients/{patient.public_id}/")
    with (
        pytest.raises((InternalError, ProgrammingError), match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.filter(reason="").count() == 1


def test_viewing_a_patient_in_the_admin_writes_an_audit_event(client, make_user, patient):
    admissions = make_user(Role.ADMISSIONS)
    client.force_login(admissions)
    response = client.get(f"/admin/patients/patient/{patient.pk}/change/")
    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.via, event.patient_id) == (
        admissions,
        AuditAction.READ,
        "admin",
        patient.public_id,
    )


def test_the_admin_patient_list_audits_each_patient_shown(client, make_user):
    patients = PatientFactory.create_batch(3)
    client.force_login(make_user(Role.ADMISSIONS))
    assert client.get("/admin/patients/patient/").status_code == 200
    events = AuditEvent.objects.filter(action=AuditAction.LIST, via="admin")
    assert {e.patient_id for e in events} == {p.public_id for p in patients}


def test_the_admin_history_of_a_patient_is_audited(client, make_user, patient):
    client.force_login(make_user(Role.ADMISSIONS))
    assert client.get(f"/admin/patients/patient/{patient.pk}/history/").status_code == 200
    version = patient.history.first()
    assert client.get(f"/admin/patients/patient/{patient.pk}/history/{version.history_id}/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.READ, via="admin", patient_id=patient.public_id).count() == 2


def test_a_patient_form_shown_again_with_errors_is_audited_as_a_read(client, make_user, patient):
    client.force_login(make_user(Role.ADMISSIONS))
    response = client.post(f"/admin/patients/patient/{patient.pk}/change/", {"legal_first_name": ""})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.READ, via="admin").count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE).exists()


def test_the_audit_log_is_read_only_in_the_admin(client, make_user, patient, clinician_client):
    clinician_client.get(f"/api/v1/patients/{patient.public_id}/")
    event = AuditEvent.objects.get()
    admin = make_user(Role.CLINIC_ADMIN)
    client.force_login(admin)
    assert client.get("/admin/clinic/auditevent/").status_code == 200
    assert client.get(f"/admin/clinic/auditevent/{event.pk}/change/").status_code == 200
    response = client.post(f"/admin/clinic/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert client.get("/admin/clinic/auditevent/add/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_patient_data_viewset_cannot_bypass_scoping_by_overriding_get_queryset():
    from clinic.api.viewsets import PatientDataViewSet

    with pytest.raises(TypeError, match="base_queryset"):

        class Leaky(PatientDataViewSet):
            def get_queryset(self):
                return super().get_queryset()


@pytest.mark.parametrize("mixin", ["ListModelMixin", "RetrieveModelMixin", "CreateModelMixin", "UpdateModelMixin"])
def test_a_patient_data_viewset_cannot_use_drfs_unaudited_mixins(mixin):
    from rest_framework import mixins

    from clinic.api.viewsets import PatientDataViewSet

    with pytest.raises(TypeError, match="writes no audit event"):
        type("Unaudited", (getattr(mixins, mixin), PatientDataViewSet), {})


def test_a_forged_forwarded_for_header_falls_back_to_the_peer_address(clinician_client, patient, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    response = clinician_client.get(
        f"/api/v1/patients/{patient.public_id}/", HTTP_X_FORWARDED_FOR="junk", REMOTE_ADDR="10.0.0.9"
    )
    assert response.status_code == 200
    assert AuditEvent.objects.get().ip_address == "10.0.0.9"


def test_behind_a_proxy_the_client_address_comes_from_forwarded_for(clinician_client, patient, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    clinician_client.get(
        f"/api/v1/patients/{patient.public_id}/",
        HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.7",
        REMOTE_ADDR="10.0.0.9",
    )
    assert AuditEvent.objects.get().ip_address == "198.51.100.7"


def test_the_audit_log_keeps_one_index_per_question():
    """Every event written updates every index: the trail has the ones its questions need
    (who looked at this patient, what did this user do, an event by id) and no copies."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'clinic_auditevent'")
        columns = sorted(definition.split(" USING btree ")[1] for (definition,) in cursor.fetchall())
    assert columns == ["(actor_id, occurred_at)", "(id)", "(patient_id, occurred_at)", "(public_id)"]


def test_a_user_who_touched_records_cannot_be_deleted_though_the_log_has_no_foreign_key(clinician, clinician_client):
    """The actor column carries no database constraint (checked row by row, it was a third of
    a list's audit insert); Django still refuses to delete a user the trail names."""
    patient: Patient = PatientFactory.create()
    put_on_care_team(patient, clinician)
    assert clinician_client.get("/api/v1/patients/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'clinic_auditevent'::regclass AND contype = 'f'"
        )
        assert cursor.fetchone() == (0,)
    with pytest.raises(ProtectedError):
        clinician.delete()
    assert AuditEvent.objects.filter(actor=clinician).exists()


def test_an_event_written_with_a_list_is_the_row_audit_record_writes(clinician, rf):
    """The list's INSERT takes its shared columns from the model; one event written each way
    must be the same row, whatever field the model gains."""
    request = rf.get("/api/v1/patients/", REMOTE_ADDR="10.9.8.7")
    request.request_id = "req-9"  # as RequestIdMiddleware sets it
    target = AuditTarget(object_type="patients.Patient", object_id="p1", patient_id=uuid.UUID(int=7))
    kwargs = {"action": AuditAction.READ, "actor": clinician, "request": request, "reason": "because"}
    with time_machine.travel("2026-11-23 15:00:00+00:00", tick=False):
        audit_record(target, **kwargs)
        audit_record_many([target], **kwargs)
    columns = [f.attname for f in AuditEvent._meta.concrete_fields if f.attname not in ("id", "public_id")]
    rows = [{column: getattr(event, column) for column in columns} for event in AuditEvent.objects.order_by("id")]
    assert len(rows) == 2
    assert rows[0] == rows[1]
    assert (rows[0]["request_id"], rows[0]["ip_address"], rows[0]["reason"]) == ("req-9", "10.9.8.7", "because")


def test_a_list_audits_targets_with_and_without_a_patient_in_order(clinician):
    targets = [
        AuditTarget(object_type="patients.Patient", object_id="a", patient_id=uuid.UUID(int=1)),
        AuditTarget(object_type="clinic.StaffProfile", object_id="b", patient_id=None),
        AuditTarget(object_type="patients.Patient", object_id="c", patient_id=str(uuid.UUID(int=2))),
    ]
    assert audit_record_many(targets, action=AuditAction.LIST, actor=clinician, via="system") == 3
    written = AuditEvent.objects.order_by("id").values_list("object_type", "object_id", "patient_id", "actor_id", "via")
    assert list(written) == [
        ("patients.Patient", "a", uuid.UUID(int=1), clinician.pk, "system"),
        ("clinic.StaffProfile", "b", None, clinician.pk, "system"),
        ("patients.Patient", "c", uuid.UUID(int=2), clinician.pk, "system"),
    ]


def test_a_single_target_with_empty_columns_is_written_as_given(clinician):
    target = AuditTarget(object_type="clinic.Export", object_id="", patient_id=None)
    assert audit_record_many([target], action=AuditAction.LIST, actor=clinician) == 1
    written = AuditEvent.objects.values_list("object_type", "object_id", "patient_id")
    assert list(written) == [("clinic.Export", "", None)]


def test_an_id_holding_the_separator_is_refused_and_nothing_is_written(clinician):
    targets = [AuditTarget(object_type="patients.Patient", object_id="a\x1fb", patient_id=None)]
    with pytest.raises(ValueError, match="unit separator"):
        audit_record_many(targets, action=AuditAction.LIST, actor=clinician)
    assert not AuditEvent.objects.exists()
