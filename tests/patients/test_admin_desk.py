"""The admissions desk in the admin: record and revoke consents, admit to a level of care, change
the level (clinical staff), the episodes on the patient page, and the pickers, each through the
same service as the API, scoped and audited like it."""

from datetime import date

import pytest
import time_machine
from django.contrib.auth.models import Permission

from clinic.errors import Conflict
from clinic.models import AuditAction, AuditEvent, LevelOfCare
from clinic.roles import Role
from patients.consents import RIGHT_TO_REVOKE
from patients.models import Consent, EpisodeOfCare, LevelOfCareStay
from patients.services.consents import consent_record
from patients.services.episodes import episode_admit, episode_discharge
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today():
    # Monday 23 November 2026, 10:00 in New York.
    with time_machine.travel("2026-11-23 15:00:00+00:00", tick=False):
        yield


@pytest.fixture
def desk(make_user):
    return make_user(Role.ADMISSIONS)


@pytest.fixture
def billing(make_user):
    return make_user(Role.BILLING)


def consent_form(patient, **changes) -> dict[str, object]:
    """What the consent page posts: the patient's consent to tell Dr. Lee Park about their medications."""
    return {
        "patient": str(patient.pk),
        "recipient_type": "outside_prescriber",
        "recipient_name": "Dr. Lee Park",
        "information": ["medications", "attendance"],
        "amount_and_kind": "Current taper plan and attendance for the past month",
        "purposes": ["care_coordination"],
        "effective_on": "2026-11-23",
        "expires_on": "2027-11-23",
        "expiry_event": "",
        "signed_at_0": "2026-11-23",
        "signed_at_1": "09:45",
        "signature_method": "electronic",
        "witness_name": "",
        "right_to_revoke_statement": RIGHT_TO_REVOKE,
        **changes,
    }


def record_consent(patient, by, recipient_name="Dr. Lee Park") -> Consent:
    return consent_record(
        patient=patient,
        by=by,
        recipient_type="outside_prescriber",
        recipient_name=recipient_name,
        information=["medications"],
        amount_and_kind="Current taper plan",
        purposes=["care_coordination"],
        effective_on=date(2026, 11, 1),
        expires_on=date(2027, 11, 1),
        signed_at="2026-11-01T10:00:00-05:00",
        signature_method="wet",
    )


def admit(patient, by, level="iop", on=date(2026, 11, 23)) -> EpisodeOfCare:
    reason = "" if on == date(2026, 11, 23) else "Admitted on paper first"
    return episode_admit(
        patient=patient, level=LevelOfCare.objects.get(code=level), admitted_on=on, reason=reason, by=by
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def form_errors(response) -> dict[str, list[str]]:
    form = response.context["form"] if "form" in response.context else response.context["adminform"].form
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


# --- recording a consent -------------------------------------------------------------------------


def test_the_desk_records_a_consent_from_the_patient_page_through_the_service(client, desk):
    patient = PatientFactory.create(legal_first_name="Ana", legal_last_name="Ruiz")
    client.force_login(desk)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    add_url = f"/admin/patients/consent/add/?patient={patient.pk}"
    assert f'href="{add_url}">Add a consent</a>' in page

    reads_before = AuditEvent.objects.filter(action=AuditAction.READ).count()
    form = client.get(add_url)
    assert form.status_code == 200
    html = form.content.decode()
    # The patient is picked already, by name, and the statement of § 2.31(a)(5) is there to read.
    assert f"{patient.mrn} · Ruiz, Ana · born 1980-05-17" in html
    assert form.context["adminform"].form.initial["right_to_revoke_statement"] == RIGHT_TO_REVOKE
    assert 'value="Record consent"' in html
    # The page names the patient it was opened for: a read of that patient.
    read = AuditEvent.objects.filter(action=AuditAction.READ).order_by("-id")
    assert read.count() == reads_before + 1
    assert (read[0].object_type, read[0].actor, read[0].patient_id) == ("patients.Patient", desk, patient.public_id)
    for field in ("recipient_type", "recipient_name", "amount_and_kind", "effective_on", "witness_name"):
        assert f'id="id_{field}"' in html

    response = client.post(add_url, consent_form(patient), follow=True)
    assert response.redirect_chain[-1][0] == f"/admin/patients/patient/{patient.pk}/change/"
    assert "Consent recorded: Dr. Lee Park, for coordination of care." in messages_of(response)
    consent = Consent.objects.get()
    assert (consent.patient, consent.recorded_by, consent.information) == (patient, desk, ["medications", "attendance"])
    assert consent.right_to_revoke_statement == RIGHT_TO_REVOKE
    created = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="patients.Consent")
    assert (created.actor, created.via, created.patient_id) == (desk, "admin", patient.public_id)
    # On the patient page's consents, in words, with a link to the consent's own page.
    page = response.content.decode()
    assert "Medications and taper plan, Attendance and participation" in page
    assert f'href="/admin/patients/consent/{consent.pk}/change/">View</a>' in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signature_method": "verbal_witnessed"}, "A verbal consent needs the witness's name."),
        ({"expires_on": ""}, "A consent needs an expiry date or an expiry event (42 CFR 2.31(a))."),
        ({"expires_on": "2026-11-01"}, "A consent cannot expire before it takes effect."),
    ],
)
def test_a_consent_the_rules_refuse_is_a_form_error_and_nothing_is_saved(client, desk, changes, message):
    patient = PatientFactory.create()
    client.force_login(desk)
    response = client.post("/admin/patients/consent/add/", consent_form(patient, **changes))
    assert response.status_code == 200
    assert message in form_errors(response)["__all__"]
    assert response.context["adminform"].form["recipient_name"].value() == "Dr. Lee Park"  # what was typed, kept
    assert not Consent.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE).exists()


def test_a_consent_needs_information_and_a_purpose_ticked(client, desk):
    patient = PatientFactory.create()
    client.force_login(desk)
    response = client.post("/admin/patients/consent/add/", consent_form(patient, information=[], purposes=[]))
    assert response.status_code == 200
    assert set(form_errors(response)) >= {"information", "purposes"}
    assert not Consent.objects.exists()


def test_a_refusal_the_form_cannot_foresee_is_shown_on_the_form_with_what_was_typed(client, desk, monkeypatch):
    # Whatever the service refuses after the form's own checks (here, a stand-in for a race): the
    # form again, the service's sentence above it and its notes on the fields, nothing saved.
    def refuse(**kwargs):
        raise Conflict("Someone recorded this consent a moment ago.", extra={"fields": {"recipient_name": ["Taken."]}})

    monkeypatch.setattr("patients.admin.consents.consent_record", refuse)
    patient = PatientFactory.create()
    client.force_login(desk)
    response = client.post("/admin/patients/consent/add/", consent_form(patient))
    assert response.status_code == 200
    errors = form_errors(response)
    assert errors["__all__"] == ["Someone recorded this consent a moment ago."]
    assert errors["recipient_name"] == ["Taken."]
    assert response.context["adminform"].form["amount_and_kind"].value().startswith("Current taper plan")
    assert not Consent.objects.exists()


def test_billing_reads_consents_but_neither_records_nor_revokes_them(client, desk, billing):
    patient = PatientFactory.create()
    record_consent(patient, desk)
    client.force_login(billing)
    listing = client.get("/admin/patients/consent/")
    assert listing.status_code == 200
    assert "Dr. Lee Park" in listing.content.decode()
    assert 'value="revoke"' not in listing.content.decode()
    assert client.get("/admin/patients/consent/add/").status_code == 403
    assert "Add a consent" not in client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    consent = Consent.objects.get()
    client.post("/admin/patients/consent/", {"action": "revoke", "_selected_action": [consent.pk], "confirm": "yes"})
    consent.refresh_from_db()
    assert consent.revoked_at is None


def test_a_clinician_records_and_sees_consents_of_their_care_teams_patients_only(client, clinician, patient, desk):
    stranger = PatientFactory.create()
    record_consent(stranger, desk, recipient_name="Stranger's therapist")
    client.force_login(clinician)
    response = client.post("/admin/patients/consent/add/", consent_form(stranger))
    assert response.status_code == 200
    assert "Select a valid choice" in form_errors(response)["patient"][0]
    assert client.post("/admin/patients/consent/add/", consent_form(patient)).status_code == 302
    listing = client.get("/admin/patients/consent/").content.decode()
    assert "Dr. Lee Park" in listing
    assert "Stranger&#x27;s therapist" not in listing
    assert client.get(f"/admin/patients/consent/{Consent.objects.get(patient=stranger).pk}/change/").status_code == 302


def test_a_recorded_consent_is_read_only_and_its_page_is_audited(client, desk):
    patient = PatientFactory.create()
    consent = record_consent(patient, desk)
    client.force_login(desk)
    page = client.get(f"/admin/patients/consent/{consent.pk}/change/")
    assert page.status_code == 200
    assert 'name="recipient_name"' not in page.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.READ)
    assert (event.object_type, event.patient_id, event.via) == ("patients.Consent", patient.public_id, "admin")
    client.post(f"/admin/patients/consent/{consent.pk}/change/", {"recipient_name": "Someone else"})
    consent.refresh_from_db()
    assert consent.recipient_name == "Dr. Lee Park"


# --- revoking --------------------------------------------------------------------------------------


def test_the_desk_revokes_consents_after_confirming(client, desk):
    patient = PatientFactory.create(legal_last_name="Ruiz")
    consent = record_consent(patient, desk)
    client.force_login(desk)
    assert (
        '<option value="revoke">Revoke the selected consents</option>'
        in client.get("/admin/patients/consent/").content.decode()
    )
    confirm = client.post("/admin/patients/consent/", {"action": "revoke", "_selected_action": [consent.pk]})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert 'value="Revoke"' in html
    assert f"{patient.mrn} (Ruiz," in html
    consent.refresh_from_db()
    assert consent.revoked_at is None  # not before the second click

    done = client.post(
        "/admin/patients/consent/",
        {"action": "revoke", "_selected_action": [consent.pk], "confirm": "yes"},
        follow=True,
    )
    assert "1 consent(s) revoked." in messages_of(done)
    consent.refresh_from_db()
    assert (consent.revoked_by, consent.revoked_at is not None) == (desk, True)
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="patients.Consent")
    assert (event.actor, event.via) == (desk, "admin")

    again = client.post(
        "/admin/patients/consent/",
        {"action": "revoke", "_selected_action": [consent.pk], "confirm": "yes"},
        follow=True,
    )
    assert f"{patient.mrn}, Dr. Lee Park: This consent was already revoked." in messages_of(again)


def test_the_consent_list_audits_each_row_and_costs_the_same_whatever_its_length(
    client, desk, django_assert_max_num_queries
):
    for _ in range(2):
        record_consent(PatientFactory.create(), desk)
    client.force_login(desk)
    client.get("/admin/patients/consent/")  # the session and permission caches, warm
    # Session, user, whether the user has an authenticator (the admin's second factor), permissions,
    # roles, two counts, the page, one audit INSERT, the date drill-down.
    with django_assert_max_num_queries(12) as small:
        assert client.get("/admin/patients/consent/").status_code == 200
    for _ in range(8):
        record_consent(PatientFactory.create(), desk)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/admin/patients/consent/")
    assert response.context["cl"].result_count == 10
    shown = AuditEvent.objects.filter(action=AuditAction.LIST, object_type="patients.Consent")
    assert shown.count() == 2 + 2 + 10


# --- picking patients and staff --------------------------------------------------------------------


def test_the_patient_picker_names_the_patients_the_user_may_see_and_audits_them(client, clinician, patient):
    PatientFactory.create(legal_last_name=patient.legal_last_name + "x")  # off the care team
    client.force_login(clinician)
    url = "/admin/patients/patient/autocomplete/?app_label=patients&model_name=consent&field_name=patient"
    response = client.get(url + "&term=" + patient.legal_last_name[:-1])
    assert response.status_code == 200
    results = response.json()["results"]
    assert results == [
        {
            "id": str(patient.pk),
            "text": f"{patient.mrn} · {patient.legal_last_name}, {patient.legal_first_name} · born 1980-05-17",
        }
    ]
    event = AuditEvent.objects.get(action=AuditAction.LIST)
    assert (event.patient_id, event.via) == (patient.public_id, "admin")
    by_date = client.get(url + "&term=1980-05-17").json()["results"]
    assert [row["id"] for row in by_date] == [str(patient.pk)]


def test_the_patient_picker_answers_only_for_patient_fields(client, desk):
    client.force_login(desk)
    url = "/admin/patients/patient/autocomplete/?app_label=patients&model_name=careteammember&field_name=member"
    assert client.get(url).status_code == 403


def test_the_desk_picks_active_colleagues_for_a_care_team_without_the_user_admin(client, desk, billing, make_user):
    colleague = make_user(Role.NURSE, last_name="Okafor")
    make_user(Role.NURSE, last_name="Okafor-Gone", is_active=False)
    url = "/admin/autocomplete/?app_label=patients&model_name=careteammember&field_name=member&term=Okafor"
    client.force_login(desk)
    response = client.get(url)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(colleague.pk)]
    assert client.get("/admin/auth/user/").status_code == 403  # the user admin itself stays closed
    client.force_login(billing)  # may not change a care team: no picker either
    assert client.get(url).status_code == 403


# --- admitting to a level of care ------------------------------------------------------------------


def test_the_desk_admits_to_a_level_from_the_patient_page(client, desk):
    patient = PatientFactory.create()
    client.force_login(desk)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    admit_url = f"/admin/patients/patient/{patient.pk}/admit/"
    assert f'href="{admit_url}">Admit to a level of care</a>' in page
    assert "Not admitted yet." in page

    form = client.get(admit_url)
    assert form.status_code == 200
    assert form.context["form"].initial["admitted_on"] == date(2026, 11, 23)
    levels = [label for _, label in form.context["form"].fields["level"].choices]
    assert levels == ["---------", "Partial hospitalization (PHP)", "Intensive outpatient (IOP)", "Outpatient"]
    html = form.content.decode()
    assert 'value="Admit"' in html
    assert all(f'id="id_{field}"' in html for field in ("level", "admitted_on", "reason"))

    response = client.post(admit_url, {"level": "iop", "admitted_on": "2026-11-23", "reason": ""}, follow=True)
    assert response.redirect_chain[-1][0] == f"/admin/patients/patient/{patient.pk}/change/"
    assert f"{patient.mrn}: admitted to Intensive outpatient (IOP) on 2026-11-23." in messages_of(response)
    episode = EpisodeOfCare.objects.get(patient=patient)
    stay = episode.stays.get()
    assert (stay.level.code, stay.kind, stay.decided_by, episode.intake_assessment) == ("iop", "admission", desk, None)
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, via="admin", patient_id=patient.public_id).count() == 2
    # The episodes table on the patient page, and no second admission offered.
    page = response.content.decode()
    assert f'href="/admin/patients/episodeofcare/{episode.pk}/change/">2026-11-23</a>' in page
    assert "Intensive outpatient (IOP)" in page
    assert "Admit to a level of care</a>" not in page


@pytest.mark.parametrize(
    ("post", "field", "error"),
    [
        ({"level": "residential"}, "level", "Select a valid choice"),
        ({"admitted_on": "2026-11-24"}, "admitted_on", "In the future."),
        ({"admitted_on": "2026-01-02", "reason": "Paper chart"}, "admitted_on", "Earlier than"),
    ],
)
def test_an_admission_the_rules_refuse_is_a_form_error_and_nothing_is_written(client, desk, post, field, error):
    patient = PatientFactory.create()
    client.force_login(desk)
    response = client.post(
        f"/admin/patients/patient/{patient.pk}/admit/", {"level": "iop", "admitted_on": "2026-11-23", **post}
    )
    assert response.status_code == 200
    assert error in " ".join(form_errors(response)[field])
    assert not EpisodeOfCare.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE).exists()


def test_a_patient_already_admitted_is_not_admitted_twice(client, desk):
    patient = PatientFactory.create()
    admit(patient, desk)
    client.force_login(desk)
    response = client.post(
        f"/admin/patients/patient/{patient.pk}/admit/", {"level": "php", "admitted_on": "2026-11-23"}
    )
    assert response.status_code == 200
    assert form_errors(response)["__all__"] == ["The patient is already admitted; step them up or down instead."]
    assert LevelOfCareStay.objects.count() == 1


def test_the_admit_action_opens_the_page_for_one_patient(client, desk):
    one, two = PatientFactory.create_batch(2)
    client.force_login(desk)
    listing = client.get("/admin/patients/patient/").content.decode()
    assert "Admit to a level of care…" in listing
    response = client.post("/admin/patients/patient/", {"action": "admit_to_level", "_selected_action": [one.pk]})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/patients/patient/{one.pk}/admit/"
    both = client.post(
        "/admin/patients/patient/", {"action": "admit_to_level", "_selected_action": [one.pk, two.pk]}, follow=True
    )
    assert "Choose one patient to admit at a time." in messages_of(both)


def test_billing_cannot_admit_and_is_not_offered_to(client, billing):
    patient = PatientFactory.create()
    client.force_login(billing)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    assert "Admit to a level of care" not in page
    url = f"/admin/patients/patient/{patient.pk}/admit/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"level": "iop", "admitted_on": "2026-11-23"}).status_code == 403
    assert not EpisodeOfCare.objects.exists()


def test_a_clinician_admits_only_their_care_teams_patients(client, clinician, patient):
    stranger = PatientFactory.create()
    client.force_login(clinician)
    assert client.get(f"/admin/patients/patient/{stranger.pk}/admit/").status_code == 404
    response = client.post(
        f"/admin/patients/patient/{patient.pk}/admit/", {"level": "php", "admitted_on": "2026-11-23"}
    )
    assert response.status_code == 302
    assert EpisodeOfCare.objects.get().patient == patient


def test_the_admit_page_is_audited_as_a_read_of_the_patient(client, desk):
    patient = PatientFactory.create()
    client.force_login(desk)
    client.get(f"/admin/patients/patient/{patient.pk}/admit/")
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, event.patient_id, event.via) == (
        AuditAction.READ,
        "patients.Patient",
        patient.public_id,
        "admin",
    )


# --- changing the level of care ----------------------------------------------------------------------


def test_a_clinician_steps_a_patient_down_from_the_episode_page(client, clinician, patient):
    episode = admit(patient, clinician, level="php", on=date(2026, 11, 16))
    client.force_login(clinician)
    page = client.get(f"/admin/patients/episodeofcare/{episode.pk}/change/").content.decode()
    url = f"/admin/patients/episodeofcare/{episode.pk}/change-level/"
    assert f'href="{url}">Change level of care</a>' in page
    assert "Partial hospitalization (PHP)</strong> since 2026-11-16" in page

    form = client.get(url)
    assert form.status_code == 200
    offered = [label for _, label in form.context["form"].fields["to_level"].choices]
    assert "Partial hospitalization (PHP)" not in offered  # the current level
    assert "Residential (clinically managed, high intensity): refer out, ends this episode" in offered
    assert 'value="Change level of care"' in form.content.decode()

    response = client.post(
        url, {"to_level": "iop", "effective_on": "2026-11-23", "reason": "Stable for a week"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/admin/patients/episodeofcare/{episode.pk}/change/"
    assert f"{patient.mrn}: step down to Intensive outpatient (IOP) from 2026-11-23." in messages_of(response)
    stays = list(episode.stays.order_by("started_on").values_list("level__code", "ended_on", "kind", "reason"))
    assert stays == [
        ("php", date(2026, 11, 23), "admission", "Admitted on paper first"),
        ("iop", None, "step_down", "Stable for a week"),
    ]
    event = AuditEvent.objects.get(
        action=AuditAction.CREATE, object_type="patients.LevelOfCareStay", reason="Stable for a week"
    )
    assert (event.actor, event.via) == (clinician, "admin")


def test_a_transfer_out_ends_the_episode(client, clinician, patient):
    episode = admit(patient, clinician, level="iop", on=date(2026, 11, 16))
    client.force_login(clinician)
    residential = LevelOfCare.objects.get(code="residential")
    response = client.post(
        f"/admin/patients/episodeofcare/{episode.pk}/change-level/",
        {"to_level": "residential", "effective_on": "2026-11-23", "reason": "Relapsed; needs 24-hour care"},
        follow=True,
    )
    assert (
        f"{patient.mrn}: referred out to {residential.name}; the episode of care ended on 2026-11-23."
        in messages_of(response)
    )
    episode.refresh_from_db()
    assert (episode.discharged_on, episode.discharge_reason) == (date(2026, 11, 23), "stepped_up_elsewhere")
    assert "Change level of care</a>" not in response.content.decode()


@pytest.mark.parametrize(
    ("post", "field", "error"),
    [
        ({"reason": ""}, "reason", "This field is required."),
        ({"effective_on": "2026-11-16"}, "__all__", "The current stay began on 2026-11-16"),
        ({"effective_on": "2026-11-24"}, "effective_on", "In the future."),
        ({"to_level": "php"}, "to_level", "Select a valid choice"),
    ],
)
def test_a_change_of_level_the_rules_refuse_is_a_form_error_and_nothing_is_written(
    client, clinician, patient, post, field, error
):
    episode = admit(patient, clinician, level="php", on=date(2026, 11, 16))
    data = {"to_level": "iop", "effective_on": "2026-11-23", "reason": "Stable for a week", **post}
    client.force_login(clinician)
    response = client.post(f"/admin/patients/episodeofcare/{episode.pk}/change-level/", data)
    assert response.status_code == 200
    assert error in " ".join(form_errors(response)[field])
    assert episode.stays.get().ended_on is None


def test_the_desk_may_not_change_a_level_of_care_and_is_not_offered_to(client, desk, patient):
    episode = admit(patient, desk, on=date(2026, 11, 16))
    client.force_login(desk)
    page = client.get(f"/admin/patients/episodeofcare/{episode.pk}/change/")
    assert page.status_code == 200
    assert "Change level of care" not in page.content.decode()
    url = f"/admin/patients/episodeofcare/{episode.pk}/change-level/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"to_level": "outpatient", "effective_on": "2026-11-23", "reason": "x"}).status_code == 403
    assert episode.stays.count() == 1


def test_a_clinician_off_the_care_team_cannot_find_the_episode(client, make_user, desk):
    episode = admit(PatientFactory.create(), desk, on=date(2026, 11, 16))
    client.force_login(make_user(Role.CLINICIAN))
    assert client.get(f"/admin/patients/episodeofcare/{episode.pk}/change-level/").status_code == 404


def test_an_ended_episode_offers_no_change_of_level(client, clinician, patient):
    episode = admit(patient, clinician, on=date(2026, 11, 16))
    episode_discharge(
        episode=episode,
        discharged_on=date(2026, 11, 23),
        reason="completed",
        aftercare={"safety_plan": "Call or text 988"},
        by=clinician,
    )
    client.force_login(clinician)
    response = client.get(f"/admin/patients/episodeofcare/{episode.pk}/change-level/", follow=True)
    assert "This episode of care has ended; admit the patient again." in messages_of(response)
    assert "Change level of care</a>" not in response.content.decode()


def test_the_change_level_page_is_audited_as_a_read_of_the_episode(client, clinician, patient):
    episode = admit(patient, clinician, on=date(2026, 11, 16))
    client.force_login(clinician)
    client.get(f"/admin/patients/episodeofcare/{episode.pk}/change-level/")
    event = AuditEvent.objects.get(action=AuditAction.READ)
    assert (event.object_type, event.patient_id, event.via) == ("patients.EpisodeOfCare", patient.public_id, "admin")


# --- roles --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.BILLING, Role.CLINIC_ADMIN])
def test_intake_assessments_stay_clinical_even_with_the_permission_given_by_hand(client, make_user, role):
    user = make_user(role)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_intakeassessment", "add_intakeassessment"])
    )
    client.force_login(user)
    assert client.get("/admin/patients/intakeassessment/").status_code == 403
    assert client.get("/admin/patients/intakeassessment/add/").status_code == 403
    assert "/admin/patients/intakeassessment/" not in client.get("/admin/").content.decode()


def test_the_patient_page_shows_episodes_to_billing_without_the_verbs(client, billing, desk):
    patient = PatientFactory.create()
    episode = admit(patient, desk)
    client.force_login(billing)
    page = client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    assert f'href="/admin/patients/episodeofcare/{episode.pk}/change/">2026-11-23</a>' in page
    assert "Admit to a level of care" not in page
    assert "Add a consent" not in page
