"""The reminder pages of the admin: the policy, the outbox, the desk's queue, opt-outs."""

import pytest

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from scheduling.models import ReminderPolicy, StaffTask, StaffTaskKind

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
