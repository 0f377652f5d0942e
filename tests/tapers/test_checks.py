"""Withdrawal checks: scoring, the hold rule, the care team's alert, and the patient's
single-use check links."""

from __future__ import annotations

import smtplib
import socket
from datetime import date
from unittest import mock

import pytest
from django.core import mail
from django.core.cache import cache

from clinic.models import AuditEvent
from clinic.roles import Role
from tapers import ciwa
from tapers.models import CheckLink, PlanHold, PlanStatus, StepStatus, WithdrawalCheck
from tapers.services import checks as check_services
from tapers.tasks import plans as tasks
from tests.tapers.factories_plans import active, approved

pytestmark = pytest.mark.usefixtures("clock", "catalogue")

URL = "/api/v1/withdrawal-checks/"


@pytest.fixture(autouse=True)
def _locmem_email_and_fresh_throttle(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STAFF_LINK_BASE_URL = "https://clinic.example.org"
    cache.clear()  # the check-link throttle counts in the cache


def scores(total: int) -> dict[str, int]:
    """20 item scores adding up to `total` (0-80)."""
    values = [4] * (total // 4) + ([total % 4] if total % 4 else [])
    values += [0] * (20 - len(values))
    return {item.key: value for item, value in zip(ciwa.ITEMS, values, strict=True)}


def record(client, patient, plan=None, total=0, **vitals):
    data = {"patient": str(patient.public_id), "items": scores(total), **vitals}
    if plan is not None:
        data["plan"] = str(plan.public_id)
    return client.post(URL, data, format="json")


# --- recording and scoring -----------------------------------------------------------------------


def test_a_nurse_records_a_mild_check_and_nothing_is_held(client_for, nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    response = record(client_for(nurse), team_patient, plan, total=12, systolic=128, diastolic=82, pulse=76)
    assert response.status_code == 201, response.json()
    check = response.json()
    assert (check["total"], check["band"], check["hold"], check["via"]) == (12, "mild", False, "staff")
    assert check["recorded_by"] == nurse.username
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


def test_an_item_outside_0_to_4_is_a_400_naming_the_item(client_for, nurse, team_patient):
    items = scores(10) | {"tense": 5}
    response = client_for(nurse).post(URL, {"patient": str(team_patient.public_id), "items": items}, format="json")
    assert response.status_code == 400
    error = response.json()
    assert "item 3 (tense) must be a whole number from 0 to 4, not 5" in error["message"]
    assert error["extra"]["fields"]["items"] == {"tense": "item 3 (tense) must be a whole number from 0 to 4, not 5"}
    assert not WithdrawalCheck.objects.exists()


def test_a_missing_item_is_named_too(client_for, nurse, team_patient):
    items = scores(10)
    del items["sweating"]
    response = client_for(nurse).post(URL, {"patient": str(team_patient.public_id), "items": items}, format="json")
    assert response.status_code == 400
    assert "item 20 (sweating" in response.json()["message"]


def test_a_check_off_the_care_team_is_a_404_and_front_office_a_403(client_for, make_user, team_patient):
    assert record(client_for(make_user(Role.NURSE)), team_patient).status_code == 404
    assert record(client_for(make_user(Role.ADMISSIONS)), team_patient).status_code == 403
    assert client_for(make_user(Role.BILLING)).get(URL).status_code == 403


# --- the hold rule -------------------------------------------------------------------------------


def test_it_holds_the_next_step_when_ciwa_b_is_moderate_and_alerts_on_commit(
    client_for, nurse, prescriber, team_patient, django_capture_on_commit_callbacks
):
    plan = active(team_patient, prescriber)
    with mock.patch.object(tasks.alert_care_team, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = record(client_for(nurse), team_patient, plan, total=25)
        delay.assert_not_called()  # not before the check and the hold are committed
        assert len(callbacks) == 1
        callbacks[0]()
    assert response.status_code == 201, response.json()
    check = WithdrawalCheck.objects.get()
    delay.assert_called_once_with(check.pk)  # the id only
    assert check.hold
    assert not check.consider_higher_level_of_care

    plan.refresh_from_db()
    assert plan.status == PlanStatus.HELD
    hold = PlanHold.objects.get(plan=plan)
    assert hold.withdrawal_check == check
    assert hold.step is not None
    assert hold.step.number == 2
    assert hold.step.status == StepStatus.HELD
    shown = client_for(prescriber).get(f"/api/v1/taper-plans/{plan.public_id}/").json()
    assert shown["open_hold"]["why"][0].startswith("CIWA-B 25 (moderate) is at or over the plan's hold threshold")
    assert shown["open_hold"]["withdrawal_check"] == str(check.public_id)


def test_it_holds_on_blood_pressure_or_pulse_over_the_limits(client_for, nurse, prescriber, team_patient, settings):
    settings.TAPER_HOLD_MAX_PULSE = 110
    plan = active(team_patient, prescriber)
    response = record(client_for(nurse), team_patient, plan, total=3, systolic=150, diastolic=90, pulse=111)
    assert response.json()["hold"] is True
    assert response.json()["reasons"] == ["Pulse 111 a minute is over 110 (clinic default): hold the next taper step."]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.HELD


def test_a_plan_with_a_higher_hold_band_holds_only_from_it(client_for, nurse, prescriber, team_patient, settings):
    plan = active(team_patient, prescriber, hold_band="severe")
    settings.TAPER_ESCALATE_BAND = "very_severe"
    assert record(client_for(nurse), team_patient, plan, total=40).json()["hold"] is False
    assert record(client_for(nurse), team_patient, plan, total=41).json()["hold"] is True


def test_severe_also_prompts_a_higher_level_of_care(client_for, nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    check = record(client_for(nurse), team_patient, plan, total=45).json()
    assert check["hold"] is True
    assert check["consider_higher_level_of_care"] is True
    assert "consider a higher level of care" in check["reasons"][-1]


def test_a_second_check_while_held_keeps_the_one_hold(client_for, nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    record(client_for(nurse), team_patient, plan, total=30)
    record(client_for(nurse), team_patient, plan, total=35)
    assert PlanHold.objects.filter(plan=plan).count() == 1
    assert WithdrawalCheck.objects.filter(plan=plan, hold=True).count() == 2


def test_the_check_list_costs_the_same_queries_at_any_size(client_for, nurse, prescriber, team_patient):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plan = active(team_patient, prescriber)
    api = client_for(nurse)

    def listed(n):
        for total in range(n):
            record(api, team_patient, plan, total=total)
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"{URL}?patient__public_id={team_patient.public_id}")
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    one, four = listed(1), listed(3)
    assert (one[1], four[1]) == (1, 4)
    assert four[0] == one[0]


# --- the alert -----------------------------------------------------------------------------------


def test_the_alert_emails_the_care_team_without_name_drug_or_score(nurse, prescriber, clinician, team_patient):
    plan = active(team_patient, prescriber)
    check = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)

    assert tasks.alert_care_team(check.pk) == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in (prescriber, nurse, clinician))
    message = mail.outbox[0]
    assert message.subject == "A withdrawal check needs review (consider a higher level of care)"
    link = f"https://clinic.example.org/api/v1/withdrawal-checks/{check.public_id}/"
    assert link in message.body
    # The link is a random UUID that may hold "47" by chance; the score is looked for everywhere else.
    text = message.subject + message.body.replace(link, "")
    for revealing in (team_patient.legal_first_name, team_patient.legal_last_name, team_patient.mrn, "diazepam", "47"):
        assert revealing not in text
    assert "severe" not in text

    # Safe to run twice: the second run sends nothing.
    assert tasks.alert_care_team(check.pk) == 0
    assert len(mail.outbox) == 3
    assert tasks.alert_care_team(987654) == 0  # a check that is gone


def test_a_refused_mailbox_fails_the_alert_and_the_retry_emails_only_who_it_missed(
    nurse, prescriber, clinician, team_patient, fake_smtp
):
    """Each member's email goes on its own, over real SMTP: when the server refuses the first
    mailbox, the others still get theirs in the same run, the check stays unalerted, and the
    task's retry emails only the one it missed."""
    plan = active(team_patient, prescriber)
    check = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)
    team = sorted(user.email for user in (nurse, prescriber, clinician))  # the order they are sent in
    fake_smtp.refused.add(team[0])

    with pytest.raises(smtplib.SMTPRecipientsRefused):  # the task's autoretry_for retries it
        tasks.alert_care_team(check.pk)
    assert fake_smtp.recipients() == team[1:]
    check.refresh_from_db()
    assert (check.alerted_at, check.alerted_to) == (None, team[1:])

    fake_smtp.refused.clear()  # the mailbox is back
    assert tasks.alert_care_team(check.pk) == 1
    assert fake_smtp.recipients() == [*team[1:], team[0]]
    check.refresh_from_db()
    assert check.alerted_at is not None
    assert tasks.alert_care_team(check.pk) == 0
    assert len(fake_smtp.delivered) == 3
    assert f"/api/v1/withdrawal-checks/{check.public_id}/" in fake_smtp.delivered[0][1]


def test_a_connection_dropped_part_way_keeps_who_was_reached_and_the_retry_emails_the_rest(
    nurse, prescriber, clinician, team_patient, fake_smtp
):
    plan = active(team_patient, prescriber)
    check = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)
    team = sorted(user.email for user in (nurse, prescriber, clinician))
    fake_smtp.drop_after = 1  # the server goes away after the first message

    with pytest.raises(smtplib.SMTPServerDisconnected):
        tasks.alert_care_team(check.pk)
    check.refresh_from_db()
    assert (fake_smtp.recipients(), check.alerted_at, check.alerted_to) == (team[:1], None, team[:1])

    fake_smtp.drop_after = None  # back
    assert tasks.alert_care_team(check.pk) == 2
    assert fake_smtp.recipients() == team
    check.refresh_from_db()
    assert check.alerted_at is not None


def test_an_address_django_refuses_fails_only_its_own_email_and_is_never_retried_into_a_resend(
    nurse, prescriber, clinician, team_patient, make_user, fake_smtp
):
    from datetime import date

    from patients.models import CareTeamMember

    broken = make_user(Role.CLINICIAN, email="a-first\n@example.org")  # sorts first; a header may not hold a newline
    CareTeamMember.objects.create(patient=team_patient, member=broken, team_role="other", started_on=date(2026, 1, 1))
    plan = active(team_patient, prescriber)
    check = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)
    reachable = sorted(user.email for user in (nurse, prescriber, clinician))

    for _ in range(2):  # the owed-work requeue runs it again
        with pytest.raises(ValueError, match="newlines"):
            tasks.alert_care_team(check.pk)
    assert fake_smtp.recipients() == reachable  # each once
    check.refresh_from_db()
    assert (check.alerted_at, check.alerted_to) == (None, reachable)


def test_a_mail_server_that_does_not_answer_fails_the_alert_and_records_nothing(
    nurse, prescriber, team_patient, settings
):
    plan = active(team_patient, prescriber)
    check = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)
    with socket.socket() as closed:  # a free port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5

    with pytest.raises(ConnectionRefusedError):
        tasks.alert_care_team(check.pk)
    check.refresh_from_db()
    assert (check.alerted_at, check.alerted_to) == (None, [])


def test_an_alert_never_enqueued_is_enqueued_again_once_owed(
    nurse, prescriber, clinician, team_patient, clock, published
):
    from datetime import timedelta

    from clinic.tasks import requeue_owed_work

    plan = active(team_patient, prescriber)
    # Recorded inside the test's transaction, which never commits: its on-commit enqueue never
    # happens, as when the broker was down at the commit.
    check = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)
    calm = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(4), by=nurse)
    assert check.hold
    assert not calm.hold

    clock.shift(timedelta(minutes=14))
    assert requeue_owed_work() == 0  # may still be on its first way through the queue
    clock.shift(timedelta(minutes=2))  # REQUEUE_AFTER_MINUTES = 15
    assert requeue_owed_work() == 1
    assert [(m["task"], m["args"]) for m in published] == [("tapers.tasks.plans.alert_care_team", [check.pk])]

    assert tasks.alert_care_team(check.pk) == 3  # the worker takes it
    assert requeue_owed_work() == 0
    assert tasks.alert_care_team(check.pk) == 0  # taken twice: sent once
    assert len(mail.outbox) == 3


def test_an_alert_that_never_went_is_not_enqueued_again_after_a_day(nurse, prescriber, team_patient, clock, published):
    from datetime import timedelta

    from clinic.tasks import requeue_owed_work

    plan = active(team_patient, prescriber)
    check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)
    # Owed from REQUEUE_AFTER_MINUTES (15) after it was recorded until a day after that.
    clock.shift(timedelta(days=1, minutes=15, seconds=-1))
    assert requeue_owed_work() == 1  # its task kept failing: tried again while it is still news
    clock.shift(timedelta(seconds=2))
    assert requeue_owed_work() == 0  # a day on, no longer sent every few minutes


def test_the_alert_goes_to_the_care_team_of_the_day_only(nurse, prescriber, make_user, team_patient):
    from datetime import date

    from patients.models import CareTeamMember

    joining, gone = make_user(Role.CLINICIAN), make_user(Role.CLINICIAN)
    CareTeamMember.objects.create(patient=team_patient, member=joining, team_role="other", started_on=date(2026, 12, 1))
    CareTeamMember.objects.create(
        patient=team_patient, member=gone, team_role="other", started_on=date(2026, 1, 1), ended_on=date(2026, 11, 1)
    )
    plan = active(team_patient, prescriber)
    check = check_services.withdrawal_check_record(patient=team_patient, plan=plan, items=scores(47), by=nurse)
    tasks.alert_care_team(check.pk)
    recipients = {m.to[0] for m in mail.outbox}
    assert joining.email not in recipients
    assert gone.email not in recipients
    assert nurse.email in recipients


# --- check links ---------------------------------------------------------------------------------


def make_link(client_for, user, plan):
    response = client_for(user).post(f"/api/v1/taper-plans/{plan.public_id}/check-links/")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_link_is_shown_once_and_only_its_hash_is_stored(client_for, nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    made = make_link(client_for, nurse, plan)
    token = made["url"].rstrip("/").rsplit("/", 1)[1]
    assert made["url"] == f"http://testserver/api/v1/check-links/{token}/"
    link = CheckLink.objects.get()
    assert token not in link.token_hash
    assert link.token_hash == check_services.token_hash(token)
    assert made["expires_at"] == "2026-11-24T10:00:00-05:00"  # TAPER_CHECK_LINK_HOURS = 24 later


def test_the_form_carries_no_patient_data(api_client, client_for, nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    url = make_link(client_for, nurse, plan)["url"]
    response = api_client.get(url)
    assert response.status_code == 200
    form = response.json()
    assert set(form) == {"expires_at", "items", "scale"}
    assert len(form["items"]) == 20
    text = response.content.decode()
    for revealing in (team_patient.legal_last_name, team_patient.mrn, str(team_patient.public_id), "diazepam"):
        assert revealing not in text


def test_the_patient_records_a_check_once_through_the_link(api_client, client_for, nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    url = make_link(client_for, nurse, plan)["url"]
    data = {"items": scores(30), "systolic": 130, "diastolic": 85, "pulse": 88, "symptoms": "Shaky in the mornings"}
    first = api_client.post(url, data, format="json")
    assert first.status_code == 201, first.json()
    assert "care team" in first.json()["message"]
    check = WithdrawalCheck.objects.get()
    assert (check.via, check.recorded_by, check.total, check.hold) == ("patient_link", None, 30, True)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.HELD
    assert PlanHold.objects.get().held_by is None
    assert AuditEvent.objects.filter(object_id=str(check.public_id), via="patient_link", actor=None).exists()

    again = api_client.post(url, data, format="json")
    assert again.status_code == 410
    assert again.json()["message"] == "This check link has already been used. Ask your care team for a new one."
    assert api_client.get(url).status_code == 410
    assert WithdrawalCheck.objects.count() == 1


def test_bad_answers_leave_the_link_unused(api_client, client_for, nurse, prescriber, team_patient):
    plan = active(team_patient, prescriber)
    url = make_link(client_for, nurse, plan)["url"]
    bad = api_client.post(url, {"items": scores(10) | {"weak": 9}}, format="json")
    assert bad.status_code == 400
    assert "item 13 (weak)" in bad.json()["message"]
    assert api_client.post(url, {"items": scores(10)}, format="json").status_code == 201


def test_an_expired_link_is_410_and_a_wrong_token_404(api_client, client_for, nurse, prescriber, team_patient, clock):
    plan = approved(team_patient, prescriber)
    url = make_link(client_for, nurse, plan)["url"]
    clock.move_to("2026-11-24 15:00:01+00:00")
    expired = api_client.post(url, {"items": scores(1)}, format="json")
    assert expired.status_code == 410
    assert "expired" in expired.json()["message"]
    assert api_client.get("/api/v1/check-links/not-a-real-token/").status_code == 404
    assert (
        api_client.post("/api/v1/check-links/not-a-real-token/", {"items": scores(1)}, format="json").status_code == 404
    )


def test_links_are_for_plans_in_force(client_for, nurse, prescriber, team_patient):
    from tests.tapers.factories_plans import draft

    plan = draft(team_patient, prescriber)
    response = client_for(nurse).post(f"/api/v1/taper-plans/{plan.public_id}/check-links/")
    assert response.status_code == 409


def test_the_link_endpoints_are_throttled(api_client, settings):
    settings.TAPER_CHECK_LINK_THROTTLE = "3/min"
    codes = [api_client.get("/api/v1/check-links/guess/").status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]


def test_the_daily_task_advances_due_steps(prescriber, team_patient, clock):
    plan = active(team_patient, prescriber)
    clock.move_to("2026-12-07 15:00:00+00:00")
    assert tasks.advance_taper_steps() == 1
    assert plan.steps.get(status=StepStatus.CURRENT).starts_on == date(2026, 12, 7)
