import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_the_openapi_schema_describes_the_api(clinician_client):
    response = clinician_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/token/" in schema["paths"]
    assert "/api/v1/patients/{id}/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_swagger_ui_loads_its_assets_from_this_server(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets, "Swagger UI page references no scripts or styles"
    for url in assets:
        # No CDN: every asset is a local static file that ships with drf-spectacular-sidecar.
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url


def test_the_readme_documents_every_placement_rule_with_its_level_and_source():
    from pathlib import Path

    from patients.placement import RULES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for rule in RULES:
        assert f"| `{rule.id}` | {rule.at_least} | {rule.reason} | {rule.source} |" in readme, rule.id


def test_the_readme_lists_every_setting():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    settings_source = (root / "clinic" / "settings.py").read_text()
    readme = (root / "README.md").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', settings_source))
    assert len(names) > 50  # the pattern still finds the settings
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == [], f"settings missing from the README's table: {missing}"
