"""Forms of the care-plan pages. They parse (dates, numbers, choices) and hand the values to
``scheduler.careplan.services``, which validates and writes; service errors are shown on
the fields they are keyed by (``show_errors``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from scheduler import rules
from scheduler.careplan import services
from scheduler.careplan.staging import StagingSystem, staging_for
from scheduler.models import CarePlanVersion, TreatmentContact, TreatmentSummary
from scheduler.models.careplan import Answer, FieldState, Party

EARLIEST_DATE = dt.date(1900, 1, 1)
LONG_TEXT = {"ongoing_watch", "persistent_effects_detail", "pcp_address"}
STATE_SUFFIX = "__state"


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _model_label(name: str) -> str:
    return str(TreatmentSummary._meta.get_field(name).verbose_name).capitalize()


class ServiceErrorsMixin:
    """Show a service's ValidationError on the fields it names (others on the form)."""

    def show_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                self.add_error(None, message)
            return
        for field, errors in exc.message_dict.items():
            target = field if field in self.fields else None
            for message in errors:
                self.add_error(target, message)


def _summary_initial(summary: TreatmentSummary) -> dict[str, Any]:
    """The form's initial values from a saved summary (values, "__state" choices, exposures)."""
    initial: dict[str, Any] = {}
    for name in services.VALUE_FIELDS:
        initial[name] = getattr(summary, name)
    for name, state in (summary.field_states or {}).items():
        initial[name + STATE_SUFFIX] = state
    initial["exposures"] = list(summary.exposures or [])
    return initial


def _stage_group_field(staging: StagingSystem | None) -> forms.Field | None:
    """The structured stage choice, or None for a cancer type without a staging system."""
    if staging is None:
        return None
    return forms.ChoiceField(
        label=_("Stage group (%(system)s)") % {"system": staging.name},
        required=False,
        choices=[("", _("Not recorded")), *((g, g) for g in staging.groups)],
    )


def _value_field(name: str, label: str, staging: StagingSystem | None) -> forms.Field | None:
    """The form field that parses one summary value (None: the field is not shown)."""
    if name in services.ANSWER_FIELDS:
        return forms.ChoiceField(
            label=label, required=False, choices=[("", _("Not recorded")), *Answer.choices]
        )
    if name == "stage_group":
        return _stage_group_field(staging)
    if name.endswith("_date"):
        return forms.DateField(label=label, required=False, widget=_date_widget())
    if name == "systemic_cycles":
        return forms.IntegerField(label=label, required=False, min_value=0, max_value=32767)
    if name == "pcp_email":
        return forms.EmailField(label=label, required=False, max_length=254)
    if name in LONG_TEXT:
        return forms.CharField(
            label=label, required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
        )
    model_field = TreatmentSummary._meta.get_field(name)
    return forms.CharField(label=label, required=False, max_length=model_field.max_length)


class TreatmentSummaryForm(ServiceErrorsMixin, forms.Form):
    """The treatment summary: every value field, an "unknown / not applicable" choice beside
    each field that may have one, the treatment exposures, and the contacts (a formset)."""

    def __init__(self, *args: Any, case, summary: TreatmentSummary | None, **kwargs: Any) -> None:
        initial = dict(kwargs.pop("initial", None) or {})
        if summary is not None and not args:
            initial.update(_summary_initial(summary))
        super().__init__(*args, initial=initial, **kwargs)
        self.case = case
        self._add_value_fields(staging_for(case.cancer_type))
        self._add_exposures_field()

    def _add_value_fields(self, staging: StagingSystem | None) -> None:
        """Each value field, followed by its "unknown / not applicable" choice when it has one."""
        state_choices = [("", _("—")), *FieldState.choices]
        for name in services.VALUE_FIELDS:
            label = _model_label(name)
            if name in services.REQUIRED_FIELDS:
                label = f"{label} *"
            field = _value_field(name, label, staging)
            if field is None:
                continue
            self.fields[name] = field
            if name in services.STATE_FIELDS:
                self.fields[name + STATE_SUFFIX] = forms.ChoiceField(
                    label=_("%(field)s: unknown or not applicable") % {"field": label.rstrip(" *")},
                    required=False,
                    choices=state_choices,
                )

    def _add_exposures_field(self) -> None:
        vocabulary = rules.default_library().care_plan.exposures
        self.fields["exposures"] = forms.MultipleChoiceField(
            label=_("Treatment exposures (they decide which late effects the plan lists)"),
            required=False,
            choices=[(key, exposure.label) for key, exposure in vocabulary.items()],
            widget=forms.CheckboxSelectMultiple,
        )

    def pairs(self, names: tuple[str, ...]) -> list[tuple[forms.BoundField, forms.BoundField | None]]:
        """(value field, state field or None) for the template, in order."""
        out = []
        for name in names:
            if name in self.fields:
                state = name + STATE_SUFFIX
                out.append((self[name], self[state] if state in self.fields else None))
        return out

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {name: data.get(name) for name in services.VALUE_FIELDS if name in self.fields}
        for name, value in values.items():
            if value is None and not (name.endswith("_date") or name == "systemic_cycles"):
                values[name] = ""
        states = {name: data.get(name + STATE_SUFFIX) or "" for name in services.STATE_FIELDS}
        return {"values": values, "states": states, "exposures": data.get("exposures") or []}

    def show_errors(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict") and "contacts" in exc.error_dict:
            self.contact_errors = exc.message_dict["contacts"]
        super().show_errors(exc)


class ContactForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("—")), *TreatmentContact.Role.choices]
    )
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    institution = forms.CharField(label=_("Hospital or service"), required=False, max_length=200)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    email = forms.EmailField(label=_("Email"), required=False)


ContactFormSet = forms.formset_factory(
    ContactForm, extra=2, max_num=services.MAX_CONTACTS, absolute_max=services.MAX_CONTACTS
)


def contact_initial(summary: TreatmentSummary | None) -> list[dict[str, str]]:
    if summary is None:
        return []
    return [
        {"role": c.role, "name": c.name, "institution": c.institution, "phone": c.phone, "email": c.email}
        for c in summary.contacts.all()
    ]


class ResponsibilityForm(ServiceErrorsMixin, forms.Form):
    """Who provides each item, check and recommendation: one choice per subject."""

    def __init__(self, *args: Any, subjects: list[Mapping[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subjects = subjects
        for subject in subjects:
            default = Party(subject["default"]).label
            self.fields[subject["subject"]] = forms.ChoiceField(
                label=subject["label"],
                choices=Party.choices,
                initial=subject["who"],
                help_text=_("Protocol default: %(party)s") % {"party": default},
            )

    def rows(self) -> list[tuple[Mapping[str, str], forms.BoundField]]:
        return [(subject, self[subject["subject"]]) for subject in self.subjects]

    def assignments(self) -> dict[str, str]:
        return {name: value for name, value in self.cleaned_data.items() if value}


class NotesForm(ServiceErrorsMixin, forms.Form):
    notes = forms.CharField(
        label=_("Notes for the document"),
        required=False,
        max_length=services.NOTES_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown to the patient and to the primary care provider."),
    )


class DeliverForm(ServiceErrorsMixin, forms.Form):
    delivered_on = forms.DateField(label=_("Delivered on"), widget=_date_widget())
    delivered_to = forms.ChoiceField(label=_("Delivered to"), choices=CarePlanVersion.Recipient.choices)
    delivered_to_note = forms.CharField(
        label=_("Recipient details (optional)"),
        required=False,
        max_length=200,
        help_text=_("For example the name of the family member or of the practice."),
    )
    method = forms.ChoiceField(label=_("How"), choices=CarePlanVersion.Method.choices)
    acknowledge_missing = forms.BooleanField(
        label=_("Deliver it with the fields listed as not recorded"), required=False
    )
    digest = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_delivered_on(self) -> dt.date:
        value = self.cleaned_data["delivered_on"]
        if value < EARLIEST_DATE:
            raise ValidationError(_("Enter a date after 1 January 1900."))
        return value

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "delivered_on": data["delivered_on"],
            "delivered_to": data["delivered_to"],
            "delivered_to_note": data["delivered_to_note"],
            "method": data["method"],
            "acknowledge_missing": data["acknowledge_missing"],
            "expected_digest": data["digest"],
        }


class LinkForm(ServiceErrorsMixin, forms.Form):
    label = forms.CharField(
        label=_("For (optional)"),
        required=False,
        max_length=200,
        help_text=_("Who you will send the link to, for example the practice's name."),
    )
