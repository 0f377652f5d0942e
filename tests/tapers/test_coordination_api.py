"""Coordination with outside prescribers: the prescriber of record, the communication log,
the Part 2 consent gate on every letter, the letter's PDF, and who may see any of it."""

import io
import smtplib
from datetime import date

import pypdf
import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.consents import REDISCLOSURE_NOTICE
from patients.models import Consent, Disclosure
from patients.services import break_glass_grant
from tapers.models import Communication, PrescriberOfRecord
from tapers.services import coordination
from tapers.tasks.coordination import send_communication
from tests.patients.factories import PatientFactory, put_on_care_team
from tests.tapers.factories_coordination import EpisodeFactory, OutsidePrescriberFactory, consent_for, fax_letter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def prescriber_user(make_user):
    return make_user(Role.PRESCRIBER, first_name="Ana", last_name="Reyes")


@pytest.fixture
def prescriber_client(client_for, prescriber_user):
    return client_for(prescriber_user)


@pytest.fixture
def patient(prescriber_user, clinician):
    patient = PatientFactory.create(legal_first_name="Jordan", legal_last_name="Quill")
    put_on_care_team(patient, prescriber_user)
    put_on_care_team(patient, clinician)
    return patient


@pytest.fixture
def episode(patient):
    return EpisodeFactory.create(patient=patient)


@pytest.fixture
def outside():
    return OutsidePrescriberFactory.create(name="Lee Park")


def set_por(client, episode, prescriber, /, **changes):
    body = {"episode": str(episode.public_id), "prescriber": str(prescriber.public_id)} | changes
    return client.post("/api/v1/prescribers-of-record/", body, format="json")


LETTER = {
    "direction": "outbound",
    "channel": "secure_email",
    "subject": "Taper step from December 1",
    "body": "From December 1 the diazepam dose is 9 mg a day.",
    "information": ["medications"],
    "purpose": "care_coordination",
}


def draft(client, patient, prescriber, /, **changes):
    body = LETTER | {"patient": str(patient.public_id), "prescriber": str(prescriber.public_id)} | changes
    return client.post("/api/v1/communications/", body, format="json")


def pdf_text(content: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages]


# --- The prescriber of record ---------------------------------------------------------------


def test_it_sets_the_first_prescriber_of_record(prescriber_client, episode, outside):
    response = set_por(prescriber_client, episode, outside)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["prescriber_of_record"]["prescriber"]["name"] == "Lee Park"
    assert body["prescriber_of_record"]["current"] is True
    assert body["prescriber_of_record"]["started_on"] == "2026-11-23"
    assert body["notified"] == []
    assert body["not_notified"] == []
    current = coordination.prescriber_of_record(episode.patient)
    assert current is not None
    assert current.prescriber == outside


def test_it_closes_the_current_one_and_keeps_the_history(prescriber_client, episode, outside):
    set_por(prescriber_client, episode, outside, notify=False)
    successor = OutsidePrescriberFactory.create()
    assert set_por(prescriber_client, episode, successor, notify=False).status_code == 201
    rows = list(PrescriberOfRecord.objects.filter(episode=episode).order_by("id"))
    assert [(r.prescriber, r.ended_on) for r in rows] == [(outside, date(2026, 11, 23)), (successor, None)]
    listed = prescriber_client.get(f"/api/v1/prescribers-of-record/?episode={episode.public_id}").json()["results"]
    assert len(listed) == 2
    current = prescriber_client.get(f"/api/v1/prescribers-of-record/?patient={episode.patient.public_id}&current=true")
    assert [row["prescriber"]["id"] for row in current.json()["results"]] == [str(successor.public_id)]


def test_the_selector_answers_for_an_episode_a_patient_and_a_past_day(prescriber_user, episode, outside):
    first = coordination.prescriber_of_record_set(
        episode=episode, prescriber=outside, by=prescriber_user, started_on=date(2026, 11, 20), reason="Backdated"
    ).record
    second = coordination.prescriber_of_record_set(
        episode=episode, prescriber=OutsidePrescriberFactory.create(), by=prescriber_user
    )
    assert coordination.prescriber_of_record(episode) == second.record
    assert coordination.prescriber_of_record(episode.patient, on=date(2026, 11, 21)) == first
    assert coordination.prescriber_of_record(episode.patient, on=date(2026, 11, 19)) is None
    assert coordination.prescriber_of_record(PatientFactory.create()) is None


def test_the_database_refuses_a_second_current_prescriber_of_record(prescriber_user, episode, outside):
    PrescriberOfRecord.objects.create(
        episode=episode, prescriber=outside, started_on=date(2026, 11, 3), set_by=prescriber_user
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PrescriberOfRecord.objects.create(
            episode=episode,
            prescriber=OutsidePrescriberFactory.create(),
            started_on=date(2026, 11, 10),
            set_by=prescriber_user,
        )


def test_the_database_refuses_overlapping_history(prescriber_user, episode, outside):
    PrescriberOfRecord.objects.create(
        episode=episode,
        prescriber=outside,
        started_on=date(2026, 11, 3),
        ended_on=date(2026, 11, 10),
        set_by=prescriber_user,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        PrescriberOfRecord.objects.create(
            episode=episode,
            prescriber=OutsidePrescriberFactory.create(),
            started_on=date(2026, 11, 5),
            ended_on=date(2026, 11, 8),
            set_by=prescriber_user,
        )


def test_the_same_prescriber_again_is_a_conflict(prescriber_client, episode, outside):
    set_por(prescriber_client, episode, outside)
    response = set_por(prescriber_client, episode, outside)
    assert response.status_code == 409
    assert "already the prescriber of record" in response.json()["message"]


def test_a_discharged_episode_keeps_its_prescriber_of_record(prescriber_client, episode, outside):
    episode.discharged_on = date(2026, 11, 20)
    episode.discharge_reason = "completed"
    episode.save()
    assert set_por(prescriber_client, episode, outside).status_code == 409


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"started_on": "2026-11-24"}, "in the future"),
        ({"started_on": "2026-11-20"}, "backdated change needs a reason"),
        ({"started_on": "2026-11-18", "reason": "late entry"}, "before the patient's admission"),
        ({"started_on": "2026-11-10", "reason": "late entry"}, "more than 7 days ago"),
        ({"prescriber": "00000000-0000-0000-0000-000000000000"}, "No prescriber has that id"),
        ({"episode": "not-a-uuid"}, "Some fields are invalid"),
    ],
)
def test_bad_prescriber_of_record_input_is_a_400(prescriber_client, episode, outside, changes, message):
    response = set_por(prescriber_client, episode, outside, **changes)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not PrescriberOfRecord.objects.exists()


def test_a_nurse_may_not_set_it(make_user, client_for, episode, outside):
    nurse = make_user(Role.NURSE)
    put_on_care_team(episode.patient, nurse)
    response = set_por(client_for(nurse), episode, outside)
    assert response.status_code == 403
    assert (
        "prescriber, clinician" in response.json()["message"] or "clinician, prescriber" in response.json()["message"]
    )


def test_a_clinician_on_the_team_may_set_it(clinician_client, episode, outside):
    assert set_por(clinician_client, episode, outside).status_code == 201


def test_off_the_care_team_the_episode_is_a_404_until_the_glass_is_broken(make_user, client_for, episode, outside):
    stranger = make_user(Role.PRESCRIBER)
    client = client_for(stranger)
    assert set_por(client, episode, outside).status_code == 404
    break_glass_grant(patient=episode.patient, user=stranger, reason="Covering the on-call tonight")
    assert set_por(client, episode, outside).status_code == 201


# --- Notifying the other prescribers --------------------------------------------------------


def test_a_change_notifies_the_others_a_consent_covers_and_says_why_not_for_the_rest(
    prescriber_user, prescriber_client, episode, outside
):
    patient = episode.patient
    # Known to prescribe to the patient: the previous prescriber of record, and one we wrote to.
    coordination.prescriber_of_record_set(episode=episode, prescriber=outside, by=prescriber_user)
    no_consent = OutsidePrescriberFactory.create(name="Sam Ortiz")
    Communication.objects.create(
        patient=patient,
        prescriber=no_consent,
        direction="inbound",
        channel="phone",
        subject="Refill question",
        body="Called about a refill.",
        status="received",
        received_at="2026-11-20T15:00:00Z",
        created_by=prescriber_user,
    )
    consent_for(patient, "Lee Park", by=prescriber_user)
    internal = OutsidePrescriberFactory.create(staff=prescriber_user, name="Ana Reyes")

    response = set_por(prescriber_client, episode, internal)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [n["prescriber"]["name"] for n in body["notified"]] == ["Lee Park"]
    assert body["notified"][0]["channel"] == "secure_email"
    assert body["notified"][0]["status"] == "queued"
    [refused] = body["not_notified"]
    assert refused["prescriber"]["name"] == "Sam Ortiz"
    assert "No current consent lets us disclose medications to Sam Ortiz" in refused["reason"]
    assert refused["missing_consent"]["recipient_name"] == "Sam Ortiz"
    # Nothing is written to the prescriber without a consent.
    assert not Communication.objects.filter(prescriber=no_consent, direction="outbound").exists()

    notice = Communication.objects.get(prescriber=outside)
    assert "Ana Reyes" in notice.body
    assert "Jordan Quill" in notice.body
    assert send_communication(notice.pk) == "sent"
    [email] = mail.outbox
    assert email.to == [outside.secure_email]
    assert REDISCLOSURE_NOTICE in email.body
    [(_name, content, mimetype)] = email.attachments
    assert mimetype == "application/pdf"
    assert all(REDISCLOSURE_NOTICE in page for page in pdf_text(content))
    disclosure = Disclosure.objects.get()
    assert disclosure.recipient_name == "Lee Park"
    assert disclosure.redisclosure_notice == REDISCLOSURE_NOTICE


def test_a_tpo_consent_covers_the_notice_as_treatment(prescriber_user, episode, outside):
    coordination.prescriber_of_record_set(episode=episode, prescriber=outside, by=prescriber_user)
    consent_for(
        episode.patient, "my treating providers", by=prescriber_user, recipient_type="tpo", purposes=["treatment"]
    )
    change = coordination.prescriber_of_record_set(
        episode=episode, prescriber=OutsidePrescriberFactory.create(), by=prescriber_user
    )
    [notified] = change.notified
    assert notified.communication is not None
    assert notified.communication.purpose == "treatment"


def test_a_notice_by_fax_is_released_to_staff_with_its_disclosure_recorded(prescriber_user, episode):
    by_fax = OutsidePrescriberFactory.create(name="Lee Park", secure_email="")
    coordination.prescriber_of_record_set(episode=episode, prescriber=by_fax, by=prescriber_user)
    consent_for(episode.patient, "Lee Park", by=prescriber_user)
    change = coordination.prescriber_of_record_set(
        episode=episode, prescriber=OutsidePrescriberFactory.create(), by=prescriber_user
    )
    [notified] = change.notified
    assert notified.communication is not None
    assert (notified.communication.channel, notified.communication.status) == ("fax", "to_send_by_staff")
    assert notified.communication.disclosure is not None
    assert REDISCLOSURE_NOTICE in notified.communication.body
    assert mail.outbox == []


def test_a_prescriber_we_cannot_reach_is_listed_as_not_notified(prescriber_user, episode):
    unreachable = OutsidePrescriberFactory.create(secure_email="", fax="", address="", phone="")
    coordination.prescriber_of_record_set(episode=episode, prescriber=unreachable, by=prescriber_user)
    change = coordination.prescriber_of_record_set(
        episode=episode, prescriber=OutsidePrescriberFactory.create(), by=prescriber_user
    )
    assert [o.reason for o in change.not_notified] == ["No secure email, fax, postal address or phone on file."]


# --- Communications and the consent gate ----------------------------------------------------


def test_a_draft_discloses_nothing(prescriber_client, patient, outside):
    response = draft(prescriber_client, patient, outside)
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "draft"
    assert not Disclosure.objects.exists()
    letter = prescriber_client.get(f"/api/v1/communications/{response.json()['id']}/letter.pdf")
    assert letter.status_code == 409
    assert "send it first" in letter.json()["message"]


def test_without_a_consent_a_letter_is_refused_naming_the_missing_consent(prescriber_client, patient, outside):
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    response = prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    assert response.status_code == 403
    body = response.json()
    assert "No current consent lets us disclose medications to Lee Park (outside prescriber)" in body["message"]
    assert body["extra"]["missing_consent"]["purpose"] == "care_coordination"
    assert Communication.objects.get().status == "draft"
    assert not Disclosure.objects.exists()
    assert mail.outbox == []


def test_a_consent_for_other_information_does_not_cover_the_letter(
    prescriber_user, prescriber_client, patient, outside
):
    consent_for(patient, "Lee Park", by=prescriber_user, information=["attendance"])
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/send/").status_code == 403


def test_a_letter_by_secure_email_goes_through_the_worker_with_ids_only(
    prescriber_user, prescriber_client, patient, outside, django_capture_on_commit_callbacks, monkeypatch
):
    consent = consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    queued: list[tuple] = []
    monkeypatch.setattr(send_communication, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        response = prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "queued"
    communication = Communication.objects.get()
    assert queued == [(communication.pk,)]
    assert not Disclosure.objects.exists()  # recorded by the worker, as it sends

    assert send_communication(communication.pk) == "sent"
    assert send_communication(communication.pk) == "skipped"  # run twice: sent once
    communication.refresh_from_db()
    assert communication.status == "sent"
    assert communication.disclosure is not None
    assert communication.disclosure.consent == consent
    assert REDISCLOSURE_NOTICE in communication.body
    assert "Disclosed with the patient's written consent signed 2026-11-01" in communication.body
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action=AuditAction.DISCLOSE, patient_id=patient.public_id).count() == 1


def test_a_letter_whose_send_was_never_enqueued_goes_once_owed(
    prescriber_user, prescriber_client, patient, outside, today, published, settings
):
    from datetime import timedelta

    from clinic.tasks import requeue_owed_work

    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    # The test's transaction never commits, so the send's on-commit enqueue never happens, as
    # when the broker was down at the commit.
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/send/").json()["status"] == "queued"
    communication = Communication.objects.get()

    # Owed once REQUEUE_AFTER_MINUTES (15) and the send task's own retries would all be over:
    # with the defaults (60 s, 5 retries) it waits 60 + 120 + 240 + 480 + 960 = 1,860 s.
    assert (settings.COORDINATION_EMAIL_RETRY_BASE_SECONDS, settings.COORDINATION_EMAIL_MAX_RETRIES) == (60, 5)
    today.shift(timedelta(minutes=15, seconds=1860 - 1))
    assert requeue_owed_work() == 0  # its task may still be retrying
    today.shift(timedelta(seconds=2))
    assert requeue_owed_work() == 1
    assert [(m["task"], m["args"]) for m in published] == [
        ("tapers.tasks.coordination.send_communication", [communication.pk])
    ]
    assert send_communication(communication.pk) == "sent"
    assert requeue_owed_work() == 0
    assert len(mail.outbox) == 1


def test_a_revocation_before_the_worker_sends_stops_the_letter(prescriber_user, prescriber_client, patient, outside):
    consent = consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/send/").status_code == 200
    Consent.objects.filter(pk=consent.pk).update(revoked_at="2026-11-23T14:59:00Z")
    assert send_communication(Communication.objects.get().pk) == "refused"
    communication = Communication.objects.get()
    assert communication.status == "failed"
    assert communication.failure_reason.startswith("Not sent: No current consent")
    assert communication.disclosure is None
    assert not Disclosure.objects.exists()
    assert mail.outbox == []


def test_a_revocation_racing_the_send_finds_the_consent_gone(
    prescriber_user, prescriber_client, patient, outside, monkeypatch
):
    from patients.services import consents as consent_services

    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside, channel="fax").json()["id"]
    checked = consent_services.consent_check

    def check_then_revoked_elsewhere(**kwargs):
        found = checked(**kwargs)
        Consent.objects.filter(pk=found.pk).update(revoked_at="2026-11-23T14:59:00Z")
        return found

    monkeypatch.setattr(consent_services, "consent_check", check_then_revoked_elsewhere)
    response = prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    assert response.status_code == 403
    assert "revoked a moment ago" in response.json()["message"]
    assert Communication.objects.get().status == "draft"
    assert not Disclosure.objects.exists()


def test_a_failing_email_server_retries_then_fails_with_nothing_recorded(
    prescriber_user, prescriber_client, patient, outside, monkeypatch, caplog
):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    pk = Communication.objects.get().pk

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    with pytest.raises(smtplib.SMTPServerDisconnected):  # for the task's declared retry
        coordination.communication_deliver(pk, last_try=False)
    assert Communication.objects.get().status == "queued"
    assert coordination.communication_deliver(pk, last_try=True) == "failed"
    communication = Communication.objects.get()
    assert communication.status == "failed"
    assert "SMTPServerDisconnected" in communication.failure_reason
    assert not Disclosure.objects.exists()
    # Logs carry ids only.
    assert "Jordan" not in caplog.text
    assert "Quill" not in caplog.text
    assert "Lee Park" not in caplog.text
    # Staff can send it again.
    monkeypatch.undo()
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/send/").status_code == 200


@pytest.fixture
def run_tasks_here(monkeypatch):
    """apply() runs a task and each of its retries in the test, one after the other. The
    worker's close_old_connections around each task would close the test's connection (inside
    the test's transaction it looks unusable), so it is left out here."""
    monkeypatch.setattr("clinic.celery.close_old_connections", lambda: None)


@pytest.mark.usefixtures("run_tasks_here")
def test_the_task_retries_a_failing_email_server_and_then_fails_the_letter(
    prescriber_user, prescriber_client, patient, outside, monkeypatch
):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    tries: list[int] = []

    def refuse(self, fail_silently=False):
        tries.append(1)
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    assert send_communication.apply(args=(Communication.objects.get().pk,)).get() == "failed"
    assert len(tries) == settings.COORDINATION_EMAIL_MAX_RETRIES + 1
    assert Communication.objects.get().status == "failed"
    assert not Disclosure.objects.exists()


@pytest.mark.usefixtures("run_tasks_here")
def test_the_task_sends_once_the_email_server_is_back(
    prescriber_user, prescriber_client, patient, outside, monkeypatch
):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    send = EmailMessage.send
    tries: list[int] = []

    def fail_once(self, fail_silently=False):
        tries.append(1)
        if len(tries) == 1:
            raise smtplib.SMTPServerDisconnected("gone")
        return send(self, fail_silently=fail_silently)

    monkeypatch.setattr(EmailMessage, "send", fail_once)
    assert send_communication.apply(args=(Communication.objects.get().pk,)).get() == "sent"
    assert len(tries) == 2
    assert len(mail.outbox) == 1
    assert Communication.objects.get().status == "sent"
    assert Disclosure.objects.count() == 1


def test_a_fax_is_released_to_staff_with_its_pdf_and_then_marked_sent(
    prescriber_user, prescriber_client, patient, outside
):
    consent_for(patient, "Lee Park", by=prescriber_user)
    other = PatientFactory.create(legal_first_name="Morgan", legal_last_name="Vance")
    put_on_care_team(other, prescriber_user)
    consent_for(other, "Lee Park", by=prescriber_user)
    for someone in (other, patient):
        letter_id = draft(prescriber_client, someone, outside, channel="fax").json()["id"]
        response = prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
        assert response.status_code == 200, response.json()
    assert response.json()["status"] == "to_send_by_staff"
    assert response.json()["disclosure"] is not None

    pdf = prescriber_client.get(f"/api/v1/communications/{letter_id}/letter.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    pages = pdf_text(pdf.content)
    text = "\n".join(pages)
    assert all(REDISCLOSURE_NOTICE in page for page in pages)
    assert "Lee Park, MD" in text
    assert "Riverside Practice" in text
    assert "Jordan Quill" in text
    assert "Ana Reyes" in text
    assert "Morgan" not in text
    assert "Vance" not in text
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_id=letter_id).count() == 1

    sent = prescriber_client.post(f"/api/v1/communications/{letter_id}/sent/")
    assert sent.status_code == 200
    assert sent.json()["status"] == "sent"
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/sent/").status_code == 409
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/send/").status_code == 409


def test_a_letter_quoting_the_notice_still_explains_the_consent_scope(
    prescriber_user, prescriber_client, patient, outside
):
    consent_for(patient, "Lee Park", by=prescriber_user)
    body = f"From December 1 the diazepam dose is 9 mg a day.\n\n{REDISCLOSURE_NOTICE}"
    letter_id = draft(prescriber_client, patient, outside, channel="fax", body=body).json()["id"]
    sent = prescriber_client.post(f"/api/v1/communications/{letter_id}/send/").json()["body"]
    assert "Disclosed with the patient's written consent signed 2026-11-01" in sent
    assert sent.count(REDISCLOSURE_NOTICE) == 1


def test_a_long_letter_carries_the_notice_on_every_page(prescriber_user, prescriber_client, patient, outside):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(
        prescriber_client, patient, outside, channel="mail", body="A paragraph of history.\n" * 200
    ).json()["id"]
    prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    pages = pdf_text(prescriber_client.get(f"/api/v1/communications/{letter_id}/letter.pdf").content)
    assert len(pages) > 2
    assert all(REDISCLOSURE_NOTICE in page for page in pages)


def test_an_inbound_message_needs_no_consent(prescriber_client, patient, outside):
    response = draft(prescriber_client, patient, outside, direction="inbound", channel="phone")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "received"
    assert not Disclosure.objects.exists()
    assert prescriber_client.post(f"/api/v1/communications/{response.json()['id']}/send/").status_code == 409


def test_a_response_is_recorded_against_a_sent_letter(prescriber_user, prescriber_client, patient, outside):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside, channel="fax").json()["id"]
    url = f"/api/v1/communications/{letter_id}/response/"
    assert prescriber_client.post(url, {"response": "Agreed."}, format="json").status_code == 409  # a draft
    prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    prescriber_client.post(f"/api/v1/communications/{letter_id}/sent/")
    assert prescriber_client.post(url, {"response": "  "}, format="json").status_code == 400
    response = prescriber_client.post(url, {"response": "Agreed; I will stop prescribing."}, format="json")
    assert response.status_code == 200
    assert response.json()["response"] == "Agreed; I will stop prescribing."
    assert response.json()["responded_at"] is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"body": "   "}, "body"),
        ({"information": []}, "information"),
        ({"channel": "pigeon"}, "channel"),
        ({"prescriber": "00000000-0000-0000-0000-000000000000"}, "prescriber"),
    ],
)
def test_bad_letter_input_is_a_400_naming_the_field(prescriber_client, patient, outside, changes, field):
    response = draft(prescriber_client, patient, outside, **changes)
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Communication.objects.exists()


def test_a_channel_we_have_no_address_for_is_a_400(prescriber_client, patient):
    no_email = OutsidePrescriberFactory.create(secure_email="")
    response = draft(prescriber_client, patient, no_email)
    assert response.status_code == 400
    assert "no secure email address on file" in response.json()["message"]


def test_our_own_prescribers_are_not_written_to_through_this_log(prescriber_user, prescriber_client, patient):
    ours = OutsidePrescriberFactory.create(staff=prescriber_user)
    assert draft(prescriber_client, patient, ours).status_code == 400


# --- Who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING, Role.CLINIC_ADMIN])
def test_the_front_office_is_refused_every_endpoint(
    make_user, client_for, prescriber_user, patient, episode, outside, role
):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter = fax_letter(patient, outside, by=prescriber_user)
    coordination.communication_send(communication=letter, by=prescriber_user)
    client = client_for(make_user(role))
    base = f"/api/v1/communications/{letter.public_id}"
    calls = [
        client.get("/api/v1/communications/"),
        client.get(f"{base}/"),
        client.get(f"{base}/letter.pdf"),
        client.post(f"{base}/send/"),
        client.post(f"{base}/sent/"),
        client.post(f"{base}/response/", {"response": "x"}, format="json"),
        draft(client, patient, outside),
        client.get("/api/v1/prescribers-of-record/"),
        set_por(client, episode, outside),
    ]
    assert [c.status_code for c in calls] == [403] * len(calls)
    assert Communication.objects.get().status == "to_send_by_staff"


def test_unauthenticated_is_a_401(api_client):
    assert api_client.get("/api/v1/communications/").status_code == 401
    assert api_client.get("/api/v1/prescribers-of-record/").status_code == 401


def test_off_the_care_team_a_clinician_sees_nothing_without_breaking_the_glass(
    make_user, client_for, prescriber_user, patient, outside
):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter = fax_letter(patient, outside, by=prescriber_user)
    coordination.communication_send(communication=letter, by=prescriber_user)
    stranger = make_user(Role.CLINICIAN)
    client = client_for(stranger)
    base = f"/api/v1/communications/{letter.public_id}"
    assert client.get("/api/v1/communications/").json()["results"] == []
    assert [
        client.get(f"{base}/").status_code,
        client.get(f"{base}/letter.pdf").status_code,
        client.post(f"{base}/sent/").status_code,
        draft(client, patient, outside).status_code,
    ] == [404, 404, 404, 404]
    break_glass_grant(patient=patient, user=stranger, reason="Covering tonight")
    assert client.get(f"{base}/").status_code == 200
    assert client.get(f"{base}/letter.pdf").status_code == 200


def test_every_read_is_audited(prescriber_client, patient, outside):
    letter_id = draft(prescriber_client, patient, outside).json()["id"]
    prescriber_client.get("/api/v1/communications/")
    prescriber_client.get(f"/api/v1/communications/{letter_id}/")
    actions = list(AuditEvent.objects.filter(object_id=letter_id).values_list("action", flat=True).order_by("id"))
    assert actions == [AuditAction.CREATE, AuditAction.LIST, AuditAction.READ]


def test_the_communication_list_costs_the_same_queries_at_any_length(
    prescriber_user, prescriber_client, patient, outside
):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert prescriber_client.get(f"/api/v1/communications/?patient={patient.public_id}").status_code == 200
        return len(captured)

    consent_for(patient, "Lee Park", by=prescriber_user)

    def add(n: int) -> None:
        for _ in range(n):
            letter = fax_letter(patient, OutsidePrescriberFactory.create(name="Lee Park"), by=prescriber_user)
            coordination.communication_send(communication=letter, by=prescriber_user)

    add(1)
    one = queries_for_list()
    add(6)
    assert queries_for_list() == one
    assert Communication.objects.aggregate(n=Count("id"))["n"] == 7


def test_the_prescriber_of_record_list_costs_the_same_queries_at_any_length(
    prescriber_user, prescriber_client, episode
):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert prescriber_client.get("/api/v1/prescribers-of-record/").status_code == 200
        return len(captured)

    coordination.prescriber_of_record_set(
        episode=episode, prescriber=OutsidePrescriberFactory.create(), by=prescriber_user, notify=False
    )
    one = queries_for_list()
    for _ in range(3):
        coordination.prescriber_of_record_set(
            episode=episode, prescriber=OutsidePrescriberFactory.create(), by=prescriber_user, notify=False
        )
    assert queries_for_list() == one


def test_a_released_letter_is_not_handed_out_once_its_consent_is_revoked(
    make_user, prescriber_user, prescriber_client, patient, outside
):
    from patients.services.consents import consent_revoke

    consent = consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside, channel="fax").json()["id"]
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/send/").status_code == 200
    consent_revoke(consent=consent, by=make_user(Role.ADMISSIONS))
    pdf = prescriber_client.get(f"/api/v1/communications/{letter_id}/letter.pdf")
    assert pdf.status_code == 403
    assert "revoked the consent this letter was released under" in pdf.json()["message"]
    assert prescriber_client.post(f"/api/v1/communications/{letter_id}/sent/").status_code == 403
    assert Communication.objects.get().status == "to_send_by_staff"
    # The release stays in the accounting of disclosures.
    assert Disclosure.objects.count() == 1


def test_the_letter_is_dated_the_day_it_was_released(prescriber_user, prescriber_client, patient, outside):
    consent_for(patient, "Lee Park", by=prescriber_user)
    letter_id = draft(prescriber_client, patient, outside, channel="fax").json()["id"]
    prescriber_client.post(f"/api/v1/communications/{letter_id}/send/")
    with time_machine.travel("2026-11-25 15:00:00+00:00", tick=False):
        letter = coordination.communication_mark_sent(communication=Communication.objects.get(), by=prescriber_user)
        [page] = pdf_text(coordination.communication_letter(communication=letter, by=prescriber_user))
    assert "November 23, 2026" in page
    assert "November 25" not in page
