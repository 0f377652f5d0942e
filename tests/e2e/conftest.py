"""End-to-end tests of the admin in a real browser: Playwright driving Debian's Chromium against
the app served by pytest-django's live server on the real PostgreSQL test database.

`playwright install` cannot download browsers here, so the tests use /usr/bin/chromium (the
Debian package `.ci/run` installs) or E2E_CHROMIUM. On failure each test leaves a screenshot and
the page's HTML in E2E_ARTIFACTS (default var/e2e-artifacts/), which CI keeps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", Path(__file__).resolve().parents[2] / "var" / "e2e-artifacts"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Long enough for a cold page on a busy 2-core CI machine; a failing step still fails in seconds.
TIMEOUT_MS = 15_000


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"No Chromium at {CHROMIUM}: install Debian's chromium package (.ci/run does) or set E2E_CHROMIUM.")
    # Playwright's sync API keeps an event loop running in this thread, which Django takes for an
    # async context and refuses database calls in. The test's own ORM calls are plain synchronous
    # code, so the check is lifted while a browser is up, and only then (module scope).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser: Browser, live_server, request: pytest.FixtureRequest, settings) -> Iterator[Page]:
    # The live server speaks plain HTTP: cookies marked Secure would never come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_SSL_REDIRECT = False
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        (ARTIFACTS / f"{name}.html").write_text(page.content())
    context.close()


@pytest.fixture
def login(page: Page):
    """Log in to the admin as `user` (password "pw-e2e-…" set here) and land on the desk."""

    def log_in(user) -> Page:
        password = "pw-e2e-0123456789"
        user.set_password(password)
        user.is_staff = True
        user.save()
        page.goto("/admin/login/")
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/$"))
        return page

    return log_in
