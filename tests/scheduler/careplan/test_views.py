"""Care-plan pages per role: the nurse (overview, summary form, responsibility, notes,
previews, delivery, versions, links), the patient (their own delivered versions only), the
primary care provider's one-time link, and everyone who must be refused."""

from __future__ import annotations

import datetime as dt
import io
import re

import pdfplumber
import pytest
import time_machine
from django.urls import reverse

from scheduler.careplan import document as doc
from scheduler.careplan import services
from scheduler.models import CarePlanLink, CarePlanVersion, PatientAccessLog, TreatmentSummary
from survivorship.logging import redact
from tests.factories import AdministratorFactory, CareTeamFactory, NurseFactory, UserFactory
from tests.scheduler.careplan.support import NOW, TODAY, complete_summary, enrol, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(settings):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def nurse():
    return NurseFactory(first_name="Nina", last_name="Testnurse")


@pytest.fixture
def team(nurse):
    return CareTeamFactory(nurses=[nurse], name="Team Example")


@pytest.fixture
def patient(team):
    user = UserFactory(username="pat", email="pat@example.test")
    return enrol(team=team, cancer_type="breast", years_ago=1, user=user, display_name="Pat Fictional")


@pytest.fixture
def delivered(patient, nurse):
    complete_summary(patient, nurse, exposures=["anthracycline", "chest-radiation"])
    return services.careplan_deliver(
        patient=patient, actor=nurse, delivered_on=TODAY, delivered_to="patient", method="in-person"
    )


def _nurse_urls(patient_id: int, number: int = 1) -> list[tuple[str, str]]:
    base = f"/nurse/patients/{patient_id}/care-plan/"
    return [
        ("get", base),
        ("get", base + "summary/"),
        ("post", base + "summary/"),
        ("post", base + "responsibility/"),
        ("post", base + "notes/"),
        ("get", base + "preview/"),
        ("get", base + "preview.pdf"),
        ("post", base + "deliver/"),
        ("get", base + f"versions/{number}/"),
        ("get", base + f"versions/{number}.pdf"),
        ("post", base + f"versions/{number}/links/"),
    ]


# --- who may see what ---------------------------------------------------------------------------


def test_a_nurse_of_another_team_gets_404_everywhere(client, delivered, patient):
    client.force_login(NurseFactory())
    for method, url in _nurse_urls(patient.pk):
        assert getattr(client, method)(url).status_code == 404, url
    link = CarePlanLink.objects.create(version=delivered, token_hash="x" * 64, expires_at=NOW)
    assert client.post(f"/nurse/patients/{patient.pk}/care-plan/links/{link.pk}/withdraw/").status_code == 404


@pytest.mark.parametrize("role", ["patient", "administrator"])
def test_patients_and_administrators_get_403_on_nurse_pages(client, delivered, patient, role):
    user = patient.user if role == "patient" else AdministratorFactory()
    client.force_login(user)
    for method, url in _nurse_urls(patient.pk):
        assert getattr(client, method)(url).status_code == 403, url


@pytest.mark.parametrize("role", ["nurse", "administrator"])
def test_staff_get_403_on_the_patients_care_plan_pages(client, delivered, nurse, role):
    client.force_login(nurse if role == "nurse" else AdministratorFactory())
    for url in ("/me/care-plan/", "/me/care-plan/1/", "/me/care-plan/1.pdf"):
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_sign_in(client, delivered, patient):
    for url in (f"/nurse/patients/{patient.pk}/care-plan/", "/me/care-plan/", "/me/care-plan/1.pdf"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_patient_sees_only_their_own_delivered_versions(client, delivered, patient, team, nurse):
    other = enrol(team=team, cancer_type="lung", facts={"stage": "III"}, display_name="Other Fictional")
    complete_summary(other, nurse)
    for _ in range(2):
        services.careplan_deliver(
            patient=other, actor=nurse, delivered_on=TODAY, delivered_to="patient", method="post"
        )
    client.force_login(patient.user)
    page = client.get("/me/care-plan/")
    assert page.status_code == 200
    assert "Pat Fictional" in page.content.decode() and "Other Fictional" not in page.content.decode()
    assert client.get("/me/care-plan/2/").status_code == 404  # the other patient's number
    assert client.get("/me/care-plan/2.pdf").status_code == 404
    assert client.get("/me/care-plan/99999999999999999999/").status_code == 404


def test_a_patient_without_a_delivered_plan_is_told_so(client, patient, nurse):
    complete_summary(patient, nurse)  # a draft exists, but nothing was delivered
    client.force_login(patient.user)
    page = client.get("/me/care-plan/").content.decode()
    assert "has not given you a survivorship care plan yet" in page
    assert "Invented tumour" not in page
    assert client.get("/me/care-plan/1/").status_code == 404


# --- the nurse's pages ------------------------------------------------------------------------------


def test_the_overview_lists_what_is_missing_and_logs_the_view(client, patient, nurse):
    client.force_login(nurse)
    page = client.get(f"/nurse/patients/{patient.pk}/care-plan/").content.decode()
    assert "fields are not recorded" in page
    assert "What was found" in page and "Treating team contacts" in page
    assert "Deliver it with the fields listed as not recorded" in page
    assert PatientAccessLog.objects.filter(patient=patient, user=nurse).exists()


def test_the_nurse_completes_the_summary_in_the_form(client, patient, nurse):
    client.force_login(nurse)
    url = f"/nurse/patients/{patient.pk}/care-plan/summary/"
    form = client.get(url)
    assert form.status_code == 200
    assert "Stage group (AJCC 8th edition (anatomic))" in form.content.decode()
    diagnosis = patient.cancer_case.remission_date - dt.timedelta(days=200)
    data = _summary_post(diagnosis=diagnosis)
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == f"/nurse/patients/{patient.pk}/care-plan/"
    summary = TreatmentSummary.objects.get()
    assert summary.diagnosis == "Breast cancer, left (test)"
    assert summary.stage_group == "IIA"
    assert summary.field_states == {"histology": "unknown"}
    assert summary.exposures == ["anthracycline", "taxane"]
    assert [(c.role, c.name) for c in summary.contacts.all()] == [("surgeon", "Dr Cutwell (test)")]
    assert summary.history.first().history_user == nurse


def _summary_post(*, diagnosis: dt.date, **changes) -> dict:
    data = {
        "diagnosis": "Breast cancer, left (test)",
        "histology__state": "unknown",
        "diagnosis_date": diagnosis.isoformat(),
        "stage_group": "IIA",
        "treatment_end_date": (diagnosis + dt.timedelta(days=150)).isoformat(),
        "systemic_therapy": "yes",
        "systemic_regimen": "EC then paclitaxel",
        "exposures": ["taxane", "anthracycline"],
        "contacts-TOTAL_FORMS": "3",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "12",
        "contacts-0-role": "surgeon",
        "contacts-0-name": "Dr Cutwell (test)",
        "contacts-1-role": "",
        "contacts-1-name": "",
    }
    data.update(changes)
    return data


def test_inconsistent_dates_are_shown_on_their_fields_and_nothing_is_lost(client, patient, nurse):
    client.force_login(nurse)
    url = f"/nurse/patients/{patient.pk}/care-plan/summary/"
    diagnosis = patient.cancer_case.remission_date - dt.timedelta(days=200)
    response = client.post(url, _summary_post(diagnosis=diagnosis, treatment_end_date="2000-01-01"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "The end of treatment must be on or after the date of diagnosis" in page
    assert 'value="Breast cancer, left (test)"' in page, "what was typed is kept"
    assert 'value="Dr Cutwell (test)"' in page
    assert not TreatmentSummary.objects.exists()
    # A date the form cannot read is a parse error of the form, also with nothing saved.
    response = client.post(url, _summary_post(diagnosis=diagnosis, diagnosis_date="15/13/2024"))
    assert response.status_code == 400 and "Enter a valid date." in response.content.decode()
    assert not TreatmentSummary.objects.exists()


def test_responsibility_and_notes_are_saved_from_the_overview(client, patient, nurse):
    client.force_login(nurse)
    base = f"/nurse/patients/{patient.pk}/care-plan/"
    data = doc.document_data(patient=patient, today=TODAY)
    post = {s["subject"]: s["who"] for s in doc.responsibility_subjects(data)}
    post["item:visit"] = "primary-care"
    assert client.post(base + "responsibility/", post).status_code == 302
    assert patient.responsibilities.get(subject="item:visit").party == "primary-care"
    post["item:visit"] = "the neighbour"
    response = client.post(base + "responsibility/", post)
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert client.post(base + "notes/", {"notes": "Bring your medicines list."}).status_code == 302
    assert "Bring your medicines list." in client.get(base + "preview/").content.decode()


def test_delivery_from_the_overview_records_a_version_the_patient_can_open(client, patient, nurse):
    complete_summary(patient, nurse)
    client.force_login(nurse)
    base = f"/nurse/patients/{patient.pk}/care-plan/"
    page = client.get(base).content.decode()
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', page).group(1)
    response = client.post(
        base + "deliver/",
        {"delivered_on": TODAY.isoformat(), "delivered_to": "patient-and-primary-care", "method": "in-person",
         "delivered_to_note": "", "digest": digest},
    )  # fmt: skip
    assert response.status_code == 302
    version = CarePlanVersion.objects.get()
    assert version.prepared_by == nurse and version.delivered_to == "patient-and-primary-care"
    assert (
        "Version 1 delivered on 15 Jun 2026." in client.get(f"/nurse/patients/{patient.pk}/").content.decode()
    )
    client.force_login(patient.user)
    assert "Invented tumour of the left side (test)" in client.get("/me/care-plan/").content.decode()


def test_a_delivery_whose_document_changed_meanwhile_is_refused(client, patient, nurse):
    complete_summary(patient, nurse)
    client.force_login(nurse)
    base = f"/nurse/patients/{patient.pk}/care-plan/"
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', client.get(base).content.decode()).group(1)
    services.careplan_notes_save(patient=patient, notes="Someone else's change.", actor=None)
    response = client.post(
        base + "deliver/",
        {"delivered_on": TODAY.isoformat(), "delivered_to": "patient", "method": "post", "digest": digest},
    )
    assert response.status_code == 400
    assert "changed since you reviewed it" in response.content.decode()
    assert not CarePlanVersion.objects.exists()


def test_a_change_after_delivery_is_shown_with_what_changed(client, delivered, patient, nurse):
    client.force_login(nurse)
    services.responsibilities_set(
        patient=patient, actor=nurse, assignments={"item:mammogram": "primary-care"}
    )
    for url in (
        f"/nurse/patients/{patient.pk}/care-plan/",
        f"/nurse/patients/{patient.pk}/care-plan/versions/1/",
    ):
        page = client.get(url).content.decode()
        assert "The plan has changed since this document was delivered" in page
        assert "Schedule: Mammogram, who: “Oncology team” → “Primary care”" in page
    assert (
        "The plan has changed since this document was delivered"
        in client.get(f"/nurse/patients/{patient.pk}/").content.decode()
    )


def test_previews_and_versions_for_the_patient_and_for_primary_care(client, delivered, patient, nurse):
    client.force_login(nurse)
    base = f"/nurse/patients/{patient.pk}/care-plan/"
    patient_view = client.get(base + "preview/").content.decode()
    clinical_view = client.get(base + "preview/?for=primary-care").content.decode()
    assert (
        "Your survivorship care plan" in patient_view and patient.mrn not in patient_view.split("<article")[1]
    )
    assert "Survivorship care plan and treatment summary" in clinical_view and patient.mrn in clinical_view
    version = client.get(base + "versions/1/").content.decode()
    assert "Version 1 as delivered on 15 June 2026" in version


def test_pdfs_hold_the_summary_the_schedule_and_the_contacts_under_names_without_personal_data(
    client, delivered, patient, nurse
):
    data = delivered.data
    client.force_login(nurse)
    response = client.get(f"/nurse/patients/{patient.pk}/care-plan/versions/1.pdf?for=primary-care")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="care-plan-v1-primary-care.pdf"'
    assert "no-store" in response["Cache-Control"]
    text = " ".join(pdf_text(response.content).split())
    for expected in ("Invented tumour of the left side (test)", "Epirubicin then docetaxel (EC-T)",
                     "Dr Onco Testperson", "+44 20 7946 0001", "Dr Fictional Practitioner", patient.mrn,
                     "Surveillance schedule"):  # fmt: skip
        assert expected in text, expected
    for row in data["schedule"]:
        assert row["what"] in text
    assert "Weakening of the heart muscle (cardiomyopathy)" in text
    assert "Survivorship care plan · 1 / " in text  # the page box's footer

    client.force_login(patient.user)
    response = client.get("/me/care-plan/1.pdf?paper=letter")
    assert response["Content-Disposition"] == 'attachment; filename="care-plan-v1.pdf"'
    with pdfplumber.open(io.BytesIO(response.content)) as pdf:
        assert (round(pdf.pages[0].width), round(pdf.pages[0].height)) == (612, 792)  # US Letter
    with pdfplumber.open(io.BytesIO(client.get("/me/care-plan/1.pdf").content)) as pdf:
        assert (round(pdf.pages[0].width), round(pdf.pages[0].height)) == (595, 842)  # A4
    text = " ".join(pdf_text(response.content).split())
    assert "Your follow-up plan" in text and "Dr Onco Testperson" in text and patient.mrn not in text
    assert "Pat" not in response["Content-Disposition"]

    client.force_login(nurse)
    response = client.get(f"/nurse/patients/{patient.pk}/care-plan/preview.pdf")
    assert response["Content-Disposition"] == 'attachment; filename="care-plan-draft.pdf"'


# --- the one-time link ------------------------------------------------------------------------------


def test_a_link_is_shown_once_to_the_nurse_and_opens_the_plan_once(client, delivered, patient, nurse):
    client.force_login(nurse)
    base = f"/nurse/patients/{patient.pk}/care-plan/"
    assert client.post(base + "versions/1/links/", {"label": "Example Street Surgery"}).status_code == 302
    page = client.get(base).content.decode()
    url = re.search(r'id="fresh-link" class="form-control mono" readonly value="([^"]+)"', page).group(1)
    assert "Example Street Surgery" in page
    assert 'id="fresh-link"' not in client.get(base).content.decode(), "shown only once"
    path = url.removeprefix("http://127.0.0.1:8000")
    assert path.startswith("/care-plan/shared/")
    client.logout()

    landing = client.get(path)  # a link scanner's GET uses nothing up and shows no health data
    assert landing.status_code == 200 and "Team Example" in landing.content.decode()
    assert "Pat Fictional" not in landing.content.decode()
    assert client.get(path).status_code == 200
    opened = client.post(path, {"format": "pdf"})
    assert opened.status_code == 200 and opened["Content-Type"] == "application/pdf"
    assert opened["Content-Disposition"] == 'attachment; filename="care-plan-v1-primary-care.pdf"'
    assert patient.mrn in pdf_text(opened.content)
    again = client.post(path, {"format": "pdf"})
    assert again.status_code == 404 and "This link cannot be used" in again.content.decode()
    assert client.get(path).status_code == 404
    assert redact(f"GET {path} HTTP/1.1") == "GET /care-plan/shared/[redacted]/ HTTP/1.1"


def test_a_link_expires_and_can_be_withdrawn(client, delivered, nurse, settings, patient):
    settings.CAREPLAN_LINK_DAYS = 2
    _link, raw = services.careplan_link_create(version=delivered, actor=nurse)
    path = reverse("careplan_public:shared", args=[raw])
    with time_machine.travel(NOW + dt.timedelta(days=2, seconds=1), tick=False):
        assert client.get(path).status_code == 404
        assert client.post(path, {"format": "html"}).status_code == 404
    opened = client.post(path, {"format": "html"})
    assert (
        opened.status_code == 200
        and "Survivorship care plan and treatment summary" in opened.content.decode()
    )

    link, raw = services.careplan_link_create(version=delivered, actor=nurse)
    client.force_login(nurse)
    response = client.post(f"/nurse/patients/{patient.pk}/care-plan/links/{link.pk}/withdraw/")
    assert response.status_code == 302
    client.logout()
    assert client.post(reverse("careplan_public:shared", args=[raw])).status_code == 404


def test_care_plan_changes_appear_in_the_patients_audit_trail(client, delivered, patient, nurse):
    services.careplan_link_create(version=delivered, actor=nurse, label="Example Street Surgery")
    client.force_login(nurse)
    audit = client.get(f"/nurse/patients/{patient.pk}/audit/").content.decode().split('id="audit"')[1]
    for entry in ("Treatment summary", "Treatment contact", "Care plan", "version 1 delivered",
                  "Care plan link", "Example Street Surgery"):  # fmt: skip
        assert entry in audit, entry
    assert "Nina Testnurse" in audit
