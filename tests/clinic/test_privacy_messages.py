"""No patient data where it does not belong: what goes on the Celery queue is ids only, and a
reminder text says nothing of the care. The whole-run checks of logs, task messages and texts
live in tests/privacy.py; these tests pin its detector and drive the code paths that enqueue."""

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from clinic import messaging
from clinic.models import LevelOfCare
from clinic.roles import Role
from insurance.models import Coverage, EligibilityCheck, Payer
from insurance.services.coverage import coverage_create
from patients.models import Patient, PatientContact, Referral
from patients.services.consents import consent_record
from patients.services.episodes import episode_admit
from scheduling.models import Reminder, ReminderPolicy, SessionType
from scheduling.reminder_content import LONGEST_VALUES, SMS_MAX_CHARACTERS, render, revealing_words_in
from scheduling.services.appointments import appointment_create
from scheduling.services.reminders import reminder_send, reminder_values, reminders_claim
from scheduling.session_types import FAMILY, ONE_TO_ONE, SESSION_TYPES
from scheduling.tasks import dispatch_reminders, generate_track_sessions
from tests import privacy
from tests.clinic.factories import LocationFactory, StaffProfileFactory
from tests.fakes.clearinghouse import clearinghouse_fake_fixture  # noqa: F401  (the fixture)
from tests.insurance.conftest import PAYER_CONSENT
from tests.patients.factories import PatientFactory, put_on_care_team

NY = ZoneInfo("America/New_York")
NOW = "2026-11-23 15:00:00+00:00"  # Monday 23 November 2026, 10:00 in New York
TOMORROW_10 = datetime(2026, 11, 24, 10, 0, tzinfo=NY)

# The words the trust issue names, on top of the app's own list (REVEALING_WORDS): a text
# with any of them tells whoever sees the phone what kind of care this is.
NAMED_WORDS = frozenset(
    {
        "benzodiazepine", "diazepam", "alprazolam", "clonazepam", "lorazepam", "taper", "withdrawal",
        "detox", "addiction", "substance", "recovery", "rehab", "iop", "php", "intensive outpatient",
        "partial hospitalization", "psychiatry", "therapy", "treatment",
    }
)  # fmt: skip


def revealing(body: str, extra: frozenset[str] = frozenset()) -> list[str]:
    # The app's matcher, with the words added whether or not the app's list has them.
    return revealing_words_in(body, NAMED_WORDS | extra)


# --- the detector the whole-run checks use -----------------------------------------------------


@pytest.fixture
def known() -> privacy.PatientData:
    data = privacy.PatientData()
    patient = Patient(
        mrn="MRN0004242",
        legal_first_name="Okonkwo-Ade",
        legal_last_name="Quillfeather",
        preferred_name="Ann",
        date_of_birth=date(1971, 3, 9),
        phone="+16175550142",
        email="oq71@example.org",
    )
    privacy.index_instance(data, patient)
    return data


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("sending to Quillfeather", "patient name"),
        ("QUILLFEATHER*OKONKWO~", "patient name"),  # as an X12 segment writes it
        ("name=okonkwo-ade", "patient name"),
        ("patient MRN0004242 booked", "MRN"),
        ("born 1971-03-09", "date of birth"),
        ("born 03/09/1971", "date of birth"),
        ("born 3/9/1971", "date of birth"),
        ("DMG*D8*19710309~", "date of birth"),
        ("to=+16175550142", "patient phone"),
        ("to (617) 555-0142", "patient phone"),
        ("to 617.555.0142", "patient phone"),
        ("to +1 617 555 0142", "patient phone"),
        ("mail to OQ71@example.org", "patient email"),
    ],
)
def test_it_finds_each_kind_of_patient_data_as_people_write_it(known, text, kind):
    assert {found for found, _ in known.find(text)} == {kind}


@pytest.mark.parametrize(
    "text",
    [
        "reminder 4242 sent",  # an id that shares digits with the MRN
        "Ann called",  # a preferred name too short to tell from a word
        "check 1971 of 0309",
        "sms sent by twilio: sid=SM6175550143 status=queued",
        "booked for 2026-03-09",
    ],
)
def test_it_does_not_flag_ids_short_names_or_other_dates(known, text):
    assert known.find(text) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (17, None),
        (None, None),
        ("3f1c0a52-8d1e-4f7e-9a55-0c3b6f7e1d20", None),
        ("http", None),
        ([1, 2, 3], None),
        ("Quillfeather", "holds patient name"),
        (6175550142, "holds patient phone"),
        ({"to": "+16175550142"}, "holds patient phone"),
        ("Your visit on Tuesday", "is not an id"),
        (2.5, "is not an id"),
    ],
)
def test_a_task_argument_is_an_id_or_a_code_and_nothing_else(known, value, problem):
    problems = privacy.task_argument_problems(value, known)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


def test_an_sms_that_names_the_care_or_the_patient_is_refused(known):
    assert privacy.sms_problems("Appointments: see you Tue at 9 a.m.", known) == []
    assert privacy.sms_problems("Your IOP group is at 9", known) == ["reveals the kind of care (iop)"]
    assert privacy.sms_problems("Hi Quillfeather, see you at 9", known) == ["holds patient name 'Quillfeather'"]


def test_names_and_ids_that_are_common_words_are_not_looked_for():
    # Tests call patients "Before" and give member ids like "FIRST"; a library logging
    # "glyphs before" or "added first" has leaked nothing.
    data = privacy.PatientData()
    privacy.index_instance(data, Patient(mrn="MRN0000001", legal_first_name="Before", legal_last_name="Okafor"))
    privacy.index_instance(data, Coverage(member_id="FIRST", subscriber_first_name="", subscriber_last_name=""))
    assert data.find("Added first four glyphs, 64 glyphs before") == []
    assert data.find("Okafor") == [("patient name", "Okafor")]


def test_a_row_saved_with_the_strings_it_was_given_is_indexed_too():
    data = privacy.PatientData()
    referral = Referral(first_name="Xanthippe", last_name="Ruiz", date_of_birth="1990-02-03", phone="+16175550199")
    privacy.index_instance(data, referral)
    assert data.find("to (617) 555-0199 on 02/03/1990 for Xanthippe") == [
        ("referral name", "Xanthippe"),
        ("referral date of birth", "02/03/1990"),
        ("referral phone", "(617) 555-0199"),
    ]


@pytest.mark.django_db
def test_the_run_indexes_every_patient_it_saves():
    # The plugin's post_save receiver: a patient saved in this test is known to the log check.
    patient = PatientFactory.create(legal_last_name="Zembrowski")
    assert ("patient name", "Zembrowski") in privacy.STATE.everyone.find("a Zembrowski line")
    assert ("MRN", patient.mrn) in privacy.STATE.everyone.find(f"row {patient.mrn}")


@pytest.mark.django_db
def test_a_patients_name_in_a_log_line_or_a_task_message_is_a_finding(published):
    # What makes the plugin fail a test: its handler is on the app's loggers (at DEBUG) and its
    # receiver on every published task. Taken here, so this test itself does not fail.
    from tapers.tasks.plans import alert_care_team

    PatientFactory.create(legal_last_name="Zembrowski")
    logging.getLogger("scheduling.services.reminders").debug("sending to %s", "Zembrowski")
    alert_care_team.apply_async(("Zembrowski",))
    findings = privacy.STATE.take()
    assert [(f.where, f.source) for f in findings] == [
        ("log", "scheduling.services.reminders DEBUG"),
        ("task", "tapers.tasks.plans.alert_care_team"),
    ]
    assert all("Zembrowski" in f.problem for f in findings)
    assert "2 place(s) where patient data went where it must not" in privacy.report(findings)


# --- people and places (made here rather than imported: the scheduling and insurance
# fixture modules freeze the clock for every test of a module that imports them) ---------------


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def site(db):
    return LocationFactory.create(name="Main office")


@pytest.fixture
def desk(make_user):
    return make_user(Role.ADMISSIONS)


@pytest.fixture
def lead(make_user, site):
    """A new member of staff of the given role, working from the site."""

    def make(role: str = Role.CLINICIAN) -> Any:
        return StaffProfileFactory.create(user=make_user(role), primary_location=site).user

    return make


@pytest.fixture
def texted(lead):
    """An admitted patient who asked for text reminders."""

    def make(**fields: Any) -> Patient:
        clinician = lead(Role.CLINICIAN)
        patient = PatientFactory.create(reminder_channel="sms", **fields)
        put_on_care_team(patient, clinician)
        iop = LevelOfCare.objects.get(code="iop")
        episode_admit(patient=patient, level=iop, admitted_on=date(2026, 11, 23), reason="", by=clinician)
        return patient

    return make


@pytest.fixture
def book(lead, site, desk):
    """Book a video appointment with a new lead of the type's first role (reminders planned)."""
    leads = {code: roles[0] for code, _, _, _, _, roles in SESSION_TYPES}

    def make(patient: Patient, *, starts_at: datetime, code: str = "individual_therapy", **fields: Any) -> Any:
        return appointment_create(
            session_type=SessionType.objects.get(code=code),
            patient=patient,
            staff=[lead(leads[code])],
            location=site,
            starts_at=starts_at,
            modality="video",
            by=desk,
            **fields,
        )

    return make


def consent_for(patient: Patient, *, by: Any, **fields: Any) -> Any:
    defaults = {
        "effective_on": "2026-11-01",
        "expires_on": "2027-11-01",
        "signed_at": "2026-11-01T10:00:00-05:00",
        "signature_method": "wet",
    }
    return consent_record(patient=patient, by=by, **(defaults | fields))


# --- what the queue carries ----------------------------------------------------------------------


def patient_values(patient: Patient) -> list[str]:
    values = [patient.legal_first_name, patient.legal_last_name, patient.mrn, patient.date_of_birth.isoformat()]
    values += [patient.phone.as_e164 if patient.phone else "", patient.email]
    return [value for value in values if value]


@pytest.mark.django_db
def test_the_reminder_dispatcher_enqueues_reminder_ids_only(
    texted, book, clock, published, django_capture_on_commit_callbacks
):
    patients = [texted(phone=f"+1617555{index:04d}", email=f"pat{index}@example.org") for index in range(3)]
    for index, patient in enumerate(patients):
        book(patient, starts_at=TOMORROW_10 + timedelta(hours=index))
    clock.move_to("2026-11-23 20:00:00+00:00")  # every 24 h reminder is due
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_reminders() == 3
    due = set(Reminder.objects.filter(offset_minutes=1440).values_list("pk", flat=True))
    assert [m["task"] for m in published] == ["scheduling.tasks.send_reminders"]  # one chunk of ids
    assert [sorted(m["args"][0]) for m in published] == [sorted(due)]
    assert all(m["kwargs"] == {} for m in published)  # ids, nothing else: no patient value can be there


@pytest.mark.django_db
def test_an_eligibility_check_over_http_enqueues_the_check_id_only(
    make_user, client_for, desk, clock, clearinghouse_fake, settings, published, django_capture_on_commit_callbacks
):
    settings.ELIGIBILITY_PROVIDER_NAME = "Bone and Joint Clinic"
    settings.ELIGIBILITY_PROVIDER_NPI = "1467857193"
    options = clearinghouse_fake.backend_options()
    settings.CLEARINGHOUSE_URL = options["url"]
    settings.CLEARINGHOUSE_USERNAME = options["username"]
    settings.CLEARINGHOUSE_PASSWORD = options["password"]
    billing = make_user(Role.BILLING)
    payer = Payer.objects.create(name="ABC Company", payer_id="842610001", phone="+18005551212")
    patient = PatientFactory.create(phone="+16175550177", email="elig@example.org")
    consent_for(patient, by=desk, recipient_name=payer.name, **PAYER_CONSENT)
    coverage = coverage_create(
        patient=patient, by=billing, payer=payer, member_id="XQZ884412", effective_on=date(2026, 1, 1)
    )
    billing_client = client_for(billing)
    with django_capture_on_commit_callbacks(execute=True):
        response = billing_client.post(
            "/api/v1/eligibility-checks/", {"coverage": str(coverage.public_id), "mode": "http"}, format="json"
        )
    assert response.status_code == 201, response.json()
    check = EligibilityCheck.objects.get(public_id=response.json()["id"])
    assert [(m["task"], m["args"], m["kwargs"]) for m in published] == [
        ("insurance.tasks.eligibility_check_send", [check.pk], {})
    ]


def test_a_periodic_task_goes_with_no_arguments(published):
    generate_track_sessions.delay()
    assert [(m["task"], m["args"], m["kwargs"]) for m in published] == [
        ("scheduling.tasks.generate_track_sessions", [], {})
    ]


# --- what a reminder text says -----------------------------------------------------------------

US_ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico",
]  # fmt: skip


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    # Hypothesis takes naive bounds and puts each value on the given zone.
    starts_at=st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=datetime(2036, 12, 31),  # noqa: DTZ001
        timezones=st.just(NY),
    ),
    zone=st.sampled_from(US_ZONES),
    language=st.sampled_from(["en", "es", "en-us", "es-mx", "fr", "pt-br", "zh-hans", ""]),
)
def test_no_reminder_text_reveals_the_care_in_any_language_zone_or_date(starts_at, zone, language):
    """The text _deliver sends, for any appointment, on any patient's clock, in any language:
    no program, drug or diagnosis word, nothing about the patient, and within one SMS for the
    languages the policy measures its longest date and time in."""
    policy = ReminderPolicy()  # the shipped wording
    patient = Patient(
        legal_first_name="Quillfeather", legal_last_name="Zembrowski", time_zone=ZoneInfo(zone),
        preferred_language=language,
    )  # fmt: skip
    values = reminder_values(policy, starts_at, patient)
    body = render(policy.sms_template, values)
    assert revealing(body) == []
    assert "Quillfeather" not in body
    assert "Zembrowski" not in body
    if language.split("-")[0] in ("en", "es", ""):
        assert len(values["date"]) <= len(LONGEST_VALUES["date"]), values["date"]
        assert len(values["time"]) <= len(LONGEST_VALUES["time"]), values["time"]
        assert len(body) <= SMS_MAX_CHARACTERS


@pytest.mark.django_db
@pytest.mark.usefixtures("locmem_sms")
def test_every_kind_of_appointment_is_reminded_in_words_that_reveal_nothing(texted, book, desk, clock):
    """Sent through the real pipeline for each one-to-one session type (their names say
    "Psychiatry", "therapy"...), in English and Spanish, on three clocks."""
    zones = ["America/New_York", "America/Chicago", "America/Denver"]
    patients: list[Patient] = []
    for index, code in enumerate(sorted(ONE_TO_ONE)):
        for language in ("en", "es"):
            patient = texted(
                phone=f"+1617555{len(patients) + 200:04d}",
                preferred_language=language,
                time_zone=ZoneInfo(zones[len(patients) % len(zones)]),
            )
            contacts = []
            if code == FAMILY:
                contacts.append(
                    PatientContact.objects.create(
                        patient=patient, name="Dana Okafor", relationship="sibling", phone="+16175550311"
                    )
                )
                consent_for(
                    patient,
                    by=desk,
                    recipient_type="family_member",
                    recipient_name="Dana Okafor",
                    information=["treatment_plan"],
                    amount_and_kind="Progress in treatment",
                    purposes=["family_involvement"],
                )
            book(patient, starts_at=TOMORROW_10 + timedelta(hours=index), code=code, family_contacts=contacts)
            patients.append(patient)
    clock.move_to("2026-11-23 22:00:00+00:00")  # 17:00 New York: every 24 h reminder is due
    assert [reminder_send(pk).status for pk in reminders_claim()] == ["sent"] * len(patients)
    assert len(messaging.outbox) == len(patients)
    # Whatever the session and the level of care are called must not show either.
    names = {name.lower() for name in SessionType.objects.values_list("name", flat=True)}
    names |= {name.lower() for name in LevelOfCare.objects.values_list("name", flat=True)}
    for message in messaging.outbox:
        assert revealing(message.body, frozenset(names)) == [], message.body
        for value in (v for patient in patients for v in patient_values(patient)):
            assert value not in message.body
