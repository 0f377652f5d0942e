import json

import pytest

from clinic.roles import Role

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


def test_an_id_with_a_newline_is_a_json_404(clinician_client):
    # Found by the schema fuzzer: the catch-all's "." stopped at the newline and Django's HTML page answered.
    assert_error_shape(clinician_client.get("/api/v1/staff/%0Ax/"), 404)


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


def test_json_nested_too_deeply_is_a_400(api_client):
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.post("/api/v1/auth/token/", data=body, content_type="application/json")
    assert "nested too deeply" in assert_error_shape(response, 400)["message"]


def test_a_host_we_do_not_serve_gets_a_json_400_under_the_api(api_client):
    assert_error_shape(api_client.get("/api/v1/locations/", HTTP_HOST="evil.example.com"), 400)


def test_too_many_query_parameters_is_a_json_400(clinician_client):
    query = "&".join(f"f{i}=1" for i in range(1200))
    assert_error_shape(clinician_client.get(f"/api/v1/patients/?{query}"), 400)


def test_a_body_over_the_size_limit_is_a_json_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"username": "' + "x" * 5000 + '", "password": "y"}'
    response = api_client.post("/api/v1/auth/token/", data=body, content_type="application/json")
    assert "too large" in assert_error_shape(response, 413)["message"]


def test_the_500_page_is_json_under_the_api_and_html_elsewhere(rf):
    from clinic.urls import handler500

    api = handler500(rf.get("/api/v1/patients/"))
    assert api.status_code == 500
    assert api["Content-Type"] == "application/json"
    assert set(json.loads(api.content)) == {"message", "extra"}
    admin = handler500(rf.get("/admin/"))
    assert admin.status_code == 500
    assert admin["Content-Type"].startswith("text/html")


def test_a_bad_boolean_filter_is_a_400_naming_the_field(clinician_client):
    body = assert_error_shape(clinician_client.get("/api/v1/rooms/?is_virtual=maybe"), 400)
    assert "is_virtual" in body["extra"]["fields"]
    assert clinician_client.get("/api/v1/rooms/?is_virtual=true").status_code == 200


@pytest.mark.django_db
def test_a_post_to_an_unknown_api_url_is_a_json_404_even_with_a_session(make_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user("clinician"))
    response = browser.post("/api/v1/intake-assessments/not-a-uuid/decision/", {})
    assert response.status_code == 404
    assert response.json()["message"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/opt-outs/?opted_out=-1", "opted_out"),  # a filter generated from a boolean field
        ("/api/v1/tracks/?is_active=0.05", "is_active"),
        ("/api/v1/episodes/?discharged_on__isnull=maybe", "discharged_on__isnull"),  # an isnull lookup
        ("/api/v1/withdrawal-checks/?hold=null", "hold"),
    ],
)
def test_a_generated_true_or_false_filter_refuses_anything_else(client_for, make_user, url, field):
    # Found by the schema fuzzer: django-filter's BooleanFilter read these as no filter and listed all.
    response = client_for(make_user(Role.CLINICIAN, Role.ADMISSIONS)).get(url)
    assert response.status_code == 400, response.content
    assert set(response.json()["extra"]["fields"]) == {field}


@pytest.mark.parametrize("content_format", ["multipart", "json"])
def test_a_nul_character_anywhere_in_a_body_is_a_400(client_for, make_user, content_format):
    # Found by the schema fuzzer: a NUL in a multipart POST /authorizations/ reached PostgreSQL,
    # which cannot hold one in text: a 500. DRF's CharField refused them; other fields did not.
    api = client_for(make_user(Role.BILLING))
    response = api.post("/api/v1/authorizations/", {"coverage": "a\x00b", "level": "iop"}, format=content_format)
    assert_error_shape(response, 400)
    assert "NUL" in response.json()["message"]


def test_a_nul_character_in_a_form_field_name_is_a_400(client_for, make_user):
    api = client_for(make_user(Role.BILLING))
    response = api.generic(
        "POST", "/api/v1/authorizations/", "level=iop&co%00verage=x", content_type="application/x-www-form-urlencoded"
    )
    assert_error_shape(response, 400)
