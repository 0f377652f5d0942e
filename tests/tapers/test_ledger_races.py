"""Ledger writes racing on real concurrent connections: the patient lock serialises them, so
no dispensing is imported twice and no flag is inserted twice."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from tapers.models import Medication, MedicationStrength, PdmpImport, Prescription, RiskFlag
from tapers.pdmp import REQUIRED_COLUMNS
from tapers.services import ledger
from tapers.services.ledger_catalogue import catalogue_rows
from tests.tapers.factories import PrescriberFactory
from tests.tapers.factories_ledger import days_ago, medication
from tests.utils import race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("today")]

FILE = "\n".join(
    [
        ",".join(REQUIRED_COLUMNS),
        "ALPRAZOLAM,0.5 MG,60,30,2026-11-01,2026-11-02,Jane Roe MD,1234567893,Main St,1679576722,RX1",
        "CLONAZEPAM,0.5 MG,30,30,2026-11-05,2026-11-05,Bob Poe DO,1245319599,Elm Pharmacy,,RX7",
    ]
).encode()


@pytest.fixture
def team(doctor, patient):
    return doctor, patient


@pytest.mark.django_db(transaction=True)
def test_the_catalogue_comes_back_after_a_flush():
    # Every transactional test ends in a flush; the tests after it on that database read the
    # migration's catalogue (flush sends post_migrate without the migrated state).
    call_command("flush", interactive=False, verbosity=0)
    assert set(Medication.objects.values_list("generic_name", flat=True)) == {row[0] for row in catalogue_rows()}
    assert MedicationStrength.objects.filter(medication__generic_name="alprazolam").exists()


@pytest.mark.parametrize("attempt", range(3))
def test_the_same_file_imported_twice_at_once_adds_each_dispensing_once(team, attempt):
    doctor, patient = team

    def load():
        ledger.pdmp_import_create(patient=patient, data=FILE, file_name="r.csv", by=doctor)

    assert race(load, load) == ["ok", "ok"]
    assert Prescription.objects.filter(patient=patient).count() == 2
    assert sorted(PdmpImport.objects.values_list("rows_added", flat=True)) == [0, 2]
    assert RiskFlag.objects.filter(patient=patient, code="overlapping_benzodiazepine_supply").count() == 1


def test_two_prescriptions_recorded_at_once_raise_each_flag_once(team):
    doctor, patient = team
    outside = PrescriberFactory.create()

    def add(drug):
        return lambda: ledger.prescription_create(
            patient=patient,
            by=doctor,
            source="outside_records",
            medication=medication(drug),
            daily_dose_mg=Decimal("20"),
            quantity=Decimal(30),
            days_supply=30,
            written_on=days_ago(5),
            prescriber=outside,
        )

    assert race(add("diazepam"), add("oxycodone")) == ["ok", "ok"]
    codes = sorted(RiskFlag.objects.filter(patient=patient, cleared_at__isnull=True).values_list("code", flat=True))
    assert codes == ["benzodiazepine_opioid_overlap", "high_total_daily_dze"]
