"""Rendered care-plan PDFs are kept: a delivered version's PDFs are laid out by a task right
after delivery, and downloads take them from the cache instead of waiting for WeasyPrint."""

from __future__ import annotations

import pytest
import time_machine
import weasyprint
from django.core.cache import cache

from scheduler.careplan import services
from scheduler.careplan.render import pdf_cache_key, pdf_for
from scheduler.careplan.tasks import careplan_version_pdfs
from tests.factories import CareTeamFactory, UserFactory
from tests.scheduler.careplan.support import NOW, TODAY, complete_summary, enrol, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(nurse):
    team = CareTeamFactory(nurses=[nurse])
    return enrol(team=team, cancer_type="breast", years_ago=1, user=UserFactory(), display_name="Pat Cache")


def _refuse_layout(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("WeasyPrint was asked to lay out a PDF that should have been cached")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", refuse)


def test_delivery_queues_the_pdfs_and_downloads_then_never_wait_for_the_layout(
    client, patient, nurse, monkeypatch, django_capture_on_commit_callbacks
):
    complete_summary(patient, nurse)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version = services.careplan_deliver(
            patient=patient, actor=nurse, delivered_on=TODAY, delivered_to="patient", method="in-person"
        )
    assert len(callbacks) == 1, "the PDFs are queued once the delivery commits"
    for key in (
        pdf_cache_key(version.html_patient, clinical=False, paper="a4"),
        pdf_cache_key(version.html_clinician, clinical=True, paper="a4"),
    ):
        assert cache.get(key) is None

    assert careplan_version_pdfs(version.pk) == 2  # what the worker runs
    _refuse_layout(monkeypatch)
    client.force_login(patient.user)
    response = client.get("/me/care-plan/1.pdf")
    assert response.status_code == 200
    assert response.content == cache.get(pdf_cache_key(version.html_patient, clinical=False, paper="a4"))
    assert "Your follow-up plan" in pdf_text(response.content)
    client.force_login(nurse)
    response = client.get(f"/nurse/patients/{patient.pk}/care-plan/versions/1.pdf?for=primary-care")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"], "kept by the server, never by a browser or proxy"


def test_a_pdf_is_rendered_once_per_distinct_input(patient, nurse, monkeypatch):
    complete_summary(patient, nurse)
    version = services.careplan_deliver(
        patient=patient, actor=nurse, delivered_on=TODAY, delivered_to="patient", method="in-person"
    )
    first = pdf_for(version.html_patient, clinical=False)
    letter = pdf_for(version.html_patient, clinical=False, paper="letter")
    _refuse_layout(monkeypatch)
    assert pdf_for(version.html_patient, clinical=False) == first
    assert pdf_for(version.html_patient, clinical=False, paper="letter") == letter != first
    with pytest.raises(AssertionError, match="should have been cached"):
        pdf_for(version.html_patient + "<p>changed</p>", clinical=False)  # new content: laid out again
    with pytest.raises(AssertionError, match="should have been cached"):
        pdf_for(version.html_patient, clinical=True)  # other audience: its own PDF


def test_the_task_tolerates_a_version_that_is_gone():
    assert careplan_version_pdfs(987654) == 0


def test_the_cache_key_holds_no_personal_data_and_changes_with_every_input():
    base = pdf_cache_key("<article>Pat Cache, MRN 123</article>", clinical=False, paper="a4")
    assert "Pat" not in base and "123" not in base and base.startswith("careplan-pdf:")
    others = {
        pdf_cache_key("<article>Pat Cache, MRN 124</article>", clinical=False, paper="a4"),
        pdf_cache_key("<article>Pat Cache, MRN 123</article>", clinical=True, paper="a4"),
        pdf_cache_key("<article>Pat Cache, MRN 123</article>", clinical=False, paper="letter"),
    }
    assert base not in others and len(others) == 3
