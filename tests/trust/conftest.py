"""One clinic for the whole trust suite, built once per module through the API itself.

Every persona of tests/trust/access_matrix.py gets a user and a real knox token; one patient
(on the care team of the clinician, prescriber and nurse personas) gets every kind of record a
detail route needs, each made by POSTing the same body the matrix later sends, so those bodies
are known to be valid. Each request of a test then runs in a savepoint that is rolled back, so
the order of the tests does not matter and a write (a logout, a revoke) changes nothing for
the next.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.roles import Role
from insurance.models import AlertKind, BillingAlert
from patients.measures import PHQ9
from scheduling.models import StaffTask, StaffTaskKind
from tapers import ciwa
from tapers.models import Prescriber
from tapers.pdmp import REQUIRED_COLUMNS
from tests.clinic.factories import LocationFactory, RoomFactory, StaffProfileFactory, UserFactory
from tests.conftest import FAST_PASSWORD_HASHERS
from tests.insurance.conftest import PAYER_CONSENT
from tests.patients.test_consents_api import CONSENT, DISCLOSURE
from tests.patients.test_intake import NO_RISK_ANSWERS
from tests.patients.test_referrals import REFERRAL
from tests.tapers.factories_plans import DIAZEPAM_20_MG, stock_all

# Monday 23 November 2026, 10:00 in New York, as the other suites.
NOW = "2026-11-23 15:00:00+00:00"
TODAY = date(2026, 11, 23)

# Who asks. The clinician, prescriber and nurse are on the patient's care team; the off-team
# clinician is not; the break-glass clinician is not either but holds a grant for the patient.
PERSONA_ROLES: dict[str, list[str]] = {
    "none": [],
    "clinic_admin": [Role.CLINIC_ADMIN],
    "admissions": [Role.ADMISSIONS],
    "billing": [Role.BILLING],
    "clinician": [Role.CLINICIAN],
    "clinician_off_team": [Role.CLINICIAN],
    "clinician_break_glass": [Role.CLINICIAN],
    "prescriber": [Role.PRESCRIBER],
    "prescriber_off_team": [Role.PRESCRIBER],
    "nurse": [Role.NURSE],
}
ON_TEAM = ("clinician", "prescriber", "nurse")

PDMP_CSV = (
    ",".join(REQUIRED_COLUMNS)
    + "\nALPRAZOLAM,0.5 MG,60,30,2026-11-01,11/02/2026,Jane Roe MD,1234567893,Main St Pharmacy,1679576722,RX1\n"
).encode()


@dataclass
class Clinic:
    users: dict[str, Any]
    tokens: dict[str, str]
    patient: Any
    # Route basename (or URL name, for routes on another record) -> the record's UUID.
    ids: dict[str, str] = field(default_factory=dict)
    # URL name -> extra URL keyword arguments.
    kwargs: dict[str, dict[str, str]] = field(default_factory=dict)
    # (URL name, method) -> the body the matrix sends; see bodies().
    bodies: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, persona: str) -> APIClient:
        client = APIClient()
        if persona != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[persona]}")
        return client


def _ok(response: Any, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), (response.status_code, response.content[:2000])
    return response.json()


def bodies(c: Clinic) -> dict[tuple[str, str], Any]:
    """A valid body for each write: the access decision of some routes comes after validation,
    so a body that fails validation would hide it."""
    p = str(c.patient.public_id) if c.patient is not None else ""
    i = defaultdict(str, c.ids)
    regimen = {"regimen": DIAZEPAM_20_MG, "start_date": "2026-11-23"}
    return {
        ("auth-token", "POST"): {"username": "nobody", "password": "wrong"},
        ("patient-list", "POST"): {
            "legal_first_name": "Rowan",
            "legal_last_name": "Adair",
            "date_of_birth": "1984-03-02",
            "time_zone": "America/New_York",
            "phone": "+16175550123",
            "reminder_channel": "sms",
        },
        ("patient-break-glass", "POST"): {"reason": "Covering the on-call shift tonight"},
        ("care-team-member-list", "POST"): {
            "patient": p,
            "member": i["staff:clinician_off_team"],
            "team_role": "other",
            "started_on": "2026-11-23",
        },
        ("care-team-member-end", "POST"): {"ended_on": "2026-11-23"},
        ("episode-list", "POST"): {"patient": p, "level": "iop", "admitted_on": "2026-11-23"},
        ("episode-transitions", "POST"): {
            "to_level": "outpatient",
            "effective_on": "2026-11-23",
            "reason": "Doing well",
        },
        ("episode-discharge", "POST"): {
            "discharged_on": "2026-11-23",
            "reason": "completed",
            "safety_plan": "Call or text 988 (Suicide & Crisis Lifeline) any time.",
        },
        ("consent-list", "POST"): {"patient": p, **CONSENT},
        ("disclosure-list", "POST"): {"patient": p, **DISCLOSURE},
        ("referral-list", "POST"): REFERRAL,
        ("intake-assessment-list", "POST"): {"patient": p, "assessed_on": "2026-11-23", **NO_RISK_ANSWERS},
        ("intake-assessment-decision", "POST"): {"level": "iop", "reason": "The team chose IOP after review"},
        ("measure-list", "POST"): {
            "patient": p,
            "instrument": "phq9",
            "answers": dict.fromkeys(PHQ9.items, 1),
            "administered_on": "2026-11-23",
        },
        ("track-list", "POST"): {
            "name": "IOP evening",
            "level": "iop",
            "location": i["location"],
            "facilitators": [i["staff:clinician"]],
            "capacity": 10,
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "starts_on": "2026-11-24",
            "start_time": "18:00",
            "duration_minutes": 180,
        },
        ("track-detail", "PUT"): {
            "name": "IOP morning",
            "level": "iop",
            "location": i["location"],
            "facilitators": [i["staff:clinician"]],
            "capacity": 12,
            "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,TH",
            "starts_on": "2026-11-23",
            "start_time": "09:00",
            "duration_minutes": 180,
        },
        ("session-list", "POST"): {
            "session_type": "individual_therapy",
            "patient": p,
            "staff": [i["staff:clinician"]],
            "location": i["location"],
            "starts_at": "2026-11-25T14:00:00-05:00",
            "modality": "video",
        },
        ("session-reschedule", "POST"): {"starts_at": "2026-11-26T14:00:00-05:00"},
        ("session-cancel", "POST"): {"reason": "Clinician unwell"},
        ("booking-list", "POST"): {"session": i["group-session"], "patient": p},
        ("booking-cancel", "POST"): {"cancelled_by": "patient", "reason": "Work"},
        ("booking-attendance", "POST"): {"attendance": "present"},
        ("enrollment-list", "POST"): {"track": i["track:other"], "patient": p},
        ("level-change-review-confirm", "POST"): {},
        ("opt-out-list", "POST"): {"patient": p, "channel": "sms", "opted_out": True},
        ("prescriber-list", "POST"): {"name": "Dr. Sam Outside", "state": "MA"},
        ("prescriber-detail", "PATCH"): {"practice": "Harbor Health"},
        ("prescription-list", "POST"): {
            "patient": p,
            "drug_name": "Xanax",
            "strength": "0.5 mg",
            "quantity": "90",
            "days_supply": 30,
            "written_on": "2026-11-01",
            "filled_on": "2026-11-02",
            "prescriber": i["prescriber"],
            "source": "self_report",
        },
        ("prescription-detail", "PATCH"): {"directions": "One tablet three times a day"},
        ("prescription-entered-in-error", "POST"): {"reason": "Duplicate of another entry"},
        ("pdmp-import-list", "POST"): "multipart",
        ("pdmp-check-list", "POST"): {"patient": p, "state": "MA", "result_summary": "No other prescribers"},
        ("risk-flag-acknowledge", "POST"): {"note": "Called both prescribers"},
        ("taper-plan-list", "POST"): {"patient": p, **regimen},
        ("taper-plan-preview", "POST"): regimen,
        ("taper-plan-versions", "POST"): {**regimen, "note": "Slower"},
        ("taper-plan-steps", "POST"): {
            "steps": [
                {"starts_on": "2026-11-23", "doses": DIAZEPAM_20_MG},
                {
                    "starts_on": "2026-12-07",
                    "doses": [
                        {"drug": "diazepam", "mg": "10", "time_of_day": "morning"},
                        {"drug": "diazepam", "mg": "8", "time_of_day": "bedtime"},
                    ],
                },
            ],
            "note": "By hand",
        },
        ("taper-plan-approve", "POST"): {"digest": i["digest"]},
        ("taper-plan-hold", "POST"): {"reason": "CIWA-B rising"},
        ("taper-plan-resume", "POST"): {"note": ""},
        ("taper-plan-stop", "POST"): {"reason": "Patient asked to stop"},
        ("taper-plan-complete", "POST"): {"note": ""},
        ("withdrawal-check-list", "POST"): {"patient": p, "items": {item.key: 0 for item in ciwa.ITEMS}, "pulse": 80},
        ("prescriber-of-record-list", "POST"): {
            "episode": i["episode"],
            "prescriber": i["prescriber"],
            "started_on": "2026-11-23",
            "notify": False,
        },
        ("communication-list", "POST"): {
            "patient": p,
            "prescriber": i["prescriber"],
            "direction": "outbound",
            "channel": "fax",
            "subject": "Taper step",
            "body": "9 mg a day",
            "information": ["medications"],
            "purpose": "care_coordination",
        },
        ("communication-record-response", "POST"): {"response": "Agreed"},
        ("payer-list", "POST"): {"name": "XYZ Health", "payer_id": "99999"},
        ("payer-detail", "PATCH"): {"phone": "+18005551313"},
        ("coverage-list", "POST"): {
            "patient": p,
            "payer": i["payer"],
            "member_id": "S123",
            "priority": 2,
            "effective_on": "2026-01-01",
        },
        ("coverage-detail", "PATCH"): {"plan_name": "Silver"},
        ("eligibility-check-list", "POST"): {"coverage": i["coverage"], "mode": "file"},
        ("eligibility-check-manual", "POST"): {"levels": {"iop": {"active": True}}, "payer_contact": "Jo at ABC"},
        ("eligibility-check-record-response", "POST"): {"x12": "ISA*not a 271~"},
        ("authorization-list", "POST"): {
            "coverage": i["coverage"],
            "level": "iop",
            "status": "requested",
            "starts_on": "2026-11-23",
            "ends_on": "2026-12-31",
            "unit": "day",
        },
        ("authorization-detail", "PATCH"): {"notes": "Called"},
        ("authorization-reviews", "POST"): {"review_type": "concurrent", "review_on": "2026-11-30"},
        ("billing-alert-resolve", "POST"): {"resolution": "Authorization requested"},
        ("payment-plan-list", "POST"): {
            "patient": p,
            "agreed_on": "2026-11-23",
            "total": "50.00",
            "instalments": [{"due_on": "2026-12-01", "amount": "50.00"}],
        },
        ("payment-plan-payments", "POST"): {"due_on": "2026-12-01", "amount": "50.00", "paid_on": "2026-11-23"},
    }


def send(c: Clinic, persona: str, method: str, path: str, name: str) -> Any:
    client = c.client(persona)
    body = c.bodies.get((name, method))
    if body == "multipart":
        data = {"patient": str(c.patient.public_id), "state": "MA", "file": SimpleUploadedFile("r.csv", PDMP_CSV)}
        return client.post(path, data, format="multipart")
    if method == "GET":
        return client.get(path)
    return getattr(client, method.lower())(path, body if body is not None else {}, format="json")


def _seed(c: Clinic) -> None:
    u = c.users
    desk, admin, billing = c.client("admissions"), c.client("clinic_admin"), c.client("billing")
    doc, clin = c.client("prescriber"), c.client("clinician")
    location = LocationFactory.create(name="Main office")
    room = RoomFactory.create(location=location, name="Room A", capacity=12)
    for persona in (
        "clinician",
        "clinician_off_team",
        "clinician_break_glass",
        "prescriber",
        "prescriber_off_team",
        "nurse",
    ):
        c.ids[f"staff:{persona}"] = str(
            StaffProfileFactory.create(user=u[persona], primary_location=location).public_id
        )
    Prescriber.objects.create(staff=u["prescriber"], name="Dr Staff", credentials="MD", npi="")
    Prescriber.objects.create(staff=u["prescriber_off_team"], name="Dr Elsewhere", credentials="MD", npi="")
    stock_all()
    from clinic.models import LevelOfCare
    from scheduling.models import SessionType
    from tapers.models import Medication

    c.ids["level-of-care"] = str(LevelOfCare.objects.get(code="iop").public_id)
    c.ids["session-type"] = str(SessionType.objects.get(code="group_therapy").public_id)
    c.ids["medication"] = str(Medication.objects.get(generic_name="diazepam").public_id)
    c.ids |= {"location": str(location.public_id), "room": str(room.public_id)}
    c.ids["staff"] = c.ids["staff:clinician"]

    p = _ok(desk.post("/api/v1/patients/", bodies(c)[("patient-list", "POST")], format="json"))
    from patients.models import Patient

    c.patient = Patient.objects.get(public_id=p["id"])
    c.ids["patient"] = p["id"]
    c.kwargs["disclosure-accounting"] = {"patient_id": p["id"]}
    pid = p["id"]
    for persona, team_role in (
        ("clinician", "primary_clinician"),
        ("prescriber", "prescriber_of_record"),
        ("nurse", "nurse"),
    ):
        body = {"patient": pid, "member": c.ids[f"staff:{persona}"], "team_role": team_role, "started_on": "2026-01-01"}
        c.ids["care-team-member"] = _ok(desk.post("/api/v1/care-team-members/", body, format="json"))["id"]
    _ok(
        c.client("clinician_break_glass").post(
            f"/api/v1/patients/{pid}/break-glass/", {"reason": "Covering the on-call shift tonight"}, format="json"
        )
    )
    # Ids the bodies need before the records exist.
    c.ids["prescriber"] = str(
        Prescriber.objects.create(name="Dr. Lee Park", practice="Riverside", fax="+16175550199").public_id
    )
    b = bodies(c)

    def make(client: APIClient, name: str, path: str, key: str | None = None) -> dict[str, Any]:
        data = _ok(client.post(path, b[(name, "POST")], format="json"))
        c.ids[key or name.removesuffix("-list")] = data["id"]
        return data

    make(desk, "consent-list", "/api/v1/consents/")
    make(desk, "disclosure-list", "/api/v1/disclosures/")
    make(desk, "referral-list", "/api/v1/referrals/")
    make(clin, "intake-assessment-list", "/api/v1/intake-assessments/")
    make(clin, "measure-list", "/api/v1/measures/")
    # Admitted to PHP on the 16th, stepped down to IOP on the 20th (so a discharge or another
    # change dated today comes after the current stay began).
    episode = _ok(
        desk.post("/api/v1/episodes/", {"patient": pid, "level": "php", "admitted_on": "2026-11-16"}, format="json")
    )
    c.ids["episode"] = episode["id"]
    step_down = {"to_level": "iop", "effective_on": "2026-11-20", "reason": "Stepping down"}
    _ok(clin.post(f"/api/v1/episodes/{c.ids['episode']}/transitions/", step_down, format="json"))
    track_body = b[("track-list", "POST")] | {
        "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,TH",
        "starts_on": "2026-11-23",
        "start_time": "09:00",
    }
    c.ids["track"] = _ok(admin.post("/api/v1/tracks/", track_body, format="json"))["track"]["id"]
    # The appointment the booking and session routes use; the matrix's own body books another time.
    appointment = b[("session-list", "POST")] | {"starts_at": "2026-11-24T14:00:00-05:00"}
    booking = _ok(desk.post("/api/v1/sessions/", appointment, format="json"))
    c.ids["booking"], c.ids["session"] = booking["id"], booking["session"]
    b = bodies(c)
    enrollment = _ok(desk.post("/api/v1/enrollments/", {"track": c.ids["track"], "patient": pid}, format="json"))
    c.ids["enrollment"] = enrollment["enrollment"]["id"]
    # A second track the patient is not in: the bodies that enrol or book them use it.
    other = _ok(
        admin.post("/api/v1/tracks/", track_body | {"name": "IOP evening", "start_time": "18:00"}, format="json")
    )
    c.ids["track"], c.ids["track:other"] = c.ids["track"], other["track"]["id"]
    from scheduling.models import Session

    c.ids["group-session"] = str(
        Session.objects.filter(track__public_id=other["track"]["id"], starts_at__gt=timezone.now())
        .order_by("starts_at")
        .values_list("public_id", flat=True)[0]
    )
    # The review is proposed on commit, which never comes inside this module's transaction.
    from clinic.models import LevelOfCare
    from scheduling.services.reviews import level_change_review_propose

    review = level_change_review_propose(
        episode_id=c.patient.episodes.get().pk,
        from_level_id=LevelOfCare.objects.get(code="php").pk,
        to_level_id=LevelOfCare.objects.get(code="iop").pk,
        effective_on=date(2026, 11, 20),
    )
    assert review is not None
    c.ids["level-change-review"] = str(review.public_id)
    c.ids["staff-task"] = str(
        StaffTask.objects.create(kind=StaffTaskKind.REPLY_TO_READ, patient=c.patient, detail="Replied").public_id
    )
    _ok(desk.post("/api/v1/opt-outs/", {"patient": pid, "channel": "email", "opted_out": True}, format="json"))
    feed = _ok(clin.post("/api/v1/calendar-feeds/", {}, format="json"))
    c.ids["calendar-feed-token"] = feed["id"]
    c.kwargs["calendar-feed"] = {"token": feed["url"].rsplit("/", 1)[1].removesuffix(".ics")}
    make(doc, "prescription-list", "/api/v1/prescriptions/")
    _ok(
        doc.post(
            "/api/v1/prescriptions/",
            b[("prescription-list", "POST")]
            | {
                "prescriber": str(Prescriber.objects.get(staff=u["prescriber"]).public_id),
                "drug_name": "Klonopin",
                "rx_number": "B2",
            },
            format="json",
        )
    )
    from tapers.models import RiskFlag

    c.ids["risk-flag"] = str(RiskFlag.objects.filter(patient=c.patient).values_list("public_id", flat=True).first())
    pdmp = _ok(
        doc.post(
            "/api/v1/pdmp-imports/",
            {"patient": pid, "state": "MA", "file": SimpleUploadedFile("r.csv", PDMP_CSV)},
            format="multipart",
        )
    )
    c.ids["pdmp-import"] = pdmp["id"]
    make(doc, "pdmp-check-list", "/api/v1/pdmp-checks/")
    make(doc, "taper-plan-list", "/api/v1/taper-plans/")
    versions = _ok(doc.get(f"/api/v1/taper-plans/{c.ids['taper-plan']}/versions/"))
    c.ids["digest"] = versions[0]["digest"]
    make(clin, "withdrawal-check-list", "/api/v1/withdrawal-checks/")
    b = bodies(c)
    # The staff prescriber is the prescriber of record; the matrix's body names the outside one.
    staff_prescriber = str(Prescriber.objects.get(staff=u["prescriber"]).public_id)
    por = b[("prescriber-of-record-list", "POST")] | {"prescriber": staff_prescriber}
    _ok(doc.post("/api/v1/prescribers-of-record/", por, format="json"))
    from tapers.models import PrescriberOfRecord

    c.ids["prescriber-of-record"] = str(
        PrescriberOfRecord.objects.get(episode__patient=c.patient, ended_on=None).public_id
    )
    make(doc, "communication-list", "/api/v1/communications/")
    payer = _ok(billing.post("/api/v1/payers/", {"name": "ABC Company", "payer_id": "842610001"}, format="json"))
    c.ids["payer"] = payer["id"]
    b = bodies(c)
    coverage = _ok(billing.post("/api/v1/coverages/", b[("coverage-list", "POST")] | {"priority": 1}, format="json"))
    c.ids["coverage"] = coverage["id"]
    b = bodies(c)
    payer_consent = b[("consent-list", "POST")] | PAYER_CONSENT | {"recipient_name": "ABC Company"}
    _ok(desk.post("/api/v1/consents/", payer_consent, format="json"))
    # With the clinic's NPI set the check builds its 270, which the raw route serves.
    with override_settings(ELIGIBILITY_PROVIDER_NPI="1234567893"):
        make(billing, "eligibility-check-list", "/api/v1/eligibility-checks/")
    make(billing, "authorization-list", "/api/v1/authorizations/")
    c.ids["billing-alert"] = str(
        BillingAlert.objects.create(
            kind=AlertKind.REVIEW_DUE, patient=c.patient, due_on=TODAY, message="Review due"
        ).public_id
    )
    make(billing, "payment-plan-list", "/api/v1/payment-plans/")
    c.kwargs["eligibility-check-raw"] = {"kind": "270"}


@pytest.fixture(scope="module")
def clinic(django_db_setup: None, django_db_blocker: Any) -> Iterator[Clinic]:
    """The module's clinic, in a transaction rolled back when the module ends."""
    with (
        time_machine.travel(NOW, tick=False),
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS),
        transaction.atomic(),
    ):
        users = {name: UserFactory.create(roles=roles) for name, roles in PERSONA_ROLES.items()}
        tokens = {name: AuthToken.objects.create(user=user)[1] for name, user in users.items()}
        c = Clinic(users=users, tokens=tokens, patient=None)
        _seed(c)
        c.bodies = bodies(c)
        yield c
        transaction.set_rollback(True)


@pytest.fixture
def in_savepoint(db: None) -> Callable[[Callable[[], Any]], Any]:
    """Run a request in a savepoint and roll it back: nothing it writes outlives it."""

    def run(call: Callable[[], Any]) -> Any:
        with transaction.atomic():
            result = call()
            transaction.set_rollback(True)
        return result

    return run
