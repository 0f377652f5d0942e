"""The reminder pages of the admin: the policy, the outbox, the desk's queue, opt-outs."""

import pytest
from django.contrib.auth.models import Permission

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from scheduling.models import OptOut, Reminder, ReminderPolicy, StaffTask, StaffTaskKind
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def director(make_user):
    return make_user(Role.CLINIC_ADMIN)


def policy_form(**changes):
    policy = ReminderPolicy.current()
    form = {
        "offsets_minutes": ",".join(map(str, policy.offsets_minutes)),
        "window_start": "08:00",
        "window_end": "21:00",
        "max_per_day": "1",
        "sender_name": policy.sender_name,
        "help_phone": "+1 617 555 0100",
        "sms_template": policy.sms_template,
        "email_subject": policy.email_subject,
        "email_template": policy.email_template,
    }
    return {**form, **changes}


def test_the_policy_list_opens_the_one_policy(client, director):
    client.force_login(director)
    response = client.get("/admin/scheduling/reminderpolicy/")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/scheduling/reminderpolicy/{ReminderPolicy.current().pk}/change/")


def test_saving_a_revealing_or_personal_template_is_refused_with_the_reason(client, director):
    client.force_login(director)
    url = f"/admin/scheduling/reminderpolicy/{ReminderPolicy.current().pk}/change/"
    response = client.post(url, policy_form(sms_template="Hi {first_name}, your IOP group is {date}"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Unknown placeholder(s) {first_name}" in page
    assert "&#x27;iop&#x27;" in page
    assert "{first_name}" not in ReminderPolicy.current().sms_template


def test_a_neutral_template_saves(client, director):
    client.force_login(director)
    url = f"/admin/scheduling/reminderpolicy/{ReminderPolicy.current().pk}/change/"
    response = client.post(url, policy_form(sms_template="{sender}: see you {date} at {time}. Reply STOP to opt out."))
    assert response.status_code == 302
    assert ReminderPolicy.current().sms_template.startswith("{sender}: see you")


def test_the_desk_cannot_change_the_policy(client, make_user):
    client.force_login(make_user(Role.ADMISSIONS))
    assert client.get(f"/admin/scheduling/reminderpolicy/{ReminderPolicy.current().pk}/change/").status_code == 403


def test_the_desk_works_the_queue_and_each_task_records_who(client, make_user, admitted):
    desk_user = make_user(Role.ADMISSIONS)
    patient = admitted("iop")
    task = StaffTask.objects.create(kind=StaffTaskKind.RESCHEDULE_REQUEST, patient=patient, detail="Asked for a call")
    client.force_login(desk_user)
    page = client.get("/admin/scheduling/stafftask/?state=open").content.decode()
    assert "Asked for a call" in page
    assert AuditEvent.objects.filter(action=AuditAction.LIST, patient_id=patient.public_id, via="admin").exists()
    response = client.post(
        "/admin/scheduling/stafftask/", {"action": "mark_done", "_selected_action": [task.pk]}, follow=True
    )
    assert "1 task(s) marked done." in response.content.decode()
    task.refresh_from_db()
    assert task.done_by == desk_user
    assert task.done_at is not None
    assert "Asked for a call" not in client.get("/admin/scheduling/stafftask/?state=open").content.decode()


def test_billing_does_not_see_the_queue(client, make_user):
    client.force_login(make_user(Role.BILLING))
    assert client.get("/admin/scheduling/stafftask/").status_code == 403


def test_the_desk_records_a_spoken_opt_out_and_it_cancels_the_texts(client, scheduler, texted, book):
    patient = texted()
    booking = book(patient)
    client.force_login(scheduler)
    response = client.post(
        "/admin/scheduling/optout/add/", {"patient": patient.pk, "channel": "sms", "opted_out": "on"}, follow=True
    )
    assert response.status_code == 200
    opt_out = OptOut.objects.get(patient=patient, channel="sms")
    assert (opt_out.opted_out, opt_out.changed_via, opt_out.changed_by) == (True, "staff", scheduler)
    assert set(Reminder.objects.filter(booking=booking).values_list("status", flat=True)) == {"cancelled"}
    # Turning it back on from the change page plans them again; the history keeps both.
    response = client.post(f"/admin/scheduling/optout/{opt_out.pk}/change/", {}, follow=True)
    assert response.status_code == 200
    opt_out.refresh_from_db()
    assert opt_out.opted_out is False
    assert set(Reminder.objects.filter(booking=booking).values_list("status", flat=True)) == {"pending"}
    assert [h.opted_out for h in opt_out.history.order_by("history_date")] == [True, False]


def test_the_opt_out_form_takes_only_patients_the_user_may_see(client, therapist, texted):
    # Clinical roles do not get this page; given the permissions, the form still refuses a
    # patient off their care team, whatever the POST names.
    therapist.user.user_permissions.add(*Permission.objects.filter(codename__in=["add_optout", "view_optout"]))
    own, other = texted(), PatientFactory.create(phone="+16175550177")
    client.force_login(therapist.user)
    refused = client.post("/admin/scheduling/optout/add/", {"patient": other.pk, "channel": "sms", "opted_out": "on"})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert not OptOut.objects.exists()
    taken = client.post("/admin/scheduling/optout/add/", {"patient": own.pk, "channel": "sms", "opted_out": "on"})
    assert taken.status_code == 302
    assert OptOut.objects.get().patient == own


def test_a_booking_page_lists_its_reminders(client, scheduler, texted, book):
    booking = book(texted())
    client.force_login(scheduler)
    page = client.get(f"/admin/scheduling/booking/{booking.pk}/change/").content.decode()
    assert page.count("Waiting for its time") == 2
