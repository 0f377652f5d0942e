"""Every route of the URL configuration has a row in tests/trust/access_matrix.py, and every row
is what the API answers to a real token of each role (plus off-team and break-glass clinicians,
a user with no role, and no token at all)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse
from rest_framework.test import APIClient

from tests.trust.access_matrix import NO_PATIENT_YET, PUBLIC, ROWS, A, D, H, M, Row, S
from tests.trust.conftest import Clinic, send
from tests.trust.routes import Route, all_routes

pytestmark = pytest.mark.django_db

# Persona -> the table's column it is judged by, and how it stands to the patient.
PERSONAS = {
    "none": ("none", None),
    "clinic_admin": ("clinic_admin", None),
    "admissions": ("admissions", None),
    "billing": ("billing", None),
    "clinician": ("clinician", "on_team"),
    "clinician_off_team": ("clinician", "off_team"),
    "clinician_break_glass": ("clinician", "break_glass"),
    "prescriber": ("prescriber", "on_team"),
    "prescriber_off_team": ("prescriber", "off_team"),
    "nurse": ("nurse", "on_team"),
}
# The persona that owns the module's calendar feed (column value M).
OWNER = "clinician"
# Routes whose record is not under the route's basename.
RECORD_OF = {"communication-letter": "communication"}

ROUTES = {route.name: route for route in all_routes() if route.name}
PUBLIC_NAMES = {public.name for public in PUBLIC if public.name}


API_ROUTES = [route for route in all_routes() if route.is_api]


def _api_rows_from_urlconf() -> set[tuple[str, str]]:
    return {
        (str(route.name), method) for route in API_ROUTES if route.name not in PUBLIC_NAMES for method in route.methods
    }


def test_every_api_route_and_method_has_exactly_one_row():
    # Rows name a route and a method: an API route without a name, sharing its name, or of a
    # view whose methods cannot be read (a function view) would need no row and so escape.
    assert [route.route for route in API_ROUTES if not route.name or not route.methods] == []
    assert len({route.name for route in API_ROUTES}) == len(API_ROUTES), "two API routes share a name"
    in_table = [(row.name, row.method) for row in ROWS]
    assert len(in_table) == len(set(in_table)), "a route and method is in the table twice"
    urlconf = _api_rows_from_urlconf()
    assert sorted(urlconf - set(in_table)) == [], "routes with no row in tests/trust/access_matrix.py"
    assert sorted(set(in_table) - urlconf) == [], "rows for routes or methods that no longer exist"


def test_every_route_outside_the_token_api_says_what_protects_it():
    unlisted = []
    for route in all_routes():
        if route.is_api and route.name not in PUBLIC_NAMES:
            continue
        if not any(route.name == p.name if p.name else route.route.startswith(p.route) for p in PUBLIC):
            unlisted.append(route.route)
    assert unlisted == []
    for public in PUBLIC:
        if public.name:
            assert public.name in ROUTES, f"{public.name} is in PUBLIC but not in the URL configuration"
            assert set(ROUTES[public.name].methods) <= set(public.methods) or not ROUTES[public.name].methods


def path_of(clinic: Clinic, row_name: str) -> str:
    route: Route = ROUTES[row_name]
    kwargs = dict(clinic.kwargs.get(row_name, {}))
    if route.needs_id:
        kwargs["id"] = clinic.ids[RECORD_OF.get(row_name, route.basename or "")]
    return reverse(row_name, kwargs=kwargs)


def _allowed(status: int) -> bool:
    return status not in (401, 403, 404) and status < 500


def expectation(row: Row, persona: str) -> str:
    """'allowed', 'refused' (403), 'hidden' (404, or a list without the patient)."""
    column, standing = PERSONAS[persona]
    value = getattr(row, column)
    if value == A:
        return "allowed"
    if value == D:
        # Off the team the patient is not there to refuse: a 404 says no more than a 403.
        return "refused_or_hidden" if standing == "off_team" else "refused"
    if value == H:
        return "hidden"
    if value == S:
        return "hidden" if standing == "off_team" else "allowed"
    if value == M:
        return "allowed" if persona == OWNER else "hidden"
    raise AssertionError(f"unknown value {value!r} in row {row}")


def _record_ids(clinic: Clinic, row: Row) -> list[str]:
    """What a list must show to who may see the patient, and hide from who may not."""
    route = ROUTES[row.name]
    ids = [clinic.ids[route.basename]] if route.basename in clinic.ids else []
    names_patient = row.audit and row.name not in NO_PATIENT_YET
    return ids + ([str(clinic.patient.public_id)] if names_patient else [])


def check(clinic: Clinic, row: Row, persona: str, response: Any) -> str | None:
    status = response.status_code
    expected = expectation(row, persona)
    is_list = row.method == "GET" and row.name.endswith("-list")
    body = response.content.decode(errors="replace") if is_list and status == 200 else ""
    if expected == "allowed":
        if not _allowed(status):
            return f"{persona}: expected allowed, got {status} {response.content[:200]!r}"
        if is_list and row.audit and not all(i in body for i in _record_ids(clinic, row)):
            return f"{persona}: the list does not show the patient's record"
    elif expected == "refused":
        if status != 403:
            return f"{persona}: expected 403, got {status} {response.content[:200]!r}"
    elif expected == "refused_or_hidden" and not is_list:
        if status not in (403, 404):
            return f"{persona}: expected 403 or 404, got {status} {response.content[:200]!r}"
    elif is_list:
        if status == 403 and expected == "refused_or_hidden":
            return None
        if status != 200 or any(i in body for i in _record_ids(clinic, row)):
            return f"{persona}: expected a list without the patient's record, got {status}"
    elif status != 404:
        return f"{persona}: expected 404, got {status} {response.content[:200]!r}"
    return None


@pytest.mark.parametrize("row", ROWS, ids=[f"{row.method} {row.name}" for row in ROWS])
def test_the_api_answers_each_persona_as_the_table_says(clinic, in_savepoint, row):
    path = path_of(clinic, row.name)
    problems = []
    anonymous = in_savepoint(lambda: send(clinic, "anonymous", row.method, path, row.name))
    if anonymous.status_code != 401:
        problems.append(f"anonymous: expected 401, got {anonymous.status_code}")
    for persona in PERSONAS:
        response = in_savepoint(lambda persona=persona: send(clinic, persona, row.method, path, row.name))
        problem = check(clinic, row, persona, response)
        if problem:
            problems.append(problem)
    assert problems == [], f"{row.method} {path}\n" + "\n".join(problems)


@pytest.mark.parametrize("public", [p for p in PUBLIC if p.name], ids=lambda p: p.name)
def test_routes_without_a_token_answer_a_stranger_as_listed(clinic, in_savepoint, public):
    kwargs = {"token": "not-a-real-token"} if "<str:token>" in public.route else {}
    path = reverse(public.name, kwargs=kwargs)
    client = APIClient()
    method = public.methods[0]
    response = in_savepoint(lambda: client.post(path, {}) if method == "POST" else client.get(path))
    assert response.status_code == public.anonymous, (path, response.status_code, response.content[:300])


def test_the_api_catch_all_is_a_json_404(clinic):
    response = APIClient().get("/api/v2/patients/")
    assert response.status_code == 404
    assert set(response.json()) == {"message", "extra"}


def test_every_admin_page_sends_a_stranger_to_the_login(clinic):
    client = APIClient()
    pages = ["/admin/"] + [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    ]
    wrong = {}
    for page in pages:
        response = client.get(page)
        if response.status_code != 302 or "/admin/login/" not in response["Location"]:
            wrong[page] = response.status_code
    assert wrong == {}
    assert len(pages) > 10
