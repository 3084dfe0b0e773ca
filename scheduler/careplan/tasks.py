"""Care-plan tasks: rendering a delivered version's PDFs ahead of its first download."""

from __future__ import annotations

import logging

from celery import shared_task

from scheduler.careplan.render import pdf_for
from scheduler.models import CarePlanVersion

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def careplan_version_pdfs(version_id: int) -> int:
    """Render a delivered version's PDFs (patient and primary care, A4) into the PDF cache,
    so that the patient's and the family doctor's downloads do not wait for the layout.
    Returns how many PDFs were rendered or found (0 if the version is gone)."""
    version = CarePlanVersion.objects.filter(pk=version_id).only("html_patient", "html_clinician").first()
    if version is None:
        return 0
    pdf_for(version.html_patient, clinical=False)
    pdf_for(version.html_clinician, clinical=True)
    logger.info("care plan version %s: PDFs ready", version_id)
    return 2
