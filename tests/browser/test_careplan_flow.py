"""The survivorship care plan in a real browser: a nurse completes the treatment summary,
previews the document, delivers it, and the patient downloads the PDF from their portal.
axe-core checks the nurse's pages, the document for each audience and the patient's page;
screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from scheduler.models import CarePlanVersion
from scheduler.plans import services as plan_services
from survivorship.models import CancerCase
from tests.browser.conftest import axe_violations, login
from tests.factories import CareTeamFactory, NurseFactory, PatientFactory, UserFactory
from tests.scheduler.careplan.support import pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def _no_serious_violations(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    )


def test_a_nurse_completes_previews_and_delivers_and_the_patient_downloads_the_pdf(
    page, live_server, artifacts
):
    nurse = NurseFactory(username="nina.nurse", first_name="Nina", last_name="Testnurse")
    team = CareTeamFactory(nurses=[nurse], name="Breast follow-up (test)")
    user = UserFactory(username="pat", email="pat@example.test", first_name="Pat", last_name="Fictional")
    patient = PatientFactory(care_team=team, display_name="Pat Fictional", user=user)
    today = dt.date.today()
    remission = today - dt.timedelta(days=400)
    plan_services.patient_enrol(
        patient=patient, case=CancerCase(cancer_type="breast", remission_date=remission), actor=None
    )

    login(page, live_server, "nina.nurse", PASSWORD)
    page.goto(f"{live_server.url}/nurse/patients/{patient.pk}/")
    page.get_by_role("link", name="Treatment summary and care plan").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Survivorship care plan")
    expect(page.locator("#missing-fields")).to_contain_text("What was found")
    _no_serious_violations(page, "care plan overview")

    page.get_by_role("link", name="Complete the treatment summary").click()
    form = page.locator("#summary-form")
    form.get_by_label("Diagnosis *", exact=True).fill("Carcinoma of the left breast (test)")
    diagnosed = remission - dt.timedelta(days=250)
    form.get_by_label("Date of diagnosis *", exact=True).fill(diagnosed.isoformat())
    form.get_by_label("Histology / subtype: unknown or not applicable").select_option("unknown")
    form.get_by_label("Stage group (AJCC 8th edition (anatomic))").select_option("IIA")
    form.get_by_label("End of treatment", exact=True).fill((remission - dt.timedelta(days=10)).isoformat())
    form.get_by_label("Chemotherapy or other drug treatment", exact=True).select_option("yes")
    form.get_by_label("Regimen or drugs", exact=True).fill("Docetaxel and cyclophosphamide (test)")
    form.get_by_label("Taxane chemotherapy (such as paclitaxel or docetaxel)").check()
    form.get_by_label("Primary care provider", exact=True).fill("Dr Fictional Practitioner")
    form.locator("#id_contacts-0-role").select_option("surgeon")
    form.locator("#id_contacts-0-name").fill("Dr Cutwell (test)")
    _no_serious_violations(page, "treatment summary form")
    page.get_by_role("button", name="Save the treatment summary").click()
    expect(page.locator(".alert-success")).to_contain_text("The treatment summary was saved.")

    page.get_by_role("link", name="Preview for the patient").click()
    document = page.locator("article.careplan")
    expect(document.get_by_role("heading", name="Your survivorship care plan")).to_be_visible()
    expect(document).to_contain_text("Carcinoma of the left breast (test)")
    expect(document).to_contain_text("Nerve damage in the hands and feet (neuropathy)")
    expect(document.locator("table.cp-schedule")).to_contain_text("Mammogram")
    _no_serious_violations(page, "patient's document")
    page.screenshot(path=str(artifacts / "careplan-preview.png"), full_page=True)
    page.emulate_media(media="print")
    expect(page.locator("header nav")).to_be_hidden()  # the print stylesheet keeps only the document
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Show the primary-care version").click()
    expect(page.locator("article.careplan")).to_contain_text(patient.mrn)
    _no_serious_violations(page, "primary-care document")

    page.goto(f"{live_server.url}/nurse/patients/{patient.pk}/care-plan/")
    deliver = page.locator("#deliver-form")
    deliver.get_by_label("Delivered to").select_option("patient")
    deliver.get_by_label("How").select_option("in-person")
    deliver.get_by_role("button", name="Record as delivered").click()
    expect(page.locator("#deliver-form .invalid-feedback, #deliver-form .alert-danger").first).to_be_visible()
    assert not CarePlanVersion.objects.exists(), "missing fields must be acknowledged first"
    page.locator("#deliver-form").get_by_label("Deliver it with the fields listed as not recorded").check()
    page.locator("#deliver-form").get_by_role("button", name="Record as delivered").click()
    done = page.locator("div.alert-success")
    expect(done).to_contain_text("Version 1 of the care plan was recorded as delivered")
    version = CarePlanVersion.objects.get()
    assert version.prepared_by == nurse

    page.get_by_role("button", name="Sign out").click()
    login(page, live_server, "pat", PASSWORD)
    page.get_by_role("link", name="My care plan").click()
    expect(page.locator("article.careplan")).to_contain_text("Carcinoma of the left breast (test)")
    _no_serious_violations(page, "patient's care plan page")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as PDF").click()
    download = info.value
    assert download.suggested_filename == "care-plan-v1.pdf"
    with open(download.path(), "rb") as handle:
        text = " ".join(pdf_text(handle.read()).split())
    assert "Carcinoma of the left breast (test)" in text
    assert "Dr Cutwell (test)" in text and "Dr Fictional Practitioner" in text
    assert "Mammogram" in text
