"""The admissions desk's scheduling pages: "Schedule an appointment" through the booking service,
the roster, the cancel action, autocompletes on people, and lists that cost the same whatever
they hold. The clock is Monday 23 November 2026, 10:00 in New York (tests/scheduling/conftest.py)."""

from datetime import UTC, datetime, time
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import ForeignKey, ManyToManyField

from clinic.models import AuditAction, AuditEvent
from clinic.roles import Role
from patients.models import CareTeamMember, Patient
from scheduling.models import Booking, BookingStatus, Session, SessionStaff, SessionStatus, SessionType
from scheduling.services.tracks import enrollment_create
from tests.patients.factories import PatientFactory, put_on_care_team

pytestmark = pytest.mark.django_db

SCHEDULE = "/admin/scheduling/session/schedule/"
PATIENTS = "/admin/scheduling/session/schedule/patients/"
STAFF = "/admin/scheduling/session/schedule/staff/"


@pytest.fixture
def desk_user(make_user):
    return make_user(Role.ADMISSIONS)


@pytest.fixture
def desk_browser(client, desk_user):
    client.force_login(desk_user)
    return client


def form(session_type, patient, staff, location, room=None, **fields):
    data = {
        "session_type": SessionType.objects.get(code=session_type).pk,
        "patient": patient.pk,
        "staff": [user.pk for user in staff],
        "location": location.pk,
        "room": room.pk if room else "",
        "date": "2026-11-24",
        "time": "10:00",
        "duration_minutes": "",
        "modality": "in_person" if room else "video",
    }
    return data | fields


def errors(response):
    form = response.context["form"]
    return {name: " ".join(messages) for name, messages in form.errors.items()}


def nothing_written(sessions, bookings, staff):
    return (Session.objects.count(), Booking.objects.count(), SessionStaff.objects.count()) == (
        sessions,
        bookings,
        staff,
    )


# --- Schedule an appointment -------------------------------------------------------------------


def test_it_books_an_intake_through_the_service_and_audits_it(desk_browser, desk_user, therapist, location, room):
    patient = PatientFactory.create()  # not admitted yet: an intake needs no episode
    page = desk_browser.get(SCHEDULE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<title>Schedule appointment" in html
    assert 'value="Schedule appointment"' in html
    for field in ("session_type", "patient", "staff", "location", "room", "date", "time", "duration_minutes"):
        assert f'id="id_{field}"' in html, field

    response = desk_browser.post(SCHEDULE, form("intake_assessment", patient, [therapist.user], location, room))

    assert response.status_code == 302
    assert response["Location"] == "/admin/scheduling/session/?day=2026-11-24"
    booking = Booking.objects.select_related("session").get(patient=patient)
    session = booking.session
    # 10:00 in New York is 15:00 UTC; the intake's usual 90 minutes.
    assert session.starts_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert session.ends_at == datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    assert (session.room, session.capacity, booking.booked_by) == (room, 1, desk_user)
    assert list(session.staff.values_list("user", flat=True)) == [therapist.user.pk]
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, actor=desk_user, patient_id=patient.public_id, via="admin"
    ).exists()
    listed = desk_browser.get(response["Location"]).content.decode()
    assert f"Booked: Intake assessment for {patient.legal_last_name}, {patient.legal_first_name}" in listed
    assert "Tue 24 Nov 2026 10:00-11:30 (America/New_York), Room A" in listed


def test_it_uses_the_duration_typed(desk_browser, therapist, location, admitted):
    patient = admitted("iop")
    data = form("individual_therapy", patient, [therapist.user], location, duration_minutes="45", time="13:15")
    assert desk_browser.post(SCHEDULE, data).status_code == 302
    session = Booking.objects.get(patient=patient).session
    assert (session.ends_at - session.starts_at).total_seconds() == 45 * 60
    assert session.modality == "video"


def test_it_shows_a_double_booking_on_the_form_and_writes_nothing(
    desk_browser, therapist, location, room, admitted, book
):
    book(admitted("iop"))  # the therapist: tomorrow 10:00-10:50, by video
    counts = (Session.objects.count(), Booking.objects.count(), SessionStaff.objects.count())
    other = admitted("iop")

    response = desk_browser.post(
        SCHEDULE, form("individual_therapy", other, [therapist.user], location, room, time="10:30")
    )

    assert response.status_code == 200
    found = errors(response)
    assert "A staff member is already in another session at that time" in found["__all__"]
    assert "2026-11-24 10:00-10:50" in found["__all__"]
    assert found["staff"] == "Already booked at that time."
    assert nothing_written(*counts)
    assert not Booking.objects.filter(patient=other).exists()
    # What was typed is still there, with the patient and the lead shown by name.
    html = response.content.decode()
    assert 'value="10:30"' in html
    assert f"{other.legal_last_name}, {other.legal_first_name} (MRN {other.mrn}, born 1980-05-17)" in html
    assert "errornote" in html


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("lead", "staff", "may not lead psychiatry (medication management): it needs a prescriber"),
        ("not admitted", "patient", "The patient has no active episode of care"),
        ("past", "time", "That time has passed"),
        ("in person without a room", "room", "An in-person appointment needs a room."),
    ],
)
def test_it_shows_the_services_refusals_as_form_errors(
    desk_browser, therapist, location, admitted, case, field, message
):
    patient = PatientFactory.create() if case == "not admitted" else admitted("iop")
    code = "psychiatry" if case == "lead" else "individual_therapy"
    data = form(code, patient, [therapist.user], location)
    if case == "past":
        data |= {"date": "2026-11-23", "time": "09:00"}
    if case == "in person without a room":
        data |= {"modality": "in_person"}

    response = desk_browser.post(SCHEDULE, data)

    assert response.status_code == 200
    found = errors(response)
    assert message in found["__all__"]
    assert field in found
    assert not Booking.objects.filter(patient=patient).exists()


def test_it_refuses_a_time_the_clocks_skip(desk_browser, therapist, location, admitted):
    # 14 March 2027: New York's clocks go from 02:00 to 03:00.
    data = form("individual_therapy", admitted("iop"), [therapist.user], location, date="2027-03-14", time="02:30")
    response = desk_browser.post(SCHEDULE, data)
    assert response.status_code == 200
    assert "There is no 02:30 on 2027-03-14 in America/New_York" in errors(response)["time"]
    assert not Booking.objects.exists()


def test_a_family_session_offers_the_patients_own_contacts(desk_browser, therapist, location, admitted):
    patient = admitted("iop")
    patient.contacts.create(name="Robin Doe", relationship="spouse", phone="+16175550123")
    stranger = PatientFactory.create()
    stranger.contacts.create(name="Someone Else", relationship="parent", phone="+16175550124")

    response = desk_browser.post(SCHEDULE, form("family_session", patient, [therapist.user], location))

    assert "Name the family members or support people taking part" in errors(response)["__all__"]
    html = response.content.decode()
    assert "Robin Doe (spouse)" in html
    assert "Someone Else" not in html


def test_it_prefills_the_patient_and_type_from_the_query_string_and_audits_the_read(desk_browser, desk_user, location):
    patient = PatientFactory.create()
    response = desk_browser.get(f"{SCHEDULE}?patient={patient.pk}&session_type=intake_assessment")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{patient.pk}" selected>{patient.legal_last_name}, {patient.legal_first_name}' in html
    intake = SessionType.objects.get(code="intake_assessment")
    assert f'<option value="{intake.pk}" selected>Intake assessment</option>' in html
    assert response.context["form"].initial["location"] == location.pk  # the only location
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, actor=desk_user, patient_id=patient.public_id, via="admin"
    ).exists()


def test_it_offers_one_to_one_types_only(desk_browser):
    choices = {label for _, label in desk_browser.get(SCHEDULE).context["form"].fields["session_type"].choices}
    assert "Group therapy" not in choices
    assert {"Intake assessment", "Individual therapy", "Nursing check", "Family session"} <= choices


def test_the_session_list_links_to_it_for_those_who_may_book(desk_browser, client, make_user):
    link = f'<a href="{SCHEDULE}" class="addlink">Schedule an appointment</a>'
    assert link in desk_browser.get("/admin/scheduling/session/").content.decode()
    client.force_login(make_user(Role.BILLING))
    page = client.get("/admin/scheduling/session/")
    assert page.status_code == 200
    assert "Schedule an appointment" not in page.content.decode()


def test_someone_signed_out_is_sent_to_sign_in(client, therapist, location, admitted):
    patient = admitted("iop")
    response = client.get(SCHEDULE)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    response = client.post(SCHEDULE, form("individual_therapy", patient, [therapist.user], location))
    assert response.status_code == 302
    assert not Booking.objects.exists()
    assert client.get(f"{PATIENTS}?term={patient.legal_last_name}").status_code == 302


@pytest.mark.parametrize("roles", [(), (Role.BILLING,)], ids=["no role", "billing"])
def test_a_role_that_may_not_book_is_refused(client, make_user, therapist, location, admitted, roles):
    patient = admitted("iop")
    client.force_login(make_user(*roles))
    assert client.get(SCHEDULE).status_code == 403
    response = client.post(SCHEDULE, form("individual_therapy", patient, [therapist.user], location))
    assert response.status_code == 403
    assert not Booking.objects.exists()
    assert client.get(f"{PATIENTS}?term={patient.legal_last_name}").status_code == 403
    assert client.get(f"{STAFF}?term=").status_code == 403


def test_a_clinician_books_for_their_own_patients_only(client, therapist, location, admitted, staff_of):
    mine = admitted("iop")
    theirs_off = PatientFactory.create()
    put_on_care_team(theirs_off, staff_of(Role.CLINICIAN).user)
    client.force_login(therapist.user)

    found = client.get(f"{PATIENTS}?term=Family").json()["results"]
    assert str(mine.pk) in {row["id"] for row in found}
    assert str(theirs_off.pk) not in {row["id"] for row in found}

    response = client.post(SCHEDULE, form("individual_therapy", theirs_off, [therapist.user], location))
    assert response.status_code == 200
    assert "patient" in errors(response)  # not a choice: as if they did not exist
    assert not Booking.objects.exists()
    assert client.post(SCHEDULE, form("individual_therapy", mine, [therapist.user], location)).status_code == 302


def test_the_patient_search_labels_people_and_is_audited(desk_browser, desk_user):
    patient = PatientFactory.create(legal_last_name="Okafor", legal_first_name="Ada")
    PatientFactory.create(legal_last_name="Smith")

    found = desk_browser.get(f"{PATIENTS}?term=okafor").json()

    assert found["results"] == [{"id": str(patient.pk), "text": f"Okafor, Ada (MRN {patient.mrn}, born 1980-05-17)"}]
    assert desk_browser.get(f"{PATIENTS}?term={patient.mrn}").json()["results"][0]["id"] == str(patient.pk)
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, actor=desk_user, patient_id=patient.public_id, via="admin"
    ).exists()


def test_the_staff_search_offers_those_who_may_lead_the_type(desk_browser, therapist, staff_of, make_user):
    doctor = staff_of(Role.PRESCRIBER).user
    nurse = staff_of(Role.NURSE).user
    make_user(Role.ADMISSIONS)  # never a lead
    psychiatry = SessionType.objects.get(code="psychiatry")

    anyone = {row["id"] for row in desk_browser.get(f"{STAFF}?term=").json()["results"]}
    for_psychiatry = desk_browser.get(f"{STAFF}?term=&session_type={psychiatry.pk}").json()["results"]

    assert anyone == {str(therapist.user.pk), str(doctor.pk), str(nurse.pk)}
    assert [row["id"] for row in for_psychiatry] == [str(doctor.pk)]
    assert for_psychiatry[0]["text"] == f"{doctor.get_full_name()}, LCSW (prescriber)"


# --- Roster ------------------------------------------------------------------------------------


@pytest.fixture
def group(make_track, admitted, therapist, staff_of):
    """Today's 14:00 group with two patients: one on the therapist's care team, one not."""
    track = make_track(capacity=10, rrule="FREQ=DAILY", start_time=time(14), duration_minutes=120)[0]
    mine = admitted("iop")
    other_clinician = staff_of(Role.CLINICIAN).user
    theirs = admitted("iop")
    CareTeamMember.objects.filter(patient=theirs, member=therapist.user).delete()
    put_on_care_team(theirs, other_clinician)
    for patient in (mine, theirs):
        enrollment_create(track=track, patient=patient, by=other_clinician)
    session = Session.objects.filter(track=track).earliest("starts_at")
    return session, mine, theirs


def test_the_roster_lists_only_the_patients_the_user_may_see(client, desk_user, therapist, group):
    session, mine, theirs = group
    url = f"/admin/scheduling/session/{session.pk}/roster/"
    client.force_login(therapist.user)
    html = client.get(url).content.decode()
    assert mine.mrn in html
    assert theirs.mrn not in html
    assert "2 of 10 places booked (1 of them not on your care teams, not shown)" in html
    client.force_login(desk_user)
    html = client.get(url).content.decode()
    assert mine.mrn in html
    assert theirs.mrn in html


def test_a_clinician_on_the_care_team_records_attendance_the_desk_does_not(client, desk_user, therapist, group, clock):
    session, mine, theirs = group
    url = f"/admin/scheduling/session/{session.pk}/roster/"
    clock.move_to("2026-11-23 21:00:00+00:00")  # 16:00 in New York: the group is over
    mine_booking = Booking.objects.get(session=session, patient=mine)
    theirs_booking = Booking.objects.get(session=session, patient=theirs)
    client.force_login(desk_user)
    page = client.get(url).content.decode()
    assert "Save attendance" not in page
    assert "Attendance is recorded by clinical staff" in page
    assert client.post(url, {f"attendance-{mine_booking.pk}": "present"}).status_code == 403

    client.force_login(therapist.user)
    assert 'value="Save attendance"' in client.get(url).content.decode()
    # A booking off the care team posted by hand is not on this user's roster: left alone.
    posted = {f"attendance-{mine_booking.pk}": "present", f"attendance-{theirs_booking.pk}": "absent"}
    response = client.post(url, posted, follow=True)

    assert "Attendance saved for 1 patient(s)." in response.content.decode()
    mine_booking.refresh_from_db()
    theirs_booking.refresh_from_db()
    assert (mine_booking.attendance, mine_booking.minutes_attended, mine_booking.attendance_recorded_by) == (
        "present",
        120,
        therapist.user,
    )
    assert theirs_booking.attendance == ""
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, actor=therapist.user, patient_id=mine.public_id, via="admin"
    ).exists()


# --- Cancel the session ------------------------------------------------------------------------


def test_cancelling_asks_why_then_cancels_through_the_service(desk_browser, desk_user, admitted, book):
    patient = admitted("iop")
    booking = book(patient)
    changelist = "/admin/scheduling/session/?day=tomorrow"
    chosen = {"action": "cancel_sessions", "_selected_action": [booking.session_id]}

    asked = desk_browser.post(changelist, chosen)
    assert asked.status_code == 200
    assert "1 session(s) selected, 1 booking(s) in them." in asked.content.decode()
    assert Session.objects.get().status == SessionStatus.SCHEDULED

    done = desk_browser.post(changelist, chosen | {"reason": "Therapist off sick"}, follow=True)

    assert "1 session(s) cancelled, with their bookings." in done.content.decode()
    session = Session.objects.get()
    booking.refresh_from_db()
    assert (session.status, session.cancel_reason) == (SessionStatus.CANCELLED, "Therapist off sick")
    assert (booking.status, booking.cancelled_by) == (BookingStatus.CANCELLED, "clinic")
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, actor=desk_user, patient_id=patient.public_id, reason="Therapist off sick"
    ).exists()


def test_billing_is_not_offered_the_cancel_action(client, make_user, admitted, book):
    booking = book(admitted("iop"))
    client.force_login(make_user(Role.BILLING))
    page = client.get("/admin/scheduling/session/?day=tomorrow")
    assert "cancel_sessions" not in page.content.decode()
    chosen = {"action": "cancel_sessions", "_selected_action": [booking.session_id], "reason": "No"}
    client.post("/admin/scheduling/session/?day=tomorrow", chosen)
    assert Session.objects.get().status == SessionStatus.SCHEDULED


# --- Lists: related names without a query per row ---------------------------------------------


def pinned(client, url, django_assert_max_num_queries, grow):
    with django_assert_max_num_queries(40) as small:
        response = client.get(url)
        assert response.status_code == 200
    rows = len(response.context["cl"].result_list)
    count = len(small.captured_queries)
    grow()
    with django_assert_max_num_queries(count):
        response = client.get(url)
        assert response.status_code == 200
    assert len(response.context["cl"].result_list) > rows  # the list did grow


def test_the_session_list_keeps_its_query_count(desk_browser, admitted, book, django_assert_max_num_queries):
    def book_three_more():
        for hour in (11, 12, 13):
            book(admitted("iop"), starts_at=datetime(2026, 11, 24, hour + 5, 0, tzinfo=UTC))

    book(admitted("iop"))
    pinned(desk_browser, "/admin/scheduling/session/?day=tomorrow", django_assert_max_num_queries, book_three_more)


def test_the_booking_list_keeps_its_query_count(desk_browser, admitted, book, django_assert_max_num_queries):
    def book_three_more():
        for hour in (11, 12, 13):
            book(admitted("iop"), starts_at=datetime(2026, 11, 24, hour + 5, 0, tzinfo=UTC))

    patient = admitted("iop")
    book(patient)
    pinned(desk_browser, "/admin/scheduling/booking/", django_assert_max_num_queries, book_three_more)
    listed = desk_browser.get("/admin/scheduling/booking/").content.decode()
    assert f"{patient.legal_last_name}, {patient.legal_first_name}" in listed


# --- Autocomplete on people --------------------------------------------------------------------


def editable_people_fields(request, app_label):
    """(admin or inline, field name) for each foreign key or many-to-many to a patient or a user
    that an add or change form of `app_label`'s admin shows as an input."""
    people = {Patient, get_user_model()}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != app_label:
            continue
        forms: list[tuple[Any, Any, bool]] = [
            (
                model_admin,
                model,
                model_admin.has_add_permission(request) or model_admin.has_change_permission(request, model()),
            )
        ]
        for inline in model_admin.get_inline_instances(request):
            editable = inline.has_add_permission(request, None) or inline.has_change_permission(request, None)
            forms.append((inline, inline.model, editable))
        for owner, shown_model, editable in forms:
            if not editable:
                continue
            readonly = set(owner.get_readonly_fields(request))
            for name in owner.get_fields(request):
                field = next((f for f in shown_model._meta.get_fields() if f.name == name), None)
                person = isinstance(field, ForeignKey | ManyToManyField) and field.related_model in people
                if person and name not in readonly and name != getattr(owner, "fk_name", None):
                    yield owner, name


@pytest.mark.parametrize("app_label", ["scheduling", "tapers"])
def test_every_editable_field_naming_a_person_is_an_autocomplete(rf, make_user, app_label):
    request = rf.get("/admin/")
    request.user = make_user(is_superuser=True)
    fields = list(editable_people_fields(request, app_label))
    assert fields, "nothing to check"  # GroupTrack.facilitators, OptOut.patient; Prescriber.staff
    for owner, name in fields:
        assert name in owner.autocomplete_fields, f"{type(owner).__name__}.{name}"
