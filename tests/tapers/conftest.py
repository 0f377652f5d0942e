"""Fixtures shared by the tapers tests; factories and plain helpers stay in the factories modules."""

import pytest
import time_machine

from clinic.roles import Role
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_plans import NOW, make_prescriber, stock_all


@pytest.fixture
def today():
    """Monday 23 November 2026, 10:00 in New York, frozen: the tapers tests' dates are written from it."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def clock(fast_password_hashing, today):
    return today


# --- the ledger's and coordination's people ----------------------------------------------------


@pytest.fixture
def doctor(make_user):
    """A prescriber on staff, without a catalogue prescriber row of their own."""
    return make_user(Role.PRESCRIBER)


@pytest.fixture
def patient(doctor):
    """A patient on the `doctor` fixture's care team (replaces the root `patient` of the clinician)."""
    patient = PatientFactory.create()
    put_on_care_team(patient, doctor)
    return patient


# --- plans and checks --------------------------------------------------------------------------


@pytest.fixture
def catalogue(db):
    stock_all()


@pytest.fixture
def prescriber(db):
    """A prescriber on staff, linked to a catalogue prescriber row (plans are approved by them)."""
    return make_prescriber()


@pytest.fixture
def nurse(make_user):
    return make_user(Role.NURSE)


@pytest.fixture
def team_patient(db, prescriber, nurse, clinician):
    """A patient whose care team is the prescriber, the nurse and the clinician fixtures."""
    patient = PatientFactory.create()
    put_on_care_team(patient, prescriber, "prescriber_of_record")
    put_on_care_team(patient, nurse, "nurse")
    put_on_care_team(patient, clinician, "primary_clinician")
    return patient
