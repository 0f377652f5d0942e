"""Insurance writes racing on real concurrent connections: the database's exclusion and unique
constraints decide, and the loser gets a 409 (Conflict), never a 500 or a second row."""

from datetime import date

import pytest

from clinic.models import LevelOfCare
from insurance.models import Authorization, BillingAlert, Coverage
from insurance.services.authorizations import authorization_create, authorization_needed_open
from insurance.services.coverage import coverage_create
from tests.patients.factories import PatientFactory
from tests.utils import race

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("attempt", range(3))
def test_two_primaries_recorded_at_once_make_one(billing, payer, attempt):
    patient = PatientFactory.create()

    def add(member_id):
        return lambda: coverage_create(
            patient=patient, by=billing, payer=payer, member_id=member_id, effective_on=date(2026, 1, 1)
        )

    assert race(add("A1"), add("B2")) == ["Conflict", "ok"]
    assert Coverage.objects.filter(patient=patient).count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_approvals_for_the_same_days_recorded_at_once_make_one(billing, payer, attempt):
    patient = PatientFactory.create()
    coverage = coverage_create(patient=patient, by=billing, payer=payer, member_id="A1", effective_on=date(2026, 1, 1))
    iop = LevelOfCare.objects.get(code="iop")

    def approve(number):
        return lambda: authorization_create(
            coverage=coverage,
            level=iop,
            by=billing,
            number=number,
            status="approved",
            starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 31),
            unit="day",
            units_authorized=10,
        )

    assert race(approve("X1"), approve("X2")) == ["Conflict", "ok"]
    assert Authorization.objects.filter(coverage=coverage).count() == 1


def test_the_same_item_opened_twice_at_once_is_one_item(billing, payer):
    patient = PatientFactory.create()
    coverage_create(patient=patient, by=billing, payer=payer, member_id="A1", effective_on=date(2026, 1, 1))
    php = LevelOfCare.objects.get(code="php")

    def open_item():
        authorization_needed_open(patient=patient, level=php, effective_on=date(2026, 12, 1))

    assert race(open_item, open_item) == ["ok", "ok"]
    assert BillingAlert.objects.filter(patient=patient, resolved_at__isnull=True).count() == 1
