from decimal import Decimal

import pytest

from clinic.models import AuditEvent, LevelOfCare
from clinic.roles import Role
from tests.clinic.factories import LocationFactory, RoomFactory, StaffProfileFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", list(Role))
def test_every_role_can_read_locations(make_user, client_for, role):
    location = LocationFactory.create(name="North Office")
    response = client_for(make_user(role)).get("/api/v1/locations/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == str(location.public_id)
    assert row["time_zone"] == "America/New_York"
    assert "pk" not in row


def test_reference_data_is_read_only(clinician_client):
    location = LocationFactory.create()
    assert clinician_client.post("/api/v1/locations/", {"name": "x"}, format="json").status_code == 405
    assert clinician_client.patch(f"/api/v1/locations/{location.public_id}/", {}, format="json").status_code == 405


def test_rooms_filter_by_location(clinician_client):
    room = RoomFactory.create(is_virtual=True)
    RoomFactory.create()
    response = clinician_client.get(f"/api/v1/rooms/?location={room.location.public_id}")
    assert [r["id"] for r in response.json()["results"]] == [str(room.public_id)]
    assert response.json()["results"][0]["location"] == str(room.location.public_id)


def test_a_bad_filter_value_is_a_400_naming_the_field(clinician_client):
    response = clinician_client.get("/api/v1/rooms/?location=not-a-uuid")
    assert response.status_code == 400
    assert "location" in response.json()["extra"]["fields"]


def test_staff_list_shows_roles_and_filters_by_role(clinician_client):
    prescriber = StaffProfileFactory.create(
        user=UserFactory.create(roles=[Role.PRESCRIBER]), npi="1234567893", credentials="MD"
    )
    StaffProfileFactory.create(user=UserFactory.create(roles=[Role.NURSE]))
    response = clinician_client.get("/api/v1/staff/?role=prescriber")
    [row] = response.json()["results"]
    assert row["id"] == str(prescriber.public_id)
    assert row["roles"] == ["prescriber"]
    assert row["npi"] == "1234567893"


def test_staff_list_queries_do_not_grow_with_rows(clinician_client, django_assert_num_queries):
    StaffProfileFactory.create_batch(2, user__roles=[Role.NURSE])
    # the token with its user and roles (one query), then the list's own
    with django_assert_num_queries(4) as first:
        clinician_client.get("/api/v1/staff/")
    StaffProfileFactory.create_batch(15, user__roles=[Role.CLINICIAN])
    with django_assert_num_queries(len(first.captured_queries)):
        response = clinician_client.get("/api/v1/staff/")
    assert response.json()["count"] == 17


def test_reading_reference_data_writes_no_patient_audit_event(clinician_client):
    LocationFactory.create()
    clinician_client.get("/api/v1/locations/")
    assert not AuditEvent.objects.exists()


def test_levels_of_care_are_seeded_with_their_asam_hours_bands(clinician_client):
    response = clinician_client.get("/api/v1/levels-of-care/")
    rows = {row["code"]: row for row in response.json()["results"]}
    assert set(rows) == {"wm", "residential", "php", "iop", "outpatient"}
    assert (rows["php"]["asam_code"], rows["php"]["min_weekly_hours"], rows["php"]["max_weekly_hours"]) == (
        "2.5",
        "20.00",
        None,
    )
    assert (rows["iop"]["asam_code"], rows["iop"]["min_weekly_hours"], rows["iop"]["max_weekly_hours"]) == (
        "2.1",
        "9.00",
        "20.00",
    )
    assert rows["outpatient"]["hours_band"] == "under 9 h a week"
    assert rows["iop"]["hours_band"] == "9 h to under 20 h a week"
    assert rows["php"]["hours_band"] == "20 h or more a week"
    assert rows["wm"]["asam_code"] == "3.7-WM"


def test_a_level_band_with_its_bounds_reversed_is_refused():
    from django.core.exceptions import ValidationError

    level = LevelOfCare.objects.get(code="iop")
    level.max_weekly_hours = Decimal("5")
    with pytest.raises(ValidationError, match="upper bound"):
        level.full_clean()


@pytest.mark.parametrize("page_size", ["abc", "0", "-3", "1.5", "2&page_size=3"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(clinician_client, page_size):
    # Found by the schema fuzzer: DRF fell back to the default page size for any of these.
    response = clinician_client.get(f"/api/v1/locations/?page_size={page_size}")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"page_size"}


def test_a_page_size_above_the_max_gives_the_max(clinician_client):
    LocationFactory.create_batch(2)
    response = clinician_client.get("/api/v1/locations/?page_size=100000")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
