"""Patients' text replies and Twilio's delivery reports, through the signed webhooks."""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client

from clinic.messaging import twilio_signature
from clinic.models import AuditEvent, LevelOfCare
from clinic.roles import Role
from patients.services.episodes import episode_admit
from scheduling.models import (
    Booking,
    InboundMessage,
    OptOut,
    Reminder,
    ReminderPolicy,
    ReminderStatus,
    SessionType,
    StaffTask,
    StaffTaskKind,
)
from scheduling.reminder_content import SMS_MAX_CHARACTERS, template_problems
from scheduling.services.appointments import appointment_create
from scheduling.services.bookings import booking_cancel
from scheduling.services.reminders import opt_out_set, reminders_plan
from scheduling.services.replies import Action, all_reply_texts, normalise, reply_handle
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.utils import race

# Until clinic/urls.py mounts the webhooks at /webhooks/twilio/, this module's own URLconf
# does (the project's, plus them); once it does, this marker can go.
pytestmark = pytest.mark.django_db

TOKEN = "test-twilio-auth-token"
PHONE = "+16175550123"
OTHER_PHONE = "+16175550999"
SMS_URL = "/webhooks/twilio/sms/"
STATUS_URL = "/webhooks/twilio/status/"
HELP_PHONE = "+1 617-555-0100"
TOMORROW_10 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York
NEXT_WEEK_10 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)

STOP_TEXT = "Appointments: You are unsubscribed and will receive no more messages. Reply START to resume."


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_WEBHOOK_BASE_URL = ""
    return settings


@pytest.fixture
def policy(db):
    policy = ReminderPolicy.current()
    policy.help_phone = HELP_PHONE
    policy.save()
    return policy


@pytest.fixture
def twilio():
    # CSRF enforced, as in production: the webhooks must not depend on a token Twilio lacks.
    return Client(enforce_csrf_checks=True)


def signed_post(client, url, params, *, token=TOKEN, signed_as=None):
    signature = twilio_signature(signed_as or f"http://testserver{url}", params, token)
    return client.post(
        url,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


_sids = iter(range(1, 10_000))


def text(client, body, *, sid=None, from_=PHONE):
    return signed_post(client, SMS_URL, {"MessageSid": sid or f"SM{next(_sids):032d}", "From": from_, "Body": body})


def status(client, sid, message_status, error_code=None):
    params = {"MessageSid": sid, "MessageStatus": message_status}
    if error_code:
        params["ErrorCode"] = error_code
    return signed_post(client, STATUS_URL, params)


def message_of(response):
    """The text of the TwiML answer, or None for an empty <Response/>."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    body = response.content.decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    if body.endswith("<Response/>"):
        return None
    assert body.count("<Message>") == 1
    return body.split("<Message>")[1].split("</Message>")[0].replace("&amp;", "&")


@pytest.fixture
def texter(make_user, therapist):
    """A patient admitted to IOP who gets reminders by text at `phone`."""

    def make(phone=PHONE):
        patient = PatientFactory.create(phone=phone, reminder_channel="sms")
        put_on_care_team(patient, therapist.user)
        episode_admit(
            patient=patient,
            level=LevelOfCare.objects.get(code="iop"),
            admitted_on=datetime(2026, 11, 23, tzinfo=UTC).date(),
            reason="",
            by=therapist.user,
        )
        return patient

    return make


@pytest.fixture
def book(make_user, therapist, location, room, policy):
    """Book an individual appointment (its reminders planned by the booking service)."""
    desk_user = make_user(Role.ADMISSIONS)

    def make(patient, starts_at=TOMORROW_10):
        return appointment_create(
            session_type=SessionType.objects.get(code="individual_therapy"),
            patient=patient,
            staff=[therapist.user],
            location=location,
            room=room,
            starts_at=starts_at,
            by=desk_user,
        )

    return make


def mark_sent(booking, *, sid, minutes_ago=1):
    """The booking's first pending reminder, as the send task leaves it."""
    reminder = Reminder.objects.filter(booking=booking, status=ReminderStatus.PENDING).order_by("due_at")[0]
    reminder.status = ReminderStatus.SENT
    reminder.sent_at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC) - timedelta(minutes=minutes_ago)
    reminder.provider_message_id = sid
    reminder.provider_status = "queued"
    reminder.save()
    return reminder


def statuses(booking):
    return sorted(Reminder.objects.filter(booking=booking).values_list("status", flat=True))


# --- normalising and keywords ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "normalised"),
    [
        (" Stop. ", "stop"),
        ("opt   out", "opt out"),
        ("OPT-OUT", "opt out"),
        ("Opt_Out!", "opt out"),
        ("C!", "c"),
        ("\tHelp\n", "help"),
        ("\uff33\uff34\uff2f\uff30", "stop"),  # full-width letters
        ("Stop texting me 🙏", "stop texting me"),
        ("", ""),
    ],
)
def test_it_normalises_case_space_and_punctuation(body, normalised):
    assert normalise(body) == normalised


@pytest.mark.parametrize(
    ("body", "action"),
    [
        ("c", Action.CONFIRMED),
        (" C. ", Action.CONFIRMED),
        ("Confirm", Action.CONFIRMED),
        ("r", Action.RESCHEDULE),
        ("R!", Action.RESCHEDULE),
        ("reschedule", Action.RESCHEDULE),
        (" stop ", Action.STOPPED),
        ("STOPALL", Action.STOPPED),
        ("stop all", Action.STOPPED),
        ("End", Action.STOPPED),
        ("CANCEL", Action.STOPPED),
        ("unsubscribe", Action.STOPPED),
        ("Quit", Action.STOPPED),
        ("revoke", Action.STOPPED),
        ("Opt Out", Action.STOPPED),
        ("OPT-OUT", Action.STOPPED),
        ("optout", Action.STOPPED),
        ("remove", Action.STOPPED),
        ("start", Action.STARTED),
        ("UNSTOP", Action.STARTED),
        ("help", Action.HELP),
        ("Info?", Action.HELP),
        ("yes", Action.CONFIRMED),  # not opted out: YES answers the reminder
        ("Running 10 min late, sorry", Action.TO_READ),
        ("cancel my appointment", Action.TO_READ),
    ],
)
def test_each_keyword_family_is_recognised(twilio, texter, book, body, action):
    mark_sent(book(texter()), sid="SMreminder")
    response = text(twilio, body, sid="SMinbound")
    assert message_of(response) == all_reply_texts(ReminderPolicy.current())[action]
    assert InboundMessage.objects.get(provider_message_id="SMinbound").action == action


# --- STOP and START ------------------------------------------------------------------------------


def test_stop_cancels_pending_reminders_and_answers_once_per_text(twilio, texter, book):
    patient = texter()
    booking = book(patient)
    assert statuses(booking) == ["pending", "pending"]

    assert message_of(text(twilio, "STOP", sid="SMstop1")) == STOP_TEXT

    assert statuses(booking) == ["cancelled", "cancelled"]
    assert set(Reminder.objects.filter(booking=booking).values_list("reason", flat=True)) == {
        "The patient opted out of this channel."
    }
    opt_out = OptOut.objects.get(patient=patient, channel="sms")
    assert (opt_out.opted_out, opt_out.changed_via, opt_out.changed_by) == (True, "sms_reply", None)
    event = AuditEvent.objects.get(object_type="scheduling.OptOut")
    assert (event.patient_id, event.actor, event.via, event.action) == (patient.public_id, None, "sms", "create")

    # Twilio retries the same message: the same single answer, nothing changes again.
    assert message_of(text(twilio, "STOP", sid="SMstop1")) == STOP_TEXT
    # A second STOP (another message): answered once more, the record stays as it was.
    assert message_of(text(twilio, "stop", sid="SMstop2")) == STOP_TEXT
    assert opt_out.history.count() == 1
    assert AuditEvent.objects.filter(object_type="scheduling.OptOut").count() == 1
    assert InboundMessage.objects.count() == 2


def test_a_new_booking_after_stop_gets_no_reminders(twilio, texter, book):
    patient = texter()
    text(twilio, "stop")
    assert statuses(book(patient)) == []


def test_start_brings_the_reminders_back(twilio, texter, book):
    patient = texter()
    booking = book(patient)
    text(twilio, "stop")
    reply = message_of(text(twilio, "Start"))
    assert reply == (
        "Appointments: You will receive appointment reminders again. Reply STOP to opt out, HELP for help."
    )
    assert statuses(booking) == ["pending", "pending"]
    assert OptOut.objects.get(patient=patient).opted_out is False
    assert OptOut.objects.get(patient=patient).history.count() == 2


def test_yes_after_stop_resubscribes(twilio, texter, book):
    patient = texter()
    book(patient)
    text(twilio, "stop")
    assert message_of(text(twilio, "YES")) == all_reply_texts(ReminderPolicy.current())[Action.STARTED]
    assert OptOut.objects.get(patient=patient).opted_out is False


def test_staff_can_record_an_opt_out_and_it_is_audited_as_theirs(texter, book, make_user):
    patient, desk_user = texter(), make_user(Role.ADMISSIONS)
    booking = book(patient)
    opt_out = opt_out_set(patient=patient, channel="sms", opted_out=True, via="staff", by=desk_user)
    assert (opt_out.changed_via, opt_out.changed_by) == ("staff", desk_user)
    assert statuses(booking) == ["cancelled", "cancelled"]
    event = AuditEvent.objects.get(object_type="scheduling.OptOut")
    assert (event.actor, event.via) == (desk_user, "api")


# --- HELP --------------------------------------------------------------------------------------


def test_help_gives_sender_contact_frequency_rates_and_how_to_stop(twilio, texter, policy):
    texter()
    reply = message_of(text(twilio, "HELP"))
    assert reply.startswith("Appointments: ")
    assert f"Help: {HELP_PHONE}" in reply
    assert "up to 1 msg/day" in reply
    assert "Msg & data rates may apply" in reply
    assert "Reply STOP to opt out" in reply
    assert not StaffTask.objects.exists()


# --- unknown numbers and bad requests ------------------------------------------------------------


def test_an_unknown_number_gets_no_answer_and_changes_nothing(twilio, texter, book):
    booking = book(texter())
    for body in ("STOP", "HELP", "C", "who is this?"):
        assert message_of(text(twilio, body, from_=OTHER_PHONE)) is None
    assert InboundMessage.objects.filter(from_number=OTHER_PHONE, patient=None, action="unknown_number").count() == 4
    assert not StaffTask.objects.exists()
    assert not OptOut.objects.exists()
    assert statuses(booking) == ["pending", "pending"]
    assert not AuditEvent.objects.filter(via="sms").exists()


def test_a_short_code_sender_is_an_unknown_number(twilio, texter):
    texter()
    assert message_of(text(twilio, "HELP", from_="72345")) is None


@pytest.mark.parametrize(
    "signing",
    [
        {"token": "someone-elses-token"},
        {"signed_as": "http://testserver/webhooks/twilio/elsewhere/"},
    ],
)
def test_a_bad_signature_is_a_403_and_nothing_is_stored(twilio, texter, signing):
    texter()
    params = {"MessageSid": "SMbad", "From": PHONE, "Body": "STOP"}
    response = signed_post(twilio, SMS_URL, params, **signing)
    assert response.status_code == 403
    assert response.json() == {"message": "The request does not carry a valid Twilio signature.", "extra": {}}
    assert not InboundMessage.objects.exists()
    assert not OptOut.objects.exists()


def test_a_missing_signature_is_a_403(twilio, texter):
    texter()
    response = twilio.post(SMS_URL, urlencode({"MessageSid": "SMx", "From": PHONE, "Body": "STOP"}),
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_without_an_auth_token_every_request_is_refused(twilio, texter, twilio_settings):
    texter()
    twilio_settings.TWILIO_AUTH_TOKEN = ""
    assert text(twilio, "STOP", sid="SMx").status_code == 403
    assert not InboundMessage.objects.exists()


def test_the_public_base_url_is_what_twilio_signed(twilio, texter, twilio_settings):
    texter()
    twilio_settings.TWILIO_WEBHOOK_BASE_URL = "https://clinic.example.org/"
    params = {"MessageSid": "SMbase", "From": PHONE, "Body": "HELP"}
    assert signed_post(twilio, SMS_URL, params).status_code == 403  # signed for testserver
    public = signed_post(twilio, SMS_URL, params, signed_as="https://clinic.example.org/webhooks/twilio/sms/")
    assert message_of(public) is not None


def test_missing_fields_are_a_400_in_the_error_shape(twilio):
    response = signed_post(twilio, SMS_URL, {"MessageSid": "SMx", "Body": "STOP"})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Missing or invalid field(s): From.",
        "extra": {"fields": {"From": ["Required."]}},
    }
    response = signed_post(twilio, STATUS_URL, {"MessageSid": "SMx"})
    assert (response.status_code, response.json()["extra"]["fields"]) == (400, {"MessageStatus": ["Required."]})
    assert not InboundMessage.objects.exists()


def test_only_post_is_allowed(twilio):
    response = twilio.get(SMS_URL)
    assert (response.status_code, response["Allow"]) == (405, "POST")
    assert "message" in response.json()


# --- C, R and free text ----------------------------------------------------------------------------


def test_c_confirms_the_appointment_the_last_reminder_was_about(twilio, texter, book):
    patient = texter()
    tomorrow, next_week = book(patient), book(patient, NEXT_WEEK_10)
    mark_sent(tomorrow, sid="SMreminder")

    reply = message_of(text(twilio, "c", sid="SMc1"))

    assert reply == "Appointments: Thank you, your appointment is confirmed."
    tomorrow.refresh_from_db()
    next_week.refresh_from_db()
    assert tomorrow.confirmed_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert next_week.confirmed_at is None
    inbound = InboundMessage.objects.get()
    assert (inbound.patient, inbound.booking, inbound.action) == (patient, tomorrow, "confirmed")
    event = AuditEvent.objects.get(object_type="scheduling.Booking", via="sms")
    assert (event.object_id, event.actor, event.action) == (str(tomorrow.public_id), None, "update")

    # The same webhook again: the same answer, no second audit event.
    assert message_of(text(twilio, "c", sid="SMc1")) == reply
    assert AuditEvent.objects.filter(via="sms").count() == 1


def test_c_skips_a_reminder_of_a_cancelled_appointment(twilio, texter, book, make_user):
    patient = texter()
    tomorrow, next_week = book(patient), book(patient, NEXT_WEEK_10)
    mark_sent(tomorrow, sid="SMold", minutes_ago=60)
    mark_sent(next_week, sid="SMnew", minutes_ago=1)
    booking_cancel(booking=next_week, cancelled_by="patient", reason="", by=make_user(Role.ADMISSIONS))

    text(twilio, "C")

    tomorrow.refresh_from_db()
    assert tomorrow.confirmed_at is not None
    assert Booking.objects.get(pk=next_week.pk).confirmed_at is None


def test_c_with_nothing_to_confirm_goes_to_the_desk(twilio, texter, book):
    patient = texter()
    book(patient)  # reminders planned, none sent yet
    reply = message_of(text(twilio, "C"))
    assert reply == "Appointments: We could not find an upcoming appointment to confirm. The office will contact you."
    task = StaffTask.objects.get()
    assert (task.kind, task.patient, task.booking) == (StaffTaskKind.REPLY_TO_READ, patient, None)
    assert task.inbound == InboundMessage.objects.get()
    assert not Booking.objects.filter(confirmed_at__isnull=False).exists()


def test_r_asks_the_desk_to_call_about_that_appointment(twilio, texter, book):
    patient = texter()
    booking = book(patient)
    reminder = mark_sent(booking, sid="SMreminder")

    reply = message_of(text(twilio, "R", sid="SMr1"))

    assert reply == "Appointments: Thank you. The office will call you to find a new time."
    task = StaffTask.objects.get()
    assert (task.kind, task.patient, task.booking, task.reminder) == (
        StaffTaskKind.RESCHEDULE_REQUEST,
        patient,
        booking,
        reminder,
    )
    # Retried, and then a second R: still one request on the desk.
    text(twilio, "R", sid="SMr1")
    text(twilio, "r", sid="SMr2")
    assert StaffTask.objects.count() == 1
    assert InboundMessage.objects.filter(action="reschedule").count() == 2


def test_free_text_goes_to_the_desk_with_a_neutral_answer(twilio, texter, book):
    patient = texter()
    booking = book(patient)
    mark_sent(booking, sid="SMreminder")

    reply = message_of(text(twilio, "I'll be 10 minutes late <sorry> & thanks"))

    assert reply == "Appointments: Thank you, the office will read your message. In an emergency, call 911."
    task = StaffTask.objects.get()
    assert (task.kind, task.patient, task.booking) == (StaffTaskKind.REPLY_TO_READ, patient, booking)
    assert InboundMessage.objects.get().body == "I'll be 10 minutes late <sorry> & thanks"
    assert "stop" not in task.detail


def test_stop_inside_a_sentence_is_flagged_not_applied(twilio, texter, book):
    patient = texter()
    booking = book(patient)
    text(twilio, "Please stop texting me")
    assert not OptOut.objects.exists()
    assert statuses(booking) == ["pending", "pending"]
    task = StaffTask.objects.get()
    assert task.patient == patient
    assert "may ask to stop texts" in task.detail


def test_the_answer_is_xml_escaped(twilio, texter, policy):
    texter()
    policy.sender_name = "Smith & Jones"
    policy.save()
    response = text(twilio, "HELP")
    assert "<Message>Smith &amp; Jones: " in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_same_text_delivered_twice_at_once_is_handled_once(texter, book):
    patient = texter()
    mark_sent(book(patient), sid="SMreminder")
    replies = []

    def deliver():
        replies.append(reply_handle(from_number=PHONE, body="R", provider_message_id="SMtwice"))

    assert race(deliver, deliver) == ["ok", "ok"]
    assert replies == [all_reply_texts(ReminderPolicy.current())[Action.RESCHEDULE]] * 2
    assert InboundMessage.objects.count() == 1
    assert StaffTask.objects.filter(patient=patient).count() == 1


# --- a phone shared by two patients ----------------------------------------------------------------


def test_stop_from_a_shared_phone_stops_both_patients_with_one_answer(twilio, texter, book):
    first, second = texter(), texter()
    first_booking, second_booking = book(first), book(second, NEXT_WEEK_10)

    response = text(twilio, "STOP")

    assert message_of(response) == STOP_TEXT
    assert set(OptOut.objects.values_list("patient", "opted_out")) == {(first.pk, True), (second.pk, True)}
    assert statuses(first_booking) == statuses(second_booking) == ["cancelled", "cancelled"]


def test_c_from_a_shared_phone_confirms_the_patient_last_reminded(twilio, texter, book):
    first, second = texter(), texter()
    first_booking, second_booking = book(first, NEXT_WEEK_10), book(second)
    mark_sent(first_booking, sid="SMfirst", minutes_ago=90)
    mark_sent(second_booking, sid="SMsecond", minutes_ago=5)

    text(twilio, "C")

    assert Booking.objects.get(pk=second_booking.pk).confirmed_at is not None
    assert Booking.objects.get(pk=first_booking.pk).confirmed_at is None
    assert InboundMessage.objects.get().patient == second


def test_free_text_from_a_shared_phone_is_one_task_that_says_so(twilio, texter):
    first, _ = texter(), texter()
    text(twilio, "hello?")
    task = StaffTask.objects.get()
    assert task.patient == first
    assert "on file for 2 patients" in task.detail


# --- what the answers say ------------------------------------------------------------------------


def test_no_answer_reveals_the_kind_of_care_or_runs_past_one_text(policy):
    policy.sender_name = "S" * 40  # the longest the field allows
    policy.help_phone = "9" * 32
    policy.max_per_day = 9
    texts = all_reply_texts(policy)
    assert set(texts) == set(Action) - {Action.UNKNOWN_NUMBER}
    for action, reply in texts.items():
        assert template_problems(reply) == [], action
        assert len(reply) <= SMS_MAX_CHARACTERS, (action, len(reply))


def test_the_help_answer_without_a_help_phone_still_names_a_contact(policy):
    policy.help_phone = ""
    assert "For help, call the office." in all_reply_texts(policy)[Action.HELP]


def test_nothing_about_the_patient_is_logged(twilio, texter, book, caplog):
    patient = texter()
    mark_sent(book(patient), sid="SMreminder")
    with caplog.at_level(logging.DEBUG):
        for body in ("C", "R", "STOP", "START", "HELP", "my secret words"):
            text(twilio, body)
        status(twilio, "SMreminder", "delivered")
    assert caplog.records  # something was logged
    for leaked in (PHONE, PHONE[2:], "secret", patient.legal_first_name, patient.legal_last_name):
        assert leaked not in caplog.text


# --- delivery reports ------------------------------------------------------------------------------


@pytest.fixture
def sent(texter, book):
    return mark_sent(book(texter()), sid="SMsent")


def test_delivered_marks_the_reminder_delivered(twilio, sent):
    response = status(twilio, "SMsent", "delivered")
    assert response.status_code == 204
    sent.refresh_from_db()
    assert (sent.status, sent.provider_status) == (ReminderStatus.DELIVERED, "delivered")


def test_a_late_sent_report_does_not_move_a_delivered_reminder_back(twilio, sent):
    for report in ("sending", "delivered", "sent", "queued"):
        status(twilio, "SMsent", report)
    sent.refresh_from_db()
    assert (sent.status, sent.provider_status) == (ReminderStatus.DELIVERED, "delivered")


def test_sent_reports_before_delivery_only_record_the_provider_status(twilio, sent):
    status(twilio, "SMsent", "sent")
    sent.refresh_from_db()
    assert (sent.status, sent.provider_status) == (ReminderStatus.SENT, "sent")


@pytest.mark.parametrize(
    ("report", "code", "reason"),
    [
        ("undelivered", "30003", "The phone could not be reached (switched off or out of coverage) (Twilio 30003)."),
        ("failed", "21610", "The recipient has opted out of texts from this clinic (replied STOP) (Twilio 21610)."),
        ("failed", "39999", "The provider reports the text could not be sent (Twilio 39999)."),
        ("undelivered", None, "The provider reports the text was not delivered."),
    ],
)
def test_a_failed_delivery_fails_the_reminder_into_the_staff_queue(twilio, sent, report, code, reason):
    status(twilio, "SMsent", report, code)
    sent.refresh_from_db()
    assert (sent.status, sent.provider_status, sent.reason) == (ReminderStatus.FAILED, report, reason)
    task = StaffTask.objects.get()
    assert (task.kind, task.reminder, task.patient_id, task.booking_id, task.detail) == (
        StaffTaskKind.REMINDER_FAILED,
        sent,
        sent.patient_id,
        sent.booking_id,
        reason,
    )
    # Reported twice, or "delivered" afterwards: one task, still failed.
    status(twilio, "SMsent", report, code)
    status(twilio, "SMsent", "delivered")
    sent.refresh_from_db()
    assert sent.status == ReminderStatus.FAILED
    assert StaffTask.objects.count() == 1


def test_a_delivery_refused_as_unsubscribed_records_the_opt_out(twilio, sent):
    status(twilio, "SMsent", "failed", "21610")
    sent.refresh_from_db()
    assert sent.status == ReminderStatus.FAILED
    opt_out = OptOut.objects.get(patient=sent.patient, channel="sms")
    assert (opt_out.opted_out, opt_out.changed_via) == (True, "provider")
    # The booking's other reminder will not be tried.
    assert statuses(sent.booking) == [ReminderStatus.CANCELLED, ReminderStatus.FAILED]


def test_a_report_about_an_unknown_message_is_ignored(twilio, sent):
    assert status(twilio, "SMnobody", "failed", "30003").status_code == 204
    sent.refresh_from_db()
    assert (sent.status, sent.provider_status) == (ReminderStatus.SENT, "queued")
    assert not StaffTask.objects.exists()


def test_a_report_with_a_bad_signature_is_a_403(twilio, sent):
    params = {"MessageSid": "SMsent", "MessageStatus": "failed", "ErrorCode": "30003"}
    assert signed_post(twilio, STATUS_URL, params, token="wrong").status_code == 403
    sent.refresh_from_db()
    assert sent.status == ReminderStatus.SENT


def test_reminders_plan_leaves_a_delivered_reminder_alone_after_stop(twilio, sent):
    status(twilio, "SMsent", "delivered")
    text(twilio, "STOP")
    reminders_plan([sent.booking_id])
    sent.refresh_from_db()
    assert sent.status == ReminderStatus.DELIVERED
    assert statuses(sent.booking) == ["cancelled", "delivered"]
