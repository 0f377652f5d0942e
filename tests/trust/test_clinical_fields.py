"""Fields of front-office records that are clinical: the front office sees the record, not them."""

from __future__ import annotations

import pytest

from tests.trust.conftest import Clinic, send
from tests.trust.test_access_matrix import path_of

pytestmark = pytest.mark.django_db

SAFETY_PLAN = "Call or text 988 (Suicide & Crisis Lifeline) any time."


@pytest.mark.parametrize("route", ["episode-detail", "episode-list"])
def test_an_episode_shows_its_safety_and_relapse_plans_only_to_the_care_team(clinic: Clinic, in_savepoint, route):
    def call():
        discharge = send(clinic, "prescriber", "POST", path_of(clinic, "episode-discharge"), "episode-discharge")
        assert discharge.status_code == 200, discharge.content[:300]
        return {
            persona: send(clinic, persona, "GET", path_of(clinic, route), route).json()
            for persona in ("clinic_admin", "admissions", "billing", "clinician", "clinician_break_glass", "nurse")
        }

    answers = in_savepoint(call)
    seen = {}
    for persona, body in answers.items():
        episode = body["results"][0] if "results" in body else body
        seen[persona] = (episode["safety_plan"], episode["relapse_prevention_plan"])
    assert seen == {
        "clinic_admin": (None, None),
        "admissions": (None, None),
        "billing": (None, None),
        "clinician": (SAFETY_PLAN, ""),
        "clinician_break_glass": (SAFETY_PLAN, ""),
        "nurse": (SAFETY_PLAN, ""),
    }


def test_the_episode_admin_page_shows_the_plans_only_to_the_care_team(clinic: Clinic, in_savepoint):
    from django.test import Client

    from patients.models import EpisodeOfCare

    def call():
        discharge = send(clinic, "prescriber", "POST", path_of(clinic, "episode-discharge"), "episode-discharge")
        assert discharge.status_code == 200, discharge.content[:300]
        episode = EpisodeOfCare.objects.get(public_id=clinic.ids["episode"])
        # The serializer alone, without a view saying who may see: the plans stay hidden.
        from patients.api.serializers import EpisodeOutputSerializer

        assert EpisodeOutputSerializer(episode).data["safety_plan"] is None
        pages = {}
        for persona in ("admissions", "billing", "clinician"):
            client = Client()
            client.force_login(clinic.users[persona])
            for page in ("change", "history"):
                response = client.get(f"/admin/patients/episodeofcare/{episode.pk}/{page}/")
                # (the page escapes the &: look for the words before it)
                pages[persona, page] = (response.status_code, "Call or text 988 (Suicide" in response.content.decode())
        return pages

    pages = in_savepoint(call)
    # The front office opens the episode and its history, without the plans; the history page
    # lists the discharge's changes, the plan's old and new values among them for the team.
    assert pages == {
        ("admissions", "change"): (200, False),
        ("admissions", "history"): (200, False),
        ("billing", "change"): (200, False),
        ("billing", "history"): (200, False),
        ("clinician", "change"): (200, True),
        ("clinician", "history"): (200, True),
    }
