from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine

from clinic.models import LevelOfCare
from clinic.roles import Role
from patients.services.consents import consent_record
from patients.services.episodes import episode_admit
from scheduling.models import SessionType
from scheduling.services.appointments import appointment_create
from scheduling.services.tracks import track_create
from tests.clinic.factories import LocationFactory, RoomFactory, StaffProfileFactory
from tests.patients.factories import PatientFactory, put_on_care_team

# Monday 23 November 2026, 10:00 in New York.
NOW = "2026-11-23 15:00:00+00:00"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def location(db):
    return LocationFactory.create(name="Main office")


@pytest.fixture
def room(location):
    return RoomFactory.create(location=location, name="Room A", capacity=12)


@pytest.fixture
def room_b(location):
    return RoomFactory.create(location=location, name="Room B", capacity=12)


@pytest.fixture
def staff_of(make_user, location):
    def make(role=Role.CLINICIAN):
        return StaffProfileFactory.create(user=make_user(role), primary_location=location)

    return make


@pytest.fixture
def therapist(staff_of):
    return staff_of(Role.CLINICIAN)


@pytest.fixture
def admitted(make_user, therapist):
    """Admit a new patient at a level, with `therapist` on the care team."""

    def make(level="iop"):
        patient = PatientFactory.create()
        put_on_care_team(patient, therapist.user)
        episode_admit(
            patient=patient,
            level=LevelOfCare.objects.get(code=level),
            admitted_on=date(2026, 11, 23),
            reason="",
            by=therapist.user,
        )
        return patient

    return make


@pytest.fixture
def desk(make_user, client_for):
    return client_for(make_user(Role.ADMISSIONS))


@pytest.fixture
def make_track(make_user, location, room, therapist):
    """Set up a group track through the service (sessions generated); returns (track, report)."""
    admin_user = make_user(Role.CLINIC_ADMIN)

    def make(level="iop", name="IOP morning skills", rrule="FREQ=WEEKLY;BYDAY=MO,WE,TH", capacity=12, **fields):
        return track_create(
            by=admin_user,
            facilitators=fields.pop("facilitators", [therapist.user]),
            name=name,
            level=LevelOfCare.objects.get(code=level),
            location=location,
            session_type=SessionType.objects.get(code="group_therapy"),
            room=fields.pop("room", room),
            capacity=capacity,
            rrule=rrule,
            starts_on=fields.pop("starts_on", date(2026, 11, 23)),
            start_time=fields.pop("start_time", time(9)),
            duration_minutes=fields.pop("duration_minutes", 180),
            **fields,
        )

    return make


@pytest.fixture
def family_consent(make_user):
    """Record a consent for family involvement naming `name`, covering the treatment plan."""
    desk = make_user(Role.ADMISSIONS)

    def record(patient, name, *, expires_on):
        return consent_record(
            patient=patient,
            by=desk,
            recipient_type="family_member",
            recipient_name=name,
            information=["treatment_plan"],
            amount_and_kind="Progress in treatment",
            purposes=["family_involvement"],
            effective_on="2026-11-01",
            expires_on=expires_on,
            signed_at="2026-11-01T10:00:00-05:00",
            signature_method="wet",
        )

    return record


# --- reminders ---------------------------------------------------------------------------------

TOMORROW_10 = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def scheduler(make_user):
    return make_user(Role.ADMISSIONS)


@pytest.fixture
def texted(admitted):
    """An admitted patient who asked for text reminders."""

    def make(**fields):
        patient = admitted("iop")
        patient.phone = fields.pop("phone", "+16175550101")
        patient.reminder_channel = fields.pop("channel", "sms")
        for name, value in fields.items():
            setattr(patient, name, value)
        patient.save()
        return patient

    return make


@pytest.fixture
def book(scheduler, location, therapist):
    """Book an individual video appointment (its reminders planned by the booking service)."""

    def make(patient, starts_at=TOMORROW_10, code="individual_therapy"):
        return appointment_create(
            session_type=SessionType.objects.get(code=code),
            patient=patient,
            staff=[therapist.user],
            location=location,
            starts_at=starts_at,
            modality="video",
            by=scheduler,
        )

    return make
