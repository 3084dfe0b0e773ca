"""Take the README tour's screenshots (docs/tour-*.png) from the seeded demo data.

    make run                                   # or: manage.py migrate && manage.py seed_demo && runserver
    .venv/bin/python docs/screenshots.py [http://127.0.0.1:8000]

Drives Debian's /usr/bin/chromium with Playwright, signs in as the demo nurse (nurse.ada)
and the demo patient with an overdue test (patient3@demo.example), and writes one PNG per
page: the first screen of each at 1366 x 900, and the patient's home on a 390 x 844 phone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
PASSWORD = "followup-demo"  # noqa: S105 - seed_demo's documented demo password
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def shot(page, base: str, path: str, name: str, viewport: dict[str, int] = LAPTOP) -> None:
    page.set_viewport_size(viewport)
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(DOCS / f"tour-{name}.png"))
    print(f"docs/tour-{name}.png  {path}")


def main(base: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport=LAPTOP)
        sign_in(page, base, "patient3@demo.example")
        shot(page, base, "/me/calendar/", "patient-home-phone", PHONE)
        shot(page, base, "/me/calendar/", "patient-home")
        shot(page, base, "/me/agenda/", "patient-agenda")
        shot(page, base, "/me/progress/", "patient-progress")
        page.context.clear_cookies()

        sign_in(page, base, "nurse.ada")
        shot(page, base, "/nurse/", "nurse-caseload")
        shot(page, base, "/nurse/worklist/", "nurse-worklist")
        page.goto(base + "/nurse/")
        link = page.get_by_role("link", name="Casey Example (demo)").first
        href = link.get_attribute("href")
        shot(page, base, href, "nurse-patient")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
