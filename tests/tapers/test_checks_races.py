"""Single use and one plan in force, on real concurrent connections: the database decides."""

from __future__ import annotations

import pytest

from tapers import ciwa
from tapers.models import PlanStatus, TaperPlan, WithdrawalCheck
from tapers.services import checks as check_services
from tapers.services import plans as services
from tests.tapers.factories_plans import active, draft
from tests.utils import race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clock", "catalogue")]


def test_a_check_link_posted_twice_at_once_records_one_check(nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    token = check_services.check_link_create(plan=plan, by=nurse).token
    items = {item.key: 1 for item in ciwa.ITEMS}

    def submit():
        return check_services.check_link_submit(token=token, items=items)

    assert race(submit, submit) == ["Gone", "ok"]
    assert WithdrawalCheck.objects.count() == 1


def test_two_plans_of_one_patient_approved_at_once_leave_one_in_force(prescriber, team_patient):
    first, second = draft(team_patient, prescriber), draft(team_patient, prescriber)

    def approve(plan):
        digest = plan.versions.get().digest
        return lambda: services.taper_plan_approve(plan=plan, digest=digest, by=prescriber)

    assert race(approve(first), approve(second)) == ["Conflict", "ok"]
    assert TaperPlan.objects.filter(status=PlanStatus.APPROVED).count() == 1
