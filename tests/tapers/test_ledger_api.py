"""The ledger API: catalogue, prescribers, prescriptions; access and audit."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import BreakGlassGrant
from tapers.models import Medication, Prescriber, Prescription
from tapers.services.ledger_catalogue import half_life_group
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories import PharmacyFactory, PrescriberFactory
from tests.tapers.factories_ledger import days_ago, record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

VALID_NPI = "1234567893"


def rx_body(patient, prescriber, **overrides):
    return {
        "patient": str(patient.public_id),
        "drug_name": "Xanax",
        "strength": "0.5 mg",
        "quantity": "90",
        "days_supply": 30,
        "written_on": "2026-11-01",
        "filled_on": "2026-11-02",
        "prescriber": str(prescriber.public_id),
        "source": "self_report",
        **overrides,
    }


# --- the catalogue ------------------------------------------------------------------------


def test_the_catalogue_is_seeded_with_ashton_drugs_opioids_stimulants_and_strengths():
    diazepam = Medication.objects.get(generic_name="diazepam")
    assert (diazepam.drug_class, diazepam.half_life_group) == ("benzodiazepine", "long")
    assert sorted((s.form, f"{s.strength_mg.normalize():f}", s.scored) for s in diazepam.strengths.all()) == [
        ("oral_liquid", "1", False),
        ("tablet", "10", True),
        ("tablet", "2", True),
        ("tablet", "5", True),
    ]
    groups = dict(Medication.objects.values_list("generic_name", "half_life_group"))
    assert (groups["alprazolam"], groups["lorazepam"], groups["clonazepam"], groups["zolpidem"]) == (
        "short",
        "intermediate",
        "long",
        "short",
    )
    classes = dict(Medication.objects.values_list("generic_name", "drug_class"))
    assert (classes["oxycodone"], classes["lisdexamfetamine"], classes["modafinil"]) == ("opioid", "stimulant", "other")


@pytest.mark.parametrize(
    ("parent", "metabolite", "group"),
    [
        ((6, 12), None, "short"),
        ((4, 19), None, "short"),
        ((10, 14), None, "intermediate"),
        ((8, 40), None, "intermediate"),
        ((8, 41), None, "long"),
        ((5, 30), (36, 200), "long"),
        (None, None, ""),
    ],
)
def test_the_half_life_group_is_the_midpoint_of_the_longest_lived_active_species(parent, metabolite, group):
    assert half_life_group(parent, metabolite) == group


def test_any_staff_reads_the_catalogue_with_both_equivalence_tables(make_user, client_for):
    body = client_for(make_user(Role.BILLING)).get("/api/v1/medications/?drug_class=benzodiazepine&page_size=200")
    assert body.status_code == 200
    by_name = {m["generic_name"]: m for m in body.json()["results"]}
    assert by_name["alprazolam"]["diazepam_equivalents"] == {
        "ashton": {"low_mg": "0.500", "high_mg": "0.500"},
        "va_dod": {"low_mg": "1.000", "high_mg": "1.000"},
    }
    assert by_name["estazolam"]["diazepam_equivalents"]["ashton"] == {"low_mg": "1.000", "high_mg": "2.000"}
    assert by_name["bromazepam"]["diazepam_equivalents"]["va_dod"] is None
    assert "oxycodone" not in by_name


def test_the_catalogue_list_costs_the_same_queries_at_any_size(make_user, client_for):
    client = client_for(make_user(Role.NURSE))
    with CaptureQueriesContext(connection) as small:
        client.get("/api/v1/medications/?page_size=5")
    with CaptureQueriesContext(connection) as large:
        client.get("/api/v1/medications/?page_size=200")
    assert len(small) == len(large)


# --- prescribers ------------------------------------------------------------------------------


def test_clinical_staff_add_and_correct_an_outside_prescriber(client_for, doctor):
    client = client_for(doctor)
    created = client.post(
        "/api/v1/prescribers/",
        {"name": "Dr Ann Lee", "credentials": "MD", "npi": VALID_NPI, "fax": "+16175550100", "state": "ma"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert (created.json()["npi"], created.json()["state"], created.json()["internal"]) == (VALID_NPI, "MA", False)
    changed = client.patch(f"/api/v1/prescribers/{created.json()['id']}/", {"practice": "Lee Family"}, format="json")
    assert changed.status_code == 200
    assert Prescriber.objects.get(npi=VALID_NPI).practice == "Lee Family"


@pytest.mark.parametrize(("npi", "message"), [("123456789", "exactly 10 digits"), ("1234567890", "check digit")])
def test_a_bad_npi_is_a_400_that_says_what_is_wrong(client_for, doctor, npi, message):
    response = client_for(doctor).post("/api/v1/prescribers/", {"name": "Dr X", "npi": npi}, format="json")
    assert response.status_code == 400
    assert message in response.json()["extra"]["fields"]["npi"][0]
    assert not Prescriber.objects.filter(name="Dr X").exists()


def test_a_second_prescriber_with_the_same_npi_is_a_409_naming_the_first(client_for, doctor):
    first = PrescriberFactory.create(npi=VALID_NPI)
    response = client_for(doctor).post("/api/v1/prescribers/", {"name": "Dr Y", "npi": VALID_NPI}, format="json")
    assert response.status_code == 409
    assert response.json()["extra"]["prescriber"] == str(first.public_id)


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING])
def test_the_front_office_may_not_use_the_prescriber_list(make_user, client_for, role):
    client = client_for(make_user(role))
    assert client.get("/api/v1/prescribers/").status_code == 403
    assert client.post("/api/v1/prescribers/", {"name": "Dr Z"}, format="json").status_code == 403


def test_the_prescriber_endpoints_need_a_login(api_client):
    assert api_client.get("/api/v1/prescribers/").status_code == 401


# --- prescriptions ------------------------------------------------------------------------------


def test_it_records_a_prescription_matching_the_brand_and_deriving_the_daily_dose(client_for, doctor, patient):
    outside = PrescriberFactory.create()
    response = client_for(doctor).post("/api/v1/prescriptions/", rx_body(patient, outside), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["generic_name"], body["drug_class"], body["drug_name"]) == ("alprazolam", "benzodiazepine", "Xanax")
    assert (body["strength_mg"], body["daily_dose_mg"], body["daily_dose_derived"]) == ("0.500", "1.500", True)
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=body["id"], patient_id=patient.public_id
    ).exists()


def test_a_benzodiazepine_without_a_dose_or_strength_is_a_400(client_for, doctor, patient):
    body = rx_body(patient, PrescriberFactory.create(), strength="")
    response = client_for(doctor).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == 400
    assert "daily_dose_mg" in response.json()["extra"]["fields"]
    assert not Prescription.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"drug_name": "  "}, "drug_name"),
        ({"filled_on": "2026-10-31"}, "filled_on"),
        ({"days_supply": 0}, "days_supply"),
        ({"quantity": "-1"}, "quantity"),
        ({"written_on": "2026-11-24"}, "written_on"),
        ({"source": "pdmp_import"}, "source"),
        ({"source": "internal"}, "source"),
        ({"prescriber": "00000000-0000-0000-0000-000000000000"}, "prescriber"),
    ],
)
def test_bad_prescription_input_is_a_400_naming_the_field(client_for, doctor, patient, overrides, field):
    body = {**rx_body(patient, PrescriberFactory.create()), **overrides}
    response = client_for(doctor).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Prescription.objects.exists()


def test_a_correction_keeps_the_history_and_marking_entered_in_error_keeps_the_row(client_for, doctor, patient):
    client = client_for(doctor)
    rx_id = client.post("/api/v1/prescriptions/", rx_body(patient, PrescriberFactory.create()), format="json").json()[
        "id"
    ]
    patched = client.patch(f"/api/v1/prescriptions/{rx_id}/", {"quantity": "60"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["daily_dose_mg"] == "1.000"  # derived again from the new quantity
    marked = client.post(f"/api/v1/prescriptions/{rx_id}/entered-in-error/", {"reason": "wrong patient"}, format="json")
    assert marked.status_code == 200
    assert (marked.json()["entered_in_error"], marked.json()["entered_in_error_reason"]) == (True, "wrong patient")
    rx = Prescription.objects.get(public_id=rx_id)
    assert [h.quantity for h in rx.history.order_by("history_id")] == [
        Decimal("90.000"),
        Decimal("60.000"),
        Decimal("60.000"),
    ]
    assert client.patch(f"/api/v1/prescriptions/{rx_id}/", {"quantity": "30"}, format="json").status_code == 409
    again = client.post(f"/api/v1/prescriptions/{rx_id}/entered-in-error/", {"reason": "x"}, format="json")
    assert again.status_code == 409
    assert client.delete(f"/api/v1/prescriptions/{rx_id}/").status_code == 405
    live = client.get(f"/api/v1/prescriptions/?patient={patient.public_id}&entered_in_error=false").json()
    assert live["results"] == []


def test_a_patients_ledger_is_listed_and_every_row_read_is_audited(client_for, doctor, patient):
    for n in range(3):
        record(patient, doctor, written=days_ago(40 + n), drug="lorazepam")
    other = PatientFactory.create()
    put_on_care_team(other, doctor)
    record(other, doctor)
    client = client_for(doctor)
    rows = client.get(f"/api/v1/prescriptions/?patient={patient.public_id}").json()["results"]
    assert len(rows) == 3
    assert AuditEvent.objects.filter(action=AuditAction.LIST, patient_id=patient.public_id).count() == 3


def test_the_ledger_list_costs_the_same_queries_at_any_size(client_for, doctor, patient):
    client = client_for(doctor)
    record(patient, doctor)
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/prescriptions/")
    for n in range(4):
        record(patient, doctor, written=days_ago(100 + n), pharmacy=PharmacyFactory.create())
    with CaptureQueriesContext(connection) as five:
        assert len(client.get("/api/v1/prescriptions/").json()["results"]) == 5
    assert len(one) == len(five)


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING])
def test_the_front_office_gets_403_on_every_ledger_endpoint(make_user, client_for, doctor, patient, role):
    rx = record(patient, doctor)
    put_on_care_team(patient, desk := make_user(role))
    client = client_for(desk)
    for url in ("/api/v1/prescriptions/", "/api/v1/pdmp-imports/", "/api/v1/pdmp-checks/", "/api/v1/risk-flags/"):
        assert client.get(url).status_code == 403, url
    assert client.get(f"/api/v1/prescriptions/{rx.public_id}/").status_code == 403
    body = rx_body(patient, rx.prescriber)
    assert client.post("/api/v1/prescriptions/", body, format="json").status_code == 403
    assert client.post("/api/v1/pdmp-checks/", {"patient": str(patient.public_id)}, format="json").status_code == 403


def test_a_clinician_off_the_team_sees_nothing_until_they_break_the_glass(make_user, client_for, doctor, patient):
    rx = record(patient, doctor)
    outsider = make_user(Role.CLINICIAN)
    client = client_for(outsider)
    assert client.get("/api/v1/prescriptions/").json()["results"] == []
    assert client.get(f"/api/v1/prescriptions/{rx.public_id}/").status_code == 404
    assert client.post("/api/v1/prescriptions/", rx_body(patient, rx.prescriber), format="json").status_code == 404
    assert client.patch(f"/api/v1/prescriptions/{rx.public_id}/", {"quantity": "1"}, format="json").status_code == 404
    granted = client.post(f"/api/v1/patients/{patient.public_id}/break-glass/", {"reason": "covering tonight"})
    assert granted.status_code == 201
    assert BreakGlassGrant.objects.filter(user=outsider).exists()
    assert client.get(f"/api/v1/prescriptions/{rx.public_id}/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.READ, actor=outsider, object_id=str(rx.public_id)).exists()


@pytest.mark.parametrize("query", ["is_active=null", "internal=yes"])
def test_a_prescriber_filter_that_is_not_true_or_false_is_a_400(client_for, doctor, query):
    # Found by the schema fuzzer: django-filter's BooleanFilter ignored "null" and listed everyone.
    response = client_for(doctor).get(f"/api/v1/prescribers/?{query}")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {query.split("=")[0]}
