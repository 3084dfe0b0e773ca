"""Validation of exported resources against the FHIR structure definitions, with the R4B
models of ``fhir.resources`` (R4B changed none of the resources exported here from R4 4.0.1:
its changes are limited to subscriptions, medication definitions and evidence)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def validate(resource: dict[str, Any]) -> None:
    """Raise pydantic's ValidationError if ``resource`` is not a valid resource of its type."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
