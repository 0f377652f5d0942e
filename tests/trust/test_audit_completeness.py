"""Every route that reads or changes patient data leaves an audit event naming the caller, the
patient and what was done (DESIGN.md, "Audit"); and the audit log cannot be changed or deleted,
through the app or by the database role."""

from __future__ import annotations

from uuid import UUID

import pytest
import time_machine
from django.contrib import admin
from django.db import ProgrammingError, connection, transaction
from django.test import RequestFactory
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import AuditAction, AuditEvent, AuditLogIsAppendOnly
from scheduling.calendar import initials
from tapers import ciwa
from tests.trust.access_matrix import NO_PATIENT_YET, ROWS, A, Row, S
from tests.trust.conftest import Clinic, send
from tests.trust.test_access_matrix import path_of

pytestmark = pytest.mark.django_db

AUDITED = [row for row in ROWS if row.audit]
# Who makes each call: the first persona whose column allows it (front office first).
CALLERS = ("admissions", "billing", "clinic_admin", "prescriber", "clinician", "nurse")
# A list answers with every record on its page, each audited; a write may audit more than one
# action (a disclosure also reads the consent), and the table names the one that must be there.


# Calls made first, in the same savepoint, to bring a record to the state the call needs
# (a plan must be approved before it starts, a letter sent before it is marked sent).
BEFORE: dict[tuple[str, str], list[tuple[str, str, str]]] = {
    ("episode-list", "POST"): [("episode-discharge", "POST", "prescriber")],
    ("taper-plan-activate", "POST"): [("taper-plan-approve", "POST", "prescriber")],
    ("taper-plan-hold", "POST"): [
        ("taper-plan-approve", "POST", "prescriber"),
        ("taper-plan-activate", "POST", "prescriber"),
    ],
    ("taper-plan-resume", "POST"): [
        ("taper-plan-approve", "POST", "prescriber"),
        ("taper-plan-activate", "POST", "prescriber"),
        ("taper-plan-hold", "POST", "prescriber"),
    ],
    ("taper-plan-complete", "POST"): [
        ("taper-plan-approve", "POST", "prescriber"),
        ("taper-plan-activate", "POST", "prescriber"),
    ],
    ("taper-plan-check-links", "POST"): [("taper-plan-approve", "POST", "prescriber")],
    ("communication-sent", "POST"): [("communication-send", "POST", "prescriber")],
    ("communication-letter", "GET"): [("communication-send", "POST", "prescriber")],
    ("communication-record-response", "POST"): [
        ("communication-send", "POST", "prescriber"),
        ("communication-sent", "POST", "prescriber"),
    ],
}
# Calls that need a later moment: attendance once the appointment (24 November, 14:00 in New
# York) has started; completing a plan once its last step has (the engine plans months ahead).
AT = {
    ("booking-attendance", "POST"): "2026-11-24 19:30:00+00:00",
    ("taper-plan-complete", "POST"): "2030-01-07 15:00:00+00:00",
}
# Routes that make a new patient: the event names that patient.
NEW_PATIENT = {("patient-list", "POST"), ("referral-convert", "POST")}


def caller(row: Row) -> str:
    return next(p for p in CALLERS if getattr(row, p) in (A, S))


@pytest.mark.parametrize("row", AUDITED, ids=[f"{row.method} {row.name}" for row in AUDITED])
def test_it_audits_each_read_and_write_of_patient_data(clinic: Clinic, in_savepoint, row):
    persona = caller(row)
    user = clinic.users[persona]
    path = path_of(clinic, row.name)

    def call():
        for name, method, by in BEFORE.get((row.name, row.method), []):
            before = send(clinic, by, method, path_of(clinic, name), name)
            assert 200 <= before.status_code < 300, (name, before.status_code, before.content[:300])
        if (row.name, row.method) not in AT:
            return audited_call()
        with time_machine.travel(AT[(row.name, row.method)], tick=False):
            # The module's tokens have expired by then: a fresh one, rolled back with the call.
            clinic.tokens[persona] = AuthToken.objects.create(user=user)[1]
            return audited_call()

    def audited_call():
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = send(clinic, persona, row.method, path, row.name)
        events = list(AuditEvent.objects.filter(id__gt=last).values("actor_id", "patient_id", "action"))
        return response, events

    tokens = dict(clinic.tokens)
    try:
        response, events = in_savepoint(call)
    finally:
        clinic.tokens = tokens
    assert 200 <= response.status_code < 300, (persona, response.status_code, response.content[:300])
    patient_id: UUID | None = clinic.patient.public_id
    if (row.name, row.method) in NEW_PATIENT:
        patient_id = UUID(response.json()["id"])
    elif row.name in NO_PATIENT_YET:
        patient_id = None
    wanted = {"actor_id": user.pk, "patient_id": patient_id, "action": row.audit}
    assert wanted in events, (persona, events)
    assert all(event["actor_id"] == user.pk for event in events), events


def test_a_calendar_feed_audits_the_patients_it_names(clinic: Clinic, in_savepoint):
    """The .ics shows one-to-one appointments with the patient's initials: a read of patient
    data by the feed's owner, though the calendar app presents no API token."""
    path = reverse("calendar-feed", kwargs=clinic.kwargs["calendar-feed"])

    def call():
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = APIClient().get(path)
        return response, list(AuditEvent.objects.filter(id__gt=last).values("actor_id", "patient_id", "action"))

    response, events = in_savepoint(call)
    assert response.status_code == 200
    assert initials(clinic.patient.legal_first_name, clinic.patient.legal_last_name) in response.content.decode()
    owner = clinic.users["clinician"]
    assert {"actor_id": owner.pk, "patient_id": clinic.patient.public_id, "action": "list"} in events


def test_a_patients_own_check_through_a_link_is_audited(clinic: Clinic, in_savepoint):
    def call():
        for name in ("taper-plan-approve", "taper-plan-check-links"):
            response = send(clinic, "prescriber", "POST", path_of(clinic, name), name)
            assert response.status_code in (200, 201), response.content[:300]
        url = response.json()["url"].removeprefix("http://testserver")
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        items = {"items": {item.key: 0 for item in ciwa.ITEMS}}
        submitted = APIClient().post(url, items, format="json")
        return submitted, list(AuditEvent.objects.filter(id__gt=last).values("actor_id", "patient_id", "action"))

    response, events = in_savepoint(call)
    assert response.status_code == 201, response.content[:300]
    assert {"actor_id": None, "patient_id": clinic.patient.public_id, "action": "create"} in events


def test_an_audit_event_refuses_to_be_saved_again_or_deleted(clinic: Clinic):
    event = AuditEvent.objects.create(action=AuditAction.READ, object_type="patients.Patient")
    event.reason = "changed"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(reason="changed")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


@pytest.mark.parametrize(
    "sql",
    ["UPDATE clinic_auditevent SET reason = 'changed' WHERE id = %s", "DELETE FROM clinic_auditevent WHERE id = %s"],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_delete_an_audit_event(clinic: Clinic, sql):
    event = AuditEvent.objects.create(action=AuditAction.READ, object_type="patients.Patient")
    with (
        # The trigger's own refusal (raised as insufficient_privilege), by its words: a typo in the SQL or a
        # renamed column is a ProgrammingError too.
        pytest.raises(ProgrammingError, match=r"audit events are append-only \((UPDATE|DELETE) refused\)"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, reason="").exists()


def test_the_admin_offers_no_way_to_add_change_or_delete_an_audit_event(clinic: Clinic):
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/clinic/auditevent/")
    # A copy of the module's administrator: the others' tests keep the role as it is.
    request.user = type(clinic.users["clinic_admin"]).objects.get(pk=clinic.users["clinic_admin"].pk)
    request.user.is_superuser = True  # the most anyone can hold
    event = AuditEvent.objects.create(action=AuditAction.READ, object_type="patients.Patient")
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert "delete_selected" not in (model_admin.get_actions(request) or {})
