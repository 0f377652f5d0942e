import pytest

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["extra"], dict)
    return body


def test_an_unknown_api_url_is_a_json_404(clinician_client):
    body = assert_error_shape(clinician_client.get("/api/v1/no-such-thing/"), 404)
    assert "/api/v1/no-such-thing/" in body["message"]


def test_an_unknown_api_url_is_a_json_404_even_without_credentials(api_client):
    assert_error_shape(api_client.get("/api/v2/patients/"), 404)


def test_an_unknown_record_is_a_404_in_the_error_shape(clinician_client):
    body = assert_error_shape(clinician_client.get("/api/v1/locations/7b0c4a9e-2f1a-4c55-9a57-6f1c7e0f9d11/"), 404)
    assert body["message"] == "No Location matches the given query."


def test_a_non_uuid_id_is_a_404(clinician_client):
    assert_error_shape(clinician_client.get("/api/v1/locations/12/"), 404)


def test_a_wrong_method_is_a_405(clinician_client):
    body = assert_error_shape(clinician_client.delete("/api/v1/locations/"), 405)
    assert "DELETE" in body["message"]


def test_a_malformed_json_body_is_a_400(api_client):
    response = api_client.post("/api/v1/auth/token/", data="{not json", content_type="application/json")
    body = assert_error_shape(response, 400)
    assert "JSON" in body["message"]


def test_an_unsupported_media_type_is_a_415(api_client):
    response = api_client.post("/api/v1/auth/token/", data="<x/>", content_type="application/xml")
    assert_error_shape(response, 415)


def test_a_validation_error_lists_fields_under_extra(api_client):
    body = assert_error_shape(api_client.post("/api/v1/auth/token/", {}, format="json"), 400)
    assert set(body["extra"]["fields"]) == {"username", "password"}


def test_a_bad_page_number_is_a_404(clinician_client):
    assert_error_shape(clinician_client.get("/api/v1/locations/?page=99"), 404)
