"""Care-plan services: the one way to change a treatment summary, who is responsible for
what, the nurse's notes, to deliver a version and to hand it to primary care.

Services validate (``ValidationError`` keyed by field), own the transaction and attribute
every change to its actor in the history (django-simple-history's ``_history_user``).
Forms only parse; views only call these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduler import rules
from scheduler.careplan import document as doc
from scheduler.careplan.render import render_document
from scheduler.careplan.staging import staging_for
from scheduler.careplan.tasks import careplan_version_pdfs
from scheduler.formats import long_date
from scheduler.models import (
    CarePlan,
    CarePlanLink,
    CarePlanVersion,
    ResponsibilityOverride,
    TreatmentContact,
    TreatmentSummary,
)
from scheduler.models.careplan import Answer, FieldState, Party
from survivorship.models import CancerCase, Patient, User

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
NOTES_MAX = 5000
MAX_CYCLES = 200
MAX_CONTACTS = 12

#: Fields of the summary a form may set (everything but bookkeeping).
VALUE_FIELDS = (
    "diagnosis", "histology", "diagnosis_date", "stage_text", "stage_group", "treatment_end_date",
    "surgery", "surgery_procedure", "surgery_site", "surgery_date",
    "radiation", "radiation_area", "radiation_end_date",
    "systemic_therapy", "systemic_regimen", "systemic_cycles", "systemic_end_date",
    "ongoing_treatment", "ongoing_drug", "ongoing_duration", "ongoing_watch",
    "persistent_effects", "persistent_effects_detail",
    "genetic_testing", "genetic_result", "genetic_referral",
    "pcp_name", "pcp_practice", "pcp_phone", "pcp_email", "pcp_address",
)  # fmt: skip
ANSWER_FIELDS = frozenset(
    {"surgery", "radiation", "systemic_therapy", "ongoing_treatment", "persistent_effects",
     "genetic_testing", "genetic_referral"}
)  # fmt: skip
#: Fields that may be marked unknown / not applicable instead of holding a value.
STATE_FIELDS = tuple(name for name in VALUE_FIELDS if name not in ANSWER_FIELDS)
#: Must hold a value or be marked unknown (the form marks them required).
REQUIRED_FIELDS = ("diagnosis", "diagnosis_date")
#: Yes/no questions and the details that only apply after "yes".
GATES = {
    "surgery": ("surgery_procedure", "surgery_site", "surgery_date"),
    "radiation": ("radiation_area", "radiation_end_date"),
    "systemic_therapy": ("systemic_regimen", "systemic_cycles", "systemic_end_date"),
    "ongoing_treatment": ("ongoing_drug", "ongoing_duration", "ongoing_watch"),
    "persistent_effects": ("persistent_effects_detail",),
    "genetic_testing": ("genetic_result",),
}
#: Treatment dates that fall between diagnosis and the end of treatment.
TREATMENT_DATES = ("surgery_date", "radiation_end_date", "systemic_end_date")


class CarePlanError(Exception):
    """A care-plan operation that cannot be done in the current state (user-facing)."""


def _attribute(instance: models.Model, actor: User | None) -> None:
    """Name the actor in the history row django-simple-history writes on the next save or
    delete (it reads this attribute, which the model classes do not declare)."""
    instance._history_user = actor  # type: ignore[attr-defined]


def _verbose_name(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    return str(field.verbose_name) if isinstance(field, models.Field) else name


def _empty(value: object) -> bool:
    return value is None or value == ""


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


# --- treatment summary -----------------------------------------------------------------------------


def _check_date_bounds(
    errors: dict[str, list[str]], values: Mapping[str, Any], birth: dt.date | None, today: dt.date
) -> None:
    """Every date given lies between the date of birth and today."""
    for name in ("diagnosis_date", "treatment_end_date", *TREATMENT_DATES):
        day = values.get(name)
        if day is None:
            continue
        if day > today:
            _add(errors, name, _("This date is in the future."))
        if birth and day < birth:
            _add(errors, name, _("This date is before the date of birth (%(d)s).") % {"d": long_date(birth)})


def _check_diagnosis_order(
    errors: dict[str, list[str]], case: CancerCase, diagnosis: dt.date, end: dt.date | None
) -> None:
    """The diagnosis comes before the end of treatment and the remission date."""
    if end is not None and end < diagnosis:
        _add(
            errors,
            "treatment_end_date",
            _("The end of treatment must be on or after the date of diagnosis (%(d)s).")
            % {"d": long_date(diagnosis)},
        )
    if case.remission_date < diagnosis:
        _add(
            errors,
            "diagnosis_date",
            _(
                "The date of diagnosis must be on or before the remission date (%(d)s). "
                "Check both dates; the remission date is changed on the patient's page."
            )
            % {"d": long_date(case.remission_date)},
        )


def _check_treatment_window(
    errors: dict[str, list[str]], values: Mapping[str, Any], diagnosis: dt.date | None, end: dt.date | None
) -> None:
    """Each treatment date lies between the diagnosis and the end of treatment."""
    for name in TREATMENT_DATES:
        day = values.get(name)
        if day is None:
            continue
        if diagnosis is not None and day < diagnosis:
            _add(
                errors,
                name,
                _("This date is before the date of diagnosis (%(d)s).") % {"d": long_date(diagnosis)},
            )
        if end is not None and day > end:
            _add(errors, name, _("This date is after the end of treatment (%(d)s).") % {"d": long_date(end)})


def _check_dates(
    errors: dict[str, list[str]], values: Mapping[str, Any], case: CancerCase, today: dt.date
) -> None:
    diagnosis = values.get("diagnosis_date")
    end = values.get("treatment_end_date")
    _check_date_bounds(errors, values, case.patient.date_of_birth, today)
    if diagnosis is not None:
        _check_diagnosis_order(errors, case, diagnosis, end)
    _check_treatment_window(errors, values, diagnosis, end)


def _reject_unknown_fields(values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(VALUE_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})


def _stripped_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every value field, missing ones as None (dates, cycles) or "", strings stripped."""
    clean = {
        name: values.get(name, None if name.endswith(("_date", "_cycles")) else "") for name in VALUE_FIELDS
    }
    for name, value in clean.items():
        if isinstance(value, str):
            clean[name] = value.strip()
    return clean


def _clean_field_states(
    errors: dict[str, list[str]], states: Mapping[str, str], clean: Mapping[str, Any]
) -> dict[str, str]:
    """The fields marked (unknown, not applicable...), each only when it has no value."""
    clean_states: dict[str, str] = {}
    for name, state in states.items():
        if not state:
            continue
        if name not in STATE_FIELDS or state not in FieldState.values:
            _add(
                errors,
                name if name in VALUE_FIELDS else "__all__",
                _("This field cannot be marked that way."),
            )
        elif not _empty(clean[name]):
            _add(
                errors,
                name,
                _("Give a value or mark it “%(state)s”, not both.") % {"state": FieldState(state).label},
            )
        else:
            clean_states[name] = state
    return clean_states


def _check_answers_and_required(
    errors: dict[str, list[str]], clean: Mapping[str, Any], clean_states: Mapping[str, str]
) -> None:
    for name in ANSWER_FIELDS:
        if clean[name] and clean[name] not in Answer.values:
            _add(errors, name, _("Choose yes, no or unknown."))
    for name in REQUIRED_FIELDS:
        if _empty(clean[name]) and clean_states.get(name) != FieldState.UNKNOWN:
            _add(errors, name, _("Required: enter it, or mark it unknown."))


def _check_gates(
    errors: dict[str, list[str]], clean: Mapping[str, Any], clean_states: Mapping[str, str]
) -> None:
    """Details are left empty when their gate question was answered no or unknown."""
    for gate, details in GATES.items():
        answer = clean[gate]
        if answer not in (Answer.NO, Answer.UNKNOWN):
            continue
        for detail in details:
            if not _empty(clean[detail]) or detail in clean_states:
                _add(
                    errors,
                    detail,
                    _("You answered “%(answer)s” to %(question)s: clear this, or change that answer.")
                    % {
                        "answer": Answer(answer).label,
                        "question": _verbose_name(TreatmentSummary, gate),
                    },
                )


def _check_cycles_and_stage(errors: dict[str, list[str]], clean: Mapping[str, Any], case: CancerCase) -> None:
    cycles = clean["systemic_cycles"]
    if cycles is not None and not 1 <= cycles <= MAX_CYCLES:
        _add(errors, "systemic_cycles", _("Enter a number of cycles from 1 to %(n)d.") % {"n": MAX_CYCLES})
    if not clean["stage_group"]:
        return
    staging = staging_for(case.cancer_type)
    if staging is None:
        _add(errors, "stage_group", _("This cancer type has no structured stage; use the free-text stage."))
    elif clean["stage_group"] not in staging.groups:
        _add(
            errors,
            "stage_group",
            _("Choose a %(system)s stage group.") % {"system": staging.name},
        )


def _clean_exposures(errors: dict[str, list[str]], exposures: Iterable[str]) -> list[str]:
    """The chosen exposures in the vocabulary's order; unknown ones are an error."""
    vocabulary = rules.default_library().care_plan.exposures
    chosen = set(exposures)
    bad = sorted(chosen - set(vocabulary))
    if bad:
        _add(errors, "exposures", _("Unknown treatment exposure: %(e)s") % {"e": ", ".join(bad)})
    return [key for key in vocabulary if key in chosen]


def _clean_summary(
    *,
    case: CancerCase,
    values: Mapping[str, Any],
    states: Mapping[str, str],
    exposures: Iterable[str],
    today: dt.date,
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Validated (values, states, exposures), or ValidationError keyed by field."""
    _reject_unknown_fields(values)
    errors: dict[str, list[str]] = {}
    clean = _stripped_values(values)
    clean_states = _clean_field_states(errors, states, clean)
    _check_answers_and_required(errors, clean, clean_states)
    _check_gates(errors, clean, clean_states)
    _check_cycles_and_stage(errors, clean, case)
    _check_dates(errors, clean, case, today)
    clean_exposures = _clean_exposures(errors, exposures)
    if errors:
        raise ValidationError(errors)
    return clean, clean_states, clean_exposures


def _clean_contacts(
    summary: TreatmentSummary, contacts: Iterable[Mapping[str, str]]
) -> list[TreatmentContact]:
    rows = [c for c in contacts if any(str(v or "").strip() for v in c.values())]
    if len(rows) > MAX_CONTACTS:
        raise ValidationError({"contacts": _("Record at most %(n)d contacts.") % {"n": MAX_CONTACTS}})
    out = []
    problems = []
    for number, raw in enumerate(rows, start=1):
        contact = TreatmentContact(
            summary=summary,
            position=number,
            **{k: str(raw.get(k) or "").strip() for k in ("role", "name", "institution", "phone", "email")},
        )
        try:
            contact.full_clean(exclude=["summary"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                label = _verbose_name(TreatmentContact, field) if field != "__all__" else ""
                for message in messages:
                    problems.append(
                        _("Contact %(n)d, %(field)s: %(message)s")
                        % {"n": number, "field": label, "message": message}
                    )
        out.append(contact)
    if problems:
        raise ValidationError({"contacts": problems})
    return out


def treatment_summary_save(
    *,
    case: CancerCase,
    actor: User | None,
    values: Mapping[str, Any],
    states: Mapping[str, str] | None = None,
    exposures: Iterable[str] = (),
    contacts: Iterable[Mapping[str, str]] = (),
    today: dt.date | None = None,
) -> TreatmentSummary:
    """Create or replace the case's treatment summary (fields, states, exposures, contacts).

    Dates must be consistent: not in the future, not before birth, end of treatment and the
    remission date on or after the diagnosis, treatment dates between the two."""
    today = today or case.patient.local_today()
    clean, clean_states, clean_exposures = _clean_summary(
        case=case, values=values, states=states or {}, exposures=exposures, today=today
    )
    with transaction.atomic():
        summary = TreatmentSummary.objects.select_for_update().filter(case=case).first()
        if summary is None:
            summary = TreatmentSummary(case=case)
        for name, value in clean.items():
            setattr(summary, name, value)
        summary.field_states = clean_states
        summary.exposures = clean_exposures
        summary.updated_by = actor
        summary.full_clean(exclude=["case"])
        new_contacts = _clean_contacts(summary, contacts)
        _attribute(summary, actor)
        summary.save()
        old = list(summary.contacts.all())
        if [_contact_tuple(c) for c in old] != [_contact_tuple(c) for c in new_contacts]:
            for contact in old:
                _attribute(contact, actor)
                contact.delete()
            for contact in new_contacts:
                contact.summary = summary
                _attribute(contact, actor)
                contact.save()
    return summary


def _contact_tuple(contact: TreatmentContact) -> tuple[str, ...]:
    return (contact.role, contact.name, contact.institution, contact.phone, contact.email)


# --- responsibility and notes ---------------------------------------------------------------------


def responsibilities_set(
    *, patient: Patient, actor: User | None, assignments: Mapping[str, str], today: dt.date | None = None
) -> int:
    """Set who provides each listed subject (items, checks, screening, advice) for this
    patient. Choosing the protocol's default removes the override. Returns how many changed."""
    data = doc.document_data(patient=patient, today=today or patient.local_today())
    subjects = {s["subject"]: s for s in doc.responsibility_subjects(data)}
    errors = {}
    for subject, party in assignments.items():
        if subject not in subjects:
            errors[subject] = _("This is no longer part of the plan; reload the page.")
        elif party not in Party.values:
            errors[subject] = _("Choose the oncology team, primary care or the patient.")
    if errors:
        raise ValidationError(errors)
    changed = 0
    with transaction.atomic():
        existing = {o.subject: o for o in patient.responsibilities.select_for_update()}
        for subject, party in assignments.items():
            default = subjects[subject]["default"]
            current = existing.get(subject)
            if party == default:
                if current is not None:
                    _attribute(current, actor)
                    current.delete()
                    changed += 1
            elif current is None or current.party != party:
                override = current or ResponsibilityOverride(patient=patient, subject=subject)
                override.party = party
                override.changed_by = actor
                _attribute(override, actor)
                override.full_clean()
                override.save()
                changed += 1
    return changed


def careplan_notes_save(*, patient: Patient, notes: str, actor: User | None) -> CarePlan:
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        raise ValidationError({"notes": _("Keep the notes under %(n)d characters.") % {"n": NOTES_MAX}})
    with transaction.atomic():
        plan, _created = CarePlan.objects.select_for_update().get_or_create(patient=patient)
        if plan.notes != notes:
            plan.notes = notes
            plan.updated_by = actor
            _attribute(plan, actor)
            plan.save()
    return plan


# --- delivery ----------------------------------------------------------------------------------------


def document_digest(data: Mapping[str, Any]) -> str:
    """A digest of what the nurse reviewed (not of the day it was generated on)."""
    relevant = {k: v for k, v in data.items() if k not in {"generated_on", "delivery"}}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def careplan_deliver(
    *,
    patient: Patient,
    actor: User,
    delivered_on: dt.date,
    delivered_to: str,
    method: str,
    delivered_to_note: str = "",
    acknowledge_missing: bool = False,
    expected_digest: str = "",
    today: dt.date | None = None,
) -> CarePlanVersion:
    """Record the delivery of the care plan as it stands now, as a new immutable version.

    ``expected_digest`` is the digest of the document the nurse reviewed: if the plan or the
    summary changed in between, nothing is delivered. Fields not recorded must be
    acknowledged (``acknowledge_missing``)."""
    today = today or patient.local_today()
    errors: dict[str, list[str]] = {}
    if delivered_on > today:
        _add(errors, "delivered_on", _("The delivery date cannot be in the future."))
    if delivered_to not in CarePlanVersion.Recipient.values:
        _add(errors, "delivered_to", _("Choose who received the care plan."))
    if method not in CarePlanVersion.Method.values:
        _add(errors, "method", _("Choose how the care plan was delivered."))
    note = (delivered_to_note or "").strip()
    if len(note) > 200:
        _add(errors, "delivered_to_note", _("Keep this under 200 characters."))
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()  # one delivery at a time
        data = doc.document_data(patient=patient, today=today)
        # Compared as bytes: a typed non-ASCII "digest" is a mismatch, not a TypeError.
        if expected_digest and not hmac.compare_digest(
            expected_digest.encode(), document_digest(data).encode()
        ):
            raise ValidationError(
                _(
                    "The care plan changed since you reviewed it (someone edited the plan or the "
                    "summary). Nothing was delivered: review the document again, then deliver it."
                )
            )
        if data["review"]["missing"] and not acknowledge_missing:
            _add(
                errors,
                "acknowledge_missing",
                _("Some fields are not recorded: confirm that the document may be delivered without them."),
            )
        previous = patient.care_plan_versions.order_by("-number").first()
        if previous is not None and delivered_on < previous.delivered_on:
            _add(
                errors,
                "delivered_on",
                _("Version %(n)d was delivered on %(d)s: a new version cannot be delivered before it.")
                % {"n": previous.number, "d": long_date(previous.delivered_on)},
            )
        if errors:
            raise ValidationError(errors)
        number = (patient.care_plan_versions.aggregate(top=Max("number"))["top"] or 0) + 1
        name = actor.get_full_name() or actor.get_username()
        data["delivery"] = {
            "number": number,
            "prepared_by": name,
            "delivered_on": delivered_on.isoformat(),
            "delivered_to": str(CarePlanVersion.Recipient(delivered_to).label),
            "delivered_to_note": note,
            "method": str(CarePlanVersion.Method(method).label),
        }
        html_patient = render_document(data, clinical=False)
        html_clinician = render_document(data, clinical=True)
        data_json = json.dumps(data, sort_keys=True, ensure_ascii=False)
        version = CarePlanVersion(
            patient=patient,
            number=number,
            prepared_by=actor,
            prepared_by_name=name,
            delivered_on=delivered_on,
            delivered_to=delivered_to,
            delivered_to_note=note,
            method=method,
            data=data,
            html_patient=html_patient,
            html_clinician=html_clinician,
            digest=CarePlanVersion.content_digest(data_json, html_patient, html_clinician),
        )
        _attribute(version, actor)
        version.save()
        # Its PDFs are laid out by a worker now, not by the first download.
        transaction.on_commit(lambda: careplan_version_pdfs.delay(version.pk))
    logger.info("care plan version %s delivered for patient %s", number, patient.pk)
    return version


# --- one-time links for primary care -----------------------------------------------------------------


def hash_link_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def careplan_link_create(
    *, version: CarePlanVersion, actor: User | None, label: str = "", now: dt.datetime | None = None
) -> tuple[CarePlanLink, str]:
    """A one-time link to ``version`` that expires after ``CAREPLAN_LINK_DAYS``; returns the
    row and the raw secret (shown to the nurse once, never stored or logged)."""
    label = (label or "").strip()
    if len(label) > 200:
        raise ValidationError({"label": _("Keep this under 200 characters.")})
    now = now or timezone.now()
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    link = CarePlanLink(
        version=version,
        token_hash=hash_link_token(raw),
        label=label,
        created_by=actor,
        expires_at=now + dt.timedelta(days=settings.CAREPLAN_LINK_DAYS),
    )
    _attribute(link, actor)
    link.full_clean()
    link.save()
    logger.info("care plan link %s created for version %s", link.pk, version.pk)
    return link, raw


def careplan_link_lookup(raw: str) -> CarePlanLink | None:
    """The link for a raw secret whatever its state (None if unknown); constant-time compare."""
    if not raw or len(raw) > 200:
        return None
    digest = hash_link_token(raw)
    link = (
        CarePlanLink.objects.select_related("version", "version__patient__care_team")
        .filter(token_hash=digest)
        .first()
    )
    if link is None or not hmac.compare_digest(link.token_hash, digest):
        return None
    return link


def careplan_link_open(*, raw: str, now: dt.datetime | None = None) -> CarePlanVersion | None:
    """Use a one-time link: the version if the link is active (it is then used up), else
    None. Two requests racing for one link: only one gets the document."""
    if not raw or len(raw) > 200:
        return None
    now = now or timezone.now()
    digest = hash_link_token(raw)
    with transaction.atomic():
        link = CarePlanLink.objects.select_for_update().filter(token_hash=digest).first()
        if link is None or not hmac.compare_digest(link.token_hash, digest):
            return None
        if link.state(now) != CarePlanLink.State.ACTIVE:
            return None
        link.used_at = now
        link.save(update_fields=["used_at"])
    logger.info("care plan link %s used", link.pk)
    return CarePlanVersion.objects.select_related("patient").get(pk=link.version_id)


def careplan_link_revoke(*, link: CarePlanLink, actor: User | None, now: dt.datetime | None = None) -> None:
    with transaction.atomic():
        link = CarePlanLink.objects.select_for_update().get(pk=link.pk)
        if link.used_at is None and link.revoked_at is None:
            link.revoked_at = now or timezone.now()
            _attribute(link, actor)
            link.save(update_fields=["revoked_at"])
