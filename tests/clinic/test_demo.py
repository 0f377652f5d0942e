import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from clinic.demo import demo_password
from clinic.models import Location, Room
from clinic.roles import Role, roles_of
from patients.models import CareTeamMember, EpisodeOfCare, Patient

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", "--allow-without-debug", stdout=out)
    return out.getvalue()


def test_it_creates_a_location_rooms_a_user_per_role_and_patients():
    output = seed()
    assert Location.objects.count() == 1
    assert Room.objects.count() == 3
    assert Patient.objects.count() == 4
    for role in Role:
        # A login as the admin or the API makes it (django-axes counts failures per request).
        login = RequestFactory().post("/admin/login/")
        user = authenticate(login, username=role.value, password=demo_password(role.value))
        assert user is not None, role
        assert roles_of(user) == {role.value}
        assert demo_password(role.value) in output
    assert get_user_model().objects.get(username="admin").is_superuser


def test_running_it_again_changes_nothing():
    seed()
    counts = (Location.objects.count(), Room.objects.count(), Patient.objects.count(), get_user_model().objects.count())
    output = seed()
    assert (
        Location.objects.count(),
        Room.objects.count(),
        Patient.objects.count(),
        get_user_model().objects.count(),
    ) == counts
    assert "0 created, 4 already there" in output


def test_it_refuses_to_run_with_debug_off_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not Patient.objects.exists()


def test_demo_mrns_are_unique_and_sequential():
    seed()
    mrns = sorted(Patient.objects.values_list("mrn", flat=True))
    assert len(set(mrns)) == 4
    assert all(m.startswith("MRN") and len(m) == 10 for m in mrns)


def test_the_demo_clinician_cares_for_the_admitted_demo_patients():
    seed()
    seed()
    clinician = get_user_model().objects.get(username="clinician")
    admitted = Patient.objects.filter(status="admitted")
    assert admitted.count() == 2
    assert set(admitted.values_list("pk", flat=True)) == set(
        CareTeamMember.objects.filter(member=clinician, ended_on=None).values_list("patient_id", flat=True)
    )


def test_the_admitted_demo_patients_came_through_intake_to_php_once():
    seed()
    seed()
    episodes = EpisodeOfCare.objects.select_related("intake_assessment__decided_level")
    assert episodes.count() == 2
    for episode in episodes:
        intake = episode.intake_assessment
        assert intake is not None
        assert intake.decided_level is not None
        assert (intake.decision, intake.decided_level.code) == ("confirmed", "php")
        assert episode.stays.get().level.code == "php"


def test_the_demo_has_group_tracks_with_the_admitted_patients_enrolled():
    from scheduling.models import Booking, GroupTrack, TrackEnrollment

    seed()
    seed()
    assert GroupTrack.objects.count() == 2
    assert TrackEnrollment.objects.filter(track__name="PHP day program").count() == 2
    assert Booking.objects.filter(status="booked").exists()


def test_admitted_demo_patients_are_insured_and_authorized_once():
    from insurance.models import Authorization, Coverage

    output = seed()
    admitted = Patient.objects.filter(episodes__discharged_on__isnull=True).distinct().count()
    assert Coverage.objects.count() == admitted > 0
    assert Authorization.objects.filter(status="approved").exists()
    assert f"{admitted} new coverages" in output
    seed()
    assert Coverage.objects.count() == admitted
