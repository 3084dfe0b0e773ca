"""Playwright + Debian's chromium against Django's live server.

No browser download works here: the tests drive /usr/bin/chromium (installed by
`make test`). Screenshots and other artefacts go to test-artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Playwright's sync API runs an event loop; Django must allow its ORM calls in tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.locator("#id_password").fill(password)  # its label reads "Password*" (required marker)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def axe_violations(
    page, impacts: tuple[str, ...] = ("serious", "critical"), *, within: str | None = None
) -> list[dict]:
    """Inject axe-core (from the npm registry, node_modules/) and return the violations
    of the given impacts on the current page (or inside the ``within`` CSS selector)."""
    # Evaluated through the DevTools protocol: a <script> tag (add_script_tag) would be an
    # inline script, which the site's Content-Security-Policy rightly blocks.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async (within) => await axe.run(within || document, {resultTypes: ['violations']})", within
    )
    return [v for v in result["violations"] if v.get("impact") in impacts]
