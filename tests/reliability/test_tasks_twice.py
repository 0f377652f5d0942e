"""Every Celery task is safe to run twice (issue 9, "Faults"): tasks are acknowledged late
(CELERY_TASK_ACKS_LATE), so a worker killed during one has it delivered again, and beat may put a
periodic one on the queue twice around a restart. Each task here is called directly, twice, on
the test database; the second run must do no work the first did.

Tested that way elsewhere, so not again here: send_reminders (test_reminder_faults.py, with real
workers), alert_care_team (tests/tapers/test_checks.py), send_communication
(tests/tapers/test_coordination_api.py), eligibility_check_send (tests/insurance/
test_eligibility_api.py), delete_expired_tokens (tests/clinic/test_auth.py),
generate_track_sessions (tests/scheduling/test_tracks.py), risk_flags_refresh_all
(tests/tapers/test_ledger_risk_flags.py), pdmp_recheck_remind's service
(tests/tapers/test_ledger_pdmp.py) and refresh_billing_alerts' service
(tests/insurance/test_authorizations.py)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from clinic.models import LicenceExpiryNotice
from clinic.roles import Role
from clinic.tasks import licence_expiry_notify
from insurance.models import Authorization
from insurance.tasks import refresh_authorization_usage
from scheduling.models import Reminder
from scheduling.tasks import dispatch_reminders, send_reminders
from tapers.models import StepStatus, TaperStep
from tapers.tasks.plans import advance_taper_steps
from tests.clinic.factories import LocationFactory
from tests.insurance.test_authorizations import attend, authorize
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.scheduling import conftest as scheduling_fixtures
from tests.tapers.factories_plans import active, make_prescriber, stock_all

pytestmark = pytest.mark.django_db

# The scheduling tests' frozen Monday 23 November 2026, autouse here too: the day the scheduling
# and insurance fixtures are written from.
clock = scheduling_fixtures.clock


def test_the_licence_notice_goes_once_a_day_however_often_the_task_runs(make_user, clock):
    make_user(Role.CLINIC_ADMIN, email="director@example.org")
    LocationFactory.create(name="North", state_license_expires=timezone.localdate() + timedelta(days=5))
    assert licence_expiry_notify() == 1
    assert licence_expiry_notify() == 0  # redelivered: the day's notice went already
    assert len(mail.outbox) == 1
    assert LicenceExpiryNotice.objects.get().items == 1
    clock.move_to(timezone.now() + timedelta(days=1))
    assert licence_expiry_notify() == 1  # tomorrow's is a new notice
    assert len(mail.outbox) == 2


def test_a_licence_notice_that_failed_to_send_is_not_marked_sent(make_user, clock):
    make_user(Role.CLINIC_ADMIN, email="director@example.org")
    LocationFactory.create(state_license_expires=timezone.localdate() + timedelta(days=5))
    with (
        mock.patch("clinic.services.send_mail", side_effect=OSError("mail server down")),
        pytest.raises(OSError, match="mail server down"),
    ):
        licence_expiry_notify()  # the task's autoretry takes it from here
    assert not LicenceExpiryNotice.objects.exists()
    assert licence_expiry_notify() == 1
    assert len(mail.outbox) == 1


def test_the_dispatcher_run_twice_enqueues_each_due_reminder_once(
    due_reminders, clock, django_capture_on_commit_callbacks
):
    """The second run finds the rows claimed (their lease has not run out) and enqueues nothing."""
    ids = due_reminders(3)
    with mock.patch.object(send_reminders, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        assert dispatch_reminders() == 3
        assert dispatch_reminders() == 0
    assert [sorted(pk for pk in call.args[0]) for call in delay.call_args_list] == [sorted(ids)]  # one chunk
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"claimed"}


def test_the_taper_steps_advance_once_when_the_daily_task_runs_twice(make_user, clock):
    stock_all()
    prescriber = make_prescriber()
    patient = PatientFactory.create()
    put_on_care_team(patient, prescriber, "prescriber_of_record")
    plan = active(patient, prescriber)
    clock.move_to("2026-12-07 15:00:00+00:00")
    assert advance_taper_steps() == 1
    steps = list(TaperStep.objects.filter(plan=plan).order_by("number").values_list("number", "status"))
    assert advance_taper_steps() == 0
    assert list(TaperStep.objects.filter(plan=plan).order_by("number").values_list("number", "status")) == steps
    assert [number for number, status in steps if status == StepStatus.CURRENT] == [2]


def test_the_usage_recount_run_twice_stores_the_same_counts(iop_patient, billing, therapist, clock):
    """A recount writes what it counted, never adds to what is stored."""
    authorization = authorize(iop_patient, billing)
    clock.move_to("2026-11-26 20:00:00+00:00")
    attend(iop_patient, therapist, "2026-11-25", "present")
    fields = ("units_used", "units_scheduled", "runs_out_on")
    assert refresh_authorization_usage() == 1
    first = Authorization.objects.values(*fields).get(pk=authorization.pk)
    assert refresh_authorization_usage() == 1
    assert Authorization.objects.values(*fields).get(pk=authorization.pk) == first
    assert first["units_used"] == 1
