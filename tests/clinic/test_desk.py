"""The desk's start page (/admin/): what is waiting, counted for the user, each a link to the
list that holds it."""

import html
import re
from datetime import date

import pytest
from django.utils import timezone

from clinic.roles import Role
from insurance.models import AlertKind, BillingAlert
from patients.models import Referral
from scheduling.models import StaffTask, StaffTaskKind
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db


def panels(client) -> dict[str, tuple[int, str]]:
    response = client.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(
        r'<th scope="row"[^>]*><a href="([^"]+)">([^<]+)</a></th>\s*<td[^>]*><a [^>]*class="desk-count">(\d+)</a>', page
    )
    return {html.unescape(title): (int(count), html.unescape(url)) for url, title, count in rows}


@pytest.fixture
def desk_user(client, make_user):
    client.force_login(make_user(Role.ADMISSIONS))
    return client


def test_the_desk_counts_what_is_waiting_and_links_to_it(desk_user):
    for status in ("new", "contacted", "declined"):
        Referral.objects.create(
            source="physician", received_at=timezone.now(), reason="Taper", first_name="A", last_name="B", status=status
        )
    patient = PatientFactory.create()
    StaffTask.objects.create(kind=StaffTaskKind.REMINDER_FAILED, patient=patient, detail="Invalid number")
    BillingAlert.objects.create(
        kind=AlertKind.REVIEW_DUE, patient=patient, due_on=date(2026, 12, 1), message="Review due"
    )
    BillingAlert.objects.create(
        kind=AlertKind.AUTHORIZATION_NEEDED, patient=patient, due_on=date(2026, 12, 1), message="Needed"
    )
    seen = panels(desk_user)
    assert seen["Referrals waiting"][0] == 2
    assert seen["Failed reminders"][0] == 1
    assert seen["Authorizations running out or due for review"][0] == 1
    assert seen["Authorizations needed"][0] == 1
    assert seen["Eligibility checks pending"][0] == 0
    assert "Today's intakes" in seen
    assert "Under their program hours" in seen
    # Each link opens the list that holds what was counted.
    referrals = desk_user.get(seen["Referrals waiting"][1])
    assert referrals.status_code == 200
    assert referrals.context["cl"].result_count == 2
    alerts = desk_user.get(seen["Authorizations needed"][1])
    assert alerts.context["cl"].result_count == 1
    failed = desk_user.get(seen["Failed reminders"][1])
    assert failed.context["cl"].result_count == 1


def test_a_clinician_sees_only_their_care_teams_patients_counted(client, make_user):
    clinician = make_user(Role.CLINICIAN)
    mine, theirs = PatientFactory.create(), PatientFactory.create()
    put_on_care_team(mine, clinician)
    for patient in (mine, theirs):
        StaffTask.objects.create(kind=StaffTaskKind.REMINDER_FAILED, patient=patient, detail="Invalid number")
    client.force_login(clinician)
    seen = panels(client)
    assert "Referrals waiting" not in seen  # not theirs to work
    assert "Authorizations needed" not in seen
    if "Failed reminders" in seen:
        assert seen["Failed reminders"][0] == 1


def test_billing_sees_the_billing_queue_and_not_the_referrals(client, make_user):
    client.force_login(make_user(Role.BILLING))
    seen = panels(client)
    assert "Authorizations running out or due for review" in seen
    assert "Referrals waiting" not in seen
