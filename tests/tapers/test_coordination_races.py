"""Coordination under concurrency, on real separate database connections: two people setting
the prescriber of record at once, and a consent revoked while a letter is being released."""

from datetime import date
from decimal import Decimal

import pytest

from clinic.roles import Role
from patients.models import Consent, Disclosure
from patients.services.consents import consent_revoke
from tapers.models import Communication, PrescriberOfRecord, Prescription
from tapers.services import coordination
from tests.tapers.factories_coordination import EpisodeFactory, OutsidePrescriberFactory, consent_for, fax_letter
from tests.utils import race

pytestmark = pytest.mark.usefixtures("today")


@pytest.fixture
def team(make_user, doctor, patient):
    return doctor, make_user(Role.ADMISSIONS), patient


@pytest.mark.django_db(transaction=True)
def test_two_changes_at_once_leave_one_current_prescriber_of_record(team):
    prescriber, _, patient = team
    episode = EpisodeFactory.create(patient=patient)
    first, second = OutsidePrescriberFactory.create(), OutsidePrescriberFactory.create()

    def set_to(who):
        return lambda: coordination.prescriber_of_record_set(episode=episode, prescriber=who, by=prescriber)

    assert race(set_to(first), set_to(second)) == ["ok", "ok"]
    rows = list(PrescriberOfRecord.objects.filter(episode=episode).order_by("id"))
    assert len(rows) == 2
    assert [row.ended_on for row in rows] == [date(2026, 11, 23), None]
    assert {row.prescriber for row in rows} == {first, second}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_a_revocation_racing_a_release_never_leaves_a_disclosure_after_it(team, attempt):
    prescriber, desk, patient = team
    outside = OutsidePrescriberFactory.create(name="Lee Park")
    consent = consent_for(patient, "Lee Park", by=prescriber)
    letter = fax_letter(patient, outside, by=prescriber)
    outcomes = race(
        lambda: coordination.communication_send(communication=letter, by=prescriber),
        lambda: consent_revoke(consent=consent, by=desk),
    )
    assert outcomes in (["ok", "ok"], ["Forbidden", "ok"])
    letter.refresh_from_db()
    consent = Consent.objects.get(pk=consent.pk)
    assert consent.revoked_at is not None
    if outcomes == ["ok", "ok"]:
        # The release took the consent's lock first: the disclosure is before the revocation.
        disclosure = Disclosure.objects.get()
        assert letter.status == "to_send_by_staff"
        assert disclosure.disclosed_at <= consent.revoked_at
    else:
        assert letter.status == "draft"
        assert not Disclosure.objects.exists()


@pytest.mark.django_db
def test_prescribers_on_the_ledger_are_told_of_a_change_but_not_rows_entered_in_error(team):
    prescriber, _, patient = team
    episode = EpisodeFactory.create(patient=patient)
    on_ledger = OutsidePrescriberFactory.create(name="Lee Park")
    in_error = OutsidePrescriberFactory.create(name="Sam Ortiz")
    consent_for(patient, "Lee Park", by=prescriber)
    consent_for(patient, "Sam Ortiz", by=prescriber)
    for who, error_at in ((on_ledger, None), (in_error, "2026-11-20T12:00:00Z")):
        Prescription.objects.create(
            patient=patient,
            drug_name="alprazolam",
            daily_dose_mg=Decimal("1"),
            quantity=Decimal("30"),
            days_supply=30,
            written_on=date(2026, 11, 1),
            prescriber=who,
            source="self_report",
            recorded_by=prescriber,
            entered_in_error_at=error_at,
            entered_in_error_by=prescriber if error_at else None,
        )
    change = coordination.prescriber_of_record_set(
        episode=episode, prescriber=OutsidePrescriberFactory.create(), by=prescriber
    )
    assert [outcome.prescriber for outcome in change.notified] == [on_ledger]
    assert change.not_notified == []
    assert not Communication.objects.filter(prescriber=in_error).exists()
