"""Forms of the nurse workspace. They validate input and turn it into the keyword
arguments of a service; they never write (``scheduler.plans.services`` does).

Every event form carries the event's ``version``: the service refuses the change with
``ConcurrentEditError`` when someone else saved the event in between.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduler.models import Kind, Recurrence, ScheduledEvent
from scheduler.plans import markers
from scheduler.rules import RulesError, default_library
from scheduler.web import IdChoiceField
from survivorship.forms import TimeZoneField, usual_time_zones
from survivorship.models import CancerCase, CareTeam, Patient, User
from survivorship.timezones import DEFAULT_TIME_ZONE, zone_choice, zone_for

EARLIEST_DATE = dt.date(1900, 1, 1)
MAX_YEARS_AHEAD = 20
MAX_VERSION = 2**31 - 1


def _date_field(label: str, **kwargs: object) -> forms.DateField:
    return forms.DateField(
        label=label, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs
    )


def _latest_date(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year + MAX_YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + MAX_YEARS_AHEAD, day=28)


def _check_range(form: forms.Form, name: str, value: dt.date | None, *, latest: dt.date) -> None:
    if value is None:
        return
    if value < EARLIEST_DATE:
        form.add_error(name, _("Enter a date after 1 January 1900."))
    elif value > latest:
        form.add_error(name, _("Enter a date before %(date)s.") % {"date": latest.strftime("%d %b %Y")})


# --- event actions ------------------------------------------------------------------------


class EventForm(forms.Form):
    """Base of the forms that change one event; ``event`` is the state the form was
    shown for (its ``version`` goes into a hidden field)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_VERSION)

    action = ""

    def __init__(self, *args: object, event: ScheduledEvent, today: dt.date, **kwargs: object) -> None:
        kwargs.setdefault("prefix", f"e{event.pk}-{self.action}")
        initial = dict(kwargs.pop("initial", None) or {})
        initial.setdefault("version", event.version)
        super().__init__(*args, initial=initial, **kwargs)
        self.event = event
        self.today = today
        self.patient_zone = event.patient.zone

    # A service's own names for what this form calls otherwise.
    SERVICE_FIELDS: Mapping[str, str] = {}

    def add_service_error(self, exc: ValidationError) -> None:
        """Show a service's ValidationError: messages keyed by a field of this form (or by
        the service's name for it, ``SERVICE_FIELDS``) beside it, the others above the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            field = self.SERVICE_FIELDS.get(field, field)
            target = field if field in self.fields else None
            for error in errors:
                self.add_error(target, error)

    def refresh_version(self, current: ScheduledEvent) -> None:
        """After a concurrent edit: keep what the nurse typed, expect the current version."""
        if self.is_bound:
            data = self.data.copy()
            data[self.add_prefix("version")] = str(current.version)
            self.data = data
        self.initial["version"] = current.version
        self.event = current


class BookForm(EventForm):
    action = "book"

    date = _date_field(_("Date"))
    time = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    duration_minutes = forms.IntegerField(label=_("Length (minutes)"), min_value=5, max_value=720, initial=30)
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    after_the_fact = forms.BooleanField(
        label=_("Recorded after the fact (the time is in the past)"), required=False
    )

    SERVICE_FIELDS = {"start": "time", "allow_past": "after_the_fact"}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        event = self.event
        if event.booked_start:
            local = timezone.localtime(event.booked_start, self.patient_zone)
            self.initial.setdefault("date", local.date())
            self.initial.setdefault("time", local.time().replace(second=0, microsecond=0, fold=0))
            self.initial.setdefault("duration_minutes", event.duration_minutes or 30)
            self.initial.setdefault("location", event.location)
        else:
            self.initial.setdefault("date", max(event.due_date, self.today))
            self.initial.setdefault("time", dt.time(9, 0))
        self.fields["time"].help_text = _("In the patient's time zone (%(zone)s).") % {
            "zone": self.patient_zone.key
        }

    def clean(self) -> dict:
        data = super().clean()
        day, time = data.get("date"), data.get("time")
        _check_range(self, "date", day, latest=_latest_date(self.today))
        if day and time and not self.has_error("date"):
            data["start"] = self._start(day, time)
        return data

    def _start(self, day: dt.date, time: dt.time) -> dt.datetime:
        """The wall-clock time in the patient's zone (the service refuses one that does not
        exist). The booked time itself when the date and time are those pre-filled: saving
        the form unchanged keeps it to the second, even at the second 01:30 of an overlap."""
        booked = self.event.booked_start
        if booked is not None:
            local = timezone.localtime(booked, self.patient_zone)
            if (local.date(), local.time().replace(second=0, microsecond=0, fold=0)) == (day, time):
                return booked
        return dt.datetime.combine(day, time.replace(tzinfo=None), tzinfo=self.patient_zone)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "start": data["start"],
            "duration_minutes": data["duration_minutes"],
            "location": data["location"],
            "allow_past": bool(data.get("after_the_fact")),
            "expected_version": data["version"],
        }


class CompleteForm(EventForm):
    """Record as done. A tumour-marker or lab event asks for each analyte of its item (one
    field group per analyte, ``<analyte id>__<field>``): value, unit, the laboratory's range
    (optional: the protocol's applies otherwise) and normal / abnormal / not measured. The
    service judges the values (``scheduler.plans.markers.judge``); its errors come back keyed
    by these field names and are shown beside them, with everything typed kept."""

    action = "complete"
    SHARE_CHOICES = (("yes", _("Share with the patient now")), ("no", _("Not yet (tell them first)")))
    ASSESSMENT_CHOICES = (
        (markers.NORMAL, _("Normal")),
        (markers.ABNORMAL, _("Abnormal")),
        (markers.NOT_MEASURED, _("Not measured")),
    )

    completed_on = _date_field(_("Done on"))
    result_text = forms.CharField(
        label=_("Result or summary"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    result_flag = forms.ChoiceField(
        label=_("Normal or abnormal"), choices=ScheduledEvent.ResultFlag.choices, required=False
    )
    result_shared = forms.ChoiceField(
        label=_("The result"),
        choices=SHARE_CHOICES,
        widget=forms.RadioSelect,
        required=False,  # not sent (an older form): the organisation's setting applies
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        event = self.event
        self.slots = markers.slots_for(item_id=event.item_id, kind=event.kind, title=event.title)
        self.panel = any(slot.analyte for slot in self.slots)
        if self.panel:
            del self.fields["result_flag"]  # a panel's flag follows its analytes
        self.initial.setdefault(
            "completed_on", event.completed_on or min(self.today, event.patient.local_today())
        )
        shared = (
            event.result_shared
            if event.status == ScheduledEvent.Status.COMPLETED
            else event.patient.organisation.share_results_by_default
        )
        self.initial.setdefault("result_shared", "yes" if shared else "no")
        for name in ("result_text", "result_flag"):
            if name in self.fields:
                self.initial.setdefault(name, getattr(event, name))
        stored = {}
        if event.status == ScheduledEvent.Status.COMPLETED and self.slots:
            stored = {
                (row.analyte_id or markers.FREE): row
                for row in getattr(event, "results", None) or event.analyte_results.all()
                if row.analyte_id or not row.migration_note
            }
        for slot in self.slots:
            self._add_slot(
                slot, stored.get(slot.key), completed=event.status == ScheduledEvent.Status.COMPLETED
            )

    def _add_slot(self, slot: markers.Slot, row: object, *, completed: bool) -> None:
        name = slot.short_name
        number = {"max_digits": 18, "decimal_places": 6, "required": False}
        fields = {
            "value": forms.DecimalField(label=_("%(name)s value") % {"name": name}, **number),
            # Any text: the service says which units the analyte accepts.
            "unit": forms.CharField(
                label=_("%(name)s unit") % {"name": name},
                required=False,
                max_length=20,
                widget=forms.Select(choices=[(u, u) for u in slot.units]),
            ),
            "reference_low": forms.DecimalField(label=_("Lab range from"), **number),
            "reference_high": forms.DecimalField(label=_("Lab range to"), **number),
            "assessment": forms.ChoiceField(
                label=_("%(name)s is") % {"name": name},
                choices=self.ASSESSMENT_CHOICES if slot.analyte else self.ASSESSMENT_CHOICES[:2],
                widget=forms.RadioSelect,
                required=False,
            ),
        }
        for field, form_field in fields.items():
            self.fields[markers.field_name(slot.key, field)] = form_field
        initial = {"unit": slot.units[0] if slot.units else ""}
        if row is not None:
            initial.update(
                value=row.value.normalize() if row.value is not None else None,
                unit=row.unit or initial["unit"],
                assessment=row.assessment,
            )
            if row.reference_source == markers.LAB:
                initial.update(reference_low=row.reference_low, reference_high=row.reference_high)
        elif completed and slot.analyte:
            initial["assessment"] = markers.NOT_MEASURED
        for field, value in initial.items():
            self.initial.setdefault(markers.field_name(slot.key, field), value)

    @property
    def slot_groups(self) -> list[tuple[markers.Slot, dict[str, forms.BoundField]]]:
        """Each analyte with its bound fields, for the template's field groups."""
        names = ("value", "unit", "reference_low", "reference_high", "assessment")
        return [(slot, {n: self[markers.field_name(slot.key, n)] for n in names}) for slot in self.slots]

    @property
    def plain_fields(self) -> list[forms.BoundField]:
        """The fields outside the analyte groups, in order."""
        keys = {f"{slot.key}__" for slot in self.slots}
        return [
            self[name]
            for name in self.fields
            if name != "version" and not any(name.startswith(k) for k in keys)
        ]

    def clean(self) -> dict:
        data = super().clean()
        _check_range(self, "completed_on", data.get("completed_on"), latest=_latest_date(self.today))
        return data

    def entries(self) -> dict[str, markers.Entry]:
        data = self.cleaned_data
        entries = {}
        for slot in self.slots:

            def get(name: str, key: str = slot.key) -> object:
                return data.get(markers.field_name(key, name))

            entries[slot.key] = markers.Entry(
                key=slot.key,
                value=get("value"),
                unit=get("unit") or "",
                reference_low=get("reference_low"),
                reference_high=get("reference_high"),
                assessment=get("assessment") or "",
            )
        return entries

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "completed_on": data["completed_on"],
            "result_text": data["result_text"],
            "result_flag": data.get("result_flag") or "",
            "result_shared": {"yes": True, "no": False}.get(data.get("result_shared") or ""),
            "results": self.entries(),
            "expected_version": data["version"],
        }


class SkipForm(EventForm):
    action = "skip"

    reason = forms.CharField(label=_("Why is it skipped?"), max_length=300)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason for skipping."))
        return reason

    def service_kwargs(self) -> dict:
        return {"reason": self.cleaned_data["reason"], "expected_version": self.cleaned_data["version"]}


class MoveForm(EventForm):
    action = "move"

    new_due = _date_field(_("New due date"))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        required=False,
        help_text=_("Required when the new date is outside the due window."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("new_due", self.event.due_date)

    def clean(self) -> dict:
        data = super().clean()
        new_due = data.get("new_due")
        _check_range(self, "new_due", new_due, latest=_latest_date(self.today))
        if new_due and not self.has_error("new_due"):
            outside = not self.event.window_start <= new_due <= self.event.window_end
            if outside and not (data.get("reason") or "").strip():
                self.add_error(
                    "reason",
                    _("%(date)s is outside the due window (%(start)s to %(end)s): give a reason.")
                    % {
                        "date": new_due.strftime("%d %b %Y"),
                        "start": self.event.window_start.strftime("%d %b %Y"),
                        "end": self.event.window_end.strftime("%d %b %Y"),
                    },
                )
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {"new_due": data["new_due"], "reason": data["reason"], "expected_version": data["version"]}


class NotesForm(EventForm):
    action = "notes"

    notes = forms.CharField(
        label=_("Care-team notes"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("notes", self.event.notes)

    def service_kwargs(self) -> dict:
        return {"notes": self.cleaned_data["notes"], "expected_version": self.cleaned_data["version"]}


EVENT_FORMS: dict[str, type[EventForm]] = {
    form.action: form for form in (BookForm, CompleteForm, SkipForm, MoveForm, NotesForm)
}


# --- patient-level actions --------------------------------------------------------------------


class CustomItemForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices, initial=Kind.VISIT)
    title = forms.CharField(label=_("Title"), max_length=200)
    explanation = forms.CharField(
        label=_("Explanation for the patient"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Plain language: why this is in the plan and what to expect."),
    )
    first_due = _date_field(_("First due on"))
    interval_months = forms.IntegerField(
        label=_("Repeat every (months)"),
        min_value=1,
        max_value=120,
        required=False,
        help_text=_("Leave empty for a one-off item."),
    )
    until = _date_field(_("Repeat until"), required=False)

    def __init__(self, *args: object, today: dt.date, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "custom")
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict:
        data = super().clean()
        latest = _latest_date(self.today)
        _check_range(self, "first_due", data.get("first_due"), latest=latest)
        _check_range(self, "until", data.get("until"), latest=latest)
        first, until = data.get("first_due"), data.get("until")
        if until and not data.get("interval_months"):
            self.add_error("until", _("An end date only applies to a repeating item."))
        if first and until and until < first:
            self.add_error("until", _("The end date must be after the first due date."))
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "title": data["title"].strip(),
            "explanation": data["explanation"].strip(),
            "first_due": data["first_due"],
            "interval_months": data.get("interval_months"),
            "until": data.get("until"),
        }


class OverrideForm(forms.Form):
    MODE_OFF = "off"
    MODE_INTERVAL = "interval"

    item_id = forms.ChoiceField(label=_("Item"))
    mode = forms.ChoiceField(
        label=_("Change"),
        choices=[(MODE_OFF, _("Turn it off for this patient")), (MODE_INTERVAL, _("Use a fixed interval"))],
        widget=forms.RadioSelect,
        initial=MODE_INTERVAL,
    )
    interval_months = forms.IntegerField(
        label=_("Every (months)"), min_value=1, max_value=120, required=False
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args: object, items: list[tuple[str, str]], **kwargs: object) -> None:
        kwargs.setdefault("prefix", "override")
        super().__init__(*args, **kwargs)
        self.fields["item_id"].choices = items

    def clean(self) -> dict:
        data = super().clean()
        if data.get("mode") == self.MODE_INTERVAL and not data.get("interval_months"):
            self.add_error(
                "interval_months", _("Enter the interval in months, or choose to turn the item off.")
            )
        if "reason" in data and not data["reason"].strip():
            self.add_error("reason", _("Give a reason for the change."))
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        off = data["mode"] == self.MODE_OFF
        return {
            "item_id": data["item_id"],
            "disabled": off,
            "interval_months": None if off else data["interval_months"],
            "reason": data["reason"].strip(),
        }


class RecurrenceForm(forms.Form):
    detected_on = _date_field(_("Detected on"))
    extent = forms.ChoiceField(label=_("Extent"), choices=Recurrence.Extent.choices)
    notes = forms.CharField(
        label=_("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: object, today: dt.date, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "recurrence")
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict:
        data = super().clean()
        _check_range(self, "detected_on", data.get("detected_on"), latest=self.today)
        if data.get("detected_on") and data["detected_on"] > self.today:
            self.add_error("detected_on", _("The date cannot be in the future."))
        return data


class ResumeForm(forms.Form):
    remission_date = _date_field(_("New remission date"))

    def __init__(self, *args: object, today: dt.date, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "resume")
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_remission_date(self) -> dt.date:
        value = self.cleaned_data["remission_date"]
        if value > self.today:
            raise ValidationError(_("The remission date cannot be in the future."))
        if value < EARLIEST_DATE:
            raise ValidationError(_("Enter a date after 1 January 1900."))
        return value


class DischargeForm(forms.Form):
    reason = forms.CharField(label=_("Reason for discharge"), max_length=300)

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "discharge")
        super().__init__(*args, **kwargs)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason for the discharge."))
        return reason


# --- cancer type and facts (enrolment, case changes) --------------------------------------------


def cancer_type_choices() -> list[tuple[str, str]]:
    return list(default_library().choices())


class FactsMixin:
    """Adds one choice field per fact of the chosen cancer type (``fact_<name>``).

    Works without JavaScript in two steps: the fields shown are those of the type in the
    hidden ``facts_for`` field; when the nurse picks another type, the form asks for that
    type's facts before anything is previewed or saved.
    """

    FACT_PREFIX = "fact_"

    def _setup_facts(self, initial_facts: Mapping[str, str] | None = None) -> None:
        library = default_library()
        chosen = self._value("cancer_type")
        if chosen not in library:
            chosen = ""
        shown_for = self._value("facts_for")
        self.facts_type = chosen
        self.facts_changed = bool(self.is_bound and chosen and shown_for != chosen)
        if self.facts_changed:
            # The nurse has not seen this type's facts yet: offer its defaults.
            data = self.data.copy()
            for name, spec in library.get(chosen).facts.items():
                data[self.add_prefix(self.FACT_PREFIX + name)] = spec.default
            data[self.add_prefix("facts_for")] = chosen
            self.data = data
        self.initial["facts_for"] = chosen
        if not chosen:
            return
        protocol = library.get(chosen)
        facts = dict(initial_facts or {})
        for name, spec in protocol.facts.items():
            self.fields[self.FACT_PREFIX + name] = forms.ChoiceField(
                label=spec.label,
                choices=spec.choices(),
                initial=facts.get(name, spec.default),
            )

    def _value(self, name: str) -> str:
        value = self.data.get(self.add_prefix(name), "") if self.is_bound else self.initial.get(name, "")
        return value if isinstance(value, str) else ""

    @property
    def fact_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(self.FACT_PREFIX)]

    @property
    def other_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith(self.FACT_PREFIX)]

    def facts_from(self, data: Mapping[str, object]) -> dict[str, str]:
        return {
            name[len(self.FACT_PREFIX) :]: value
            for name, value in data.items()
            if name.startswith(self.FACT_PREFIX)
        }

    def _clean_facts(self, data: dict) -> None:
        if self.facts_changed:
            name = default_library().get(self.facts_type).name
            raise ValidationError(
                _(
                    "Check the facts for %(type)s below (they were just added for this cancer type), "
                    "then continue."
                )
                % {"type": name}
            )
        slug = data.get("cancer_type")
        if slug:
            try:
                data["facts"] = default_library().get(slug).validate_facts(self.facts_from(data))
            except RulesError as exc:
                raise ValidationError(str(exc)) from exc


class EnrolmentForm(FactsMixin, forms.Form):
    # The patient
    display_name = forms.CharField(label=_("Full name"), max_length=200)
    date_of_birth = _date_field(_("Date of birth"))
    mrn = forms.CharField(label=_("Medical record number (MRN)"), max_length=40)
    time_zone = TimeZoneField(
        label=_("Time zone"),
        help_text=_("Type a city or country and choose from the list. Reminders and times follow this zone."),
    )
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=32, required=False)
    reminder_channel = forms.ChoiceField(
        label=_("Reminders by"), choices=Patient.Channel.choices, initial=Patient.Channel.EMAIL
    )
    care_team = IdChoiceField(label=_("Care team"), queryset=CareTeam.objects.none())
    # The cancer case
    cancer_type = forms.ChoiceField(label=_("Cancer type"))
    remission_date = _date_field(_("Remission date"))
    remission_type = forms.ChoiceField(
        label=_("Remission type"),
        choices=CancerCase.RemissionType.choices,
        initial=CancerCase.RemissionType.COMPLETE,
    )
    facts_for = forms.CharField(widget=forms.HiddenInput, required=False, max_length=60)
    preview_digest = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    PATIENT_FIELDS = (
        "display_name",
        "date_of_birth",
        "mrn",
        "time_zone",
        "email",
        "phone",
        "reminder_channel",
    )
    CASE_FIELDS = ("cancer_type", "remission_date", "remission_type")

    def __init__(self, *args: object, nurse: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.nurse = nurse
        teams = CareTeam.objects.filter(members=nurse).select_related("organisation").order_by("name")
        usual = usual_time_zones(Patient.objects.filter(care_team__in=teams))
        self.fields["time_zone"].set_usual(usual)
        self.fields["time_zone"].initial = next(
            (name for name in [nurse.time_zone, *usual] if zone_choice(name)), DEFAULT_TIME_ZONE
        )
        self.fields["care_team"].queryset = teams
        if len(teams) == 1:
            self.fields["care_team"].initial = teams[0].pk
        self.fields["cancer_type"].choices = [("", _("Choose a cancer type")), *cancer_type_choices()]
        self._setup_facts()

    def local_today(self) -> dt.date:
        zone = zone_for(self.cleaned_data.get("time_zone") or self.nurse.time_zone)
        return timezone.localdate(timezone=zone)

    def clean(self) -> dict:
        data = super().clean()
        try:
            self._clean_facts(data)
        except ValidationError as exc:
            self.add_error(None, exc)
        if self.errors:
            return data
        today = self.local_today()
        born, remission, team = data["date_of_birth"], data["remission_date"], data["care_team"]
        mrn = data["mrn"] = data["mrn"].strip()
        if born > today:
            self.add_error("date_of_birth", _("The date of birth cannot be in the future."))
        elif born < EARLIEST_DATE:
            self.add_error("date_of_birth", _("Enter a date after 1 January 1900."))
        if remission > today:
            self.add_error("remission_date", _("The remission date cannot be in the future."))
        elif remission < born:
            self.add_error("remission_date", _("The remission date cannot be before the date of birth."))
        if Patient.objects.filter(organisation_id=team.organisation_id, mrn=mrn).exists():
            self.add_error("mrn", _("A patient with this medical record number is already enrolled."))
        if self.errors:
            return data
        patient, case = self.build()
        self._full_clean_into_errors(patient, exclude=["user"])
        self._full_clean_into_errors(case, exclude=["patient"])
        return data

    def _full_clean_into_errors(self, instance: object, *, exclude: list[str]) -> None:
        try:
            instance.full_clean(exclude=exclude)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = field if field in self.fields and field != NON_FIELD_ERRORS else None
                for message in messages:
                    self.add_error(target, message)

    def build(self) -> tuple[Patient, CancerCase]:
        """Unsaved patient and cancer case from the cleaned data."""
        data = self.cleaned_data
        team = data["care_team"]
        patient = Patient(
            organisation_id=team.organisation_id,
            care_team=team,
            **{name: data[name] for name in self.PATIENT_FIELDS},
        )
        case = CancerCase(
            patient=patient,
            facts=data.get("facts") or {},
            **{name: data[name] for name in self.CASE_FIELDS},
        )
        return patient, case

    def digest(self) -> str:
        """A fingerprint of what was previewed: saving needs the same data."""
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("preview_digest", "facts_for")}
        data["care_team"] = data["care_team"].pk if data.get("care_team") else None
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


class CaseUpdateForm(FactsMixin, forms.Form):
    """Change the cancer type, remission date or facts (the plan is regenerated)."""

    cancer_type = forms.ChoiceField(label=_("Cancer type"))
    remission_date = _date_field(_("Remission date"))
    remission_type = forms.ChoiceField(label=_("Remission type"), choices=CancerCase.RemissionType.choices)
    facts_for = forms.CharField(widget=forms.HiddenInput, required=False, max_length=60)

    def __init__(self, *args: object, case: CancerCase, today: dt.date, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "case")
        initial = dict(kwargs.pop("initial", None) or {})
        initial.setdefault("cancer_type", case.cancer_type)
        initial.setdefault("remission_date", case.remission_date)
        initial.setdefault("remission_type", case.remission_type)
        super().__init__(*args, initial=initial, **kwargs)
        self.case = case
        self.today = today
        self.fields["cancer_type"].choices = cancer_type_choices()
        self._setup_facts(case.facts if self._value("cancer_type") == case.cancer_type else None)

    def clean(self) -> dict:
        data = super().clean()
        try:
            self._clean_facts(data)
        except ValidationError as exc:
            self.add_error(None, exc)
        remission = data.get("remission_date")
        if remission:
            if remission > self.today:
                self.add_error("remission_date", _("The remission date cannot be in the future."))
            elif remission < max(EARLIEST_DATE, self.case.patient.date_of_birth):
                self.add_error("remission_date", _("The remission date cannot be before the date of birth."))
        return data

    def changes(self) -> dict:
        data = self.cleaned_data
        return {
            "cancer_type": data["cancer_type"],
            "remission_date": data["remission_date"],
            "remission_type": data["remission_type"],
            "facts": data["facts"],
        }


# --- caseload filters --------------------------------------------------------------------------


class CaseloadFilterForm(forms.Form):
    SORTS = {
        "name": ("display_name", "id"),
        "-name": ("-display_name", "-id"),
        "mrn": ("mrn", "id"),
        "-mrn": ("-mrn", "-id"),
        "remission": ("cancer_case__remission_date", "id"),
        "-remission": ("-cancer_case__remission_date", "-id"),
        "next": ("next_due_date", "display_name", "id"),
        "-next": ("-next_due_date", "display_name", "id"),
        "overdue": ("overdue_count", "display_name", "id"),
        "-overdue": ("-overdue_count", "display_name", "id"),
    }

    q = forms.CharField(label=_("Name or MRN"), max_length=100, required=False)
    cancer_type = forms.ChoiceField(label=_("Cancer type"), required=False)
    status = forms.ChoiceField(
        label=_("Surveillance"),
        required=False,
        choices=[("", _("Any status")), *CancerCase.SurveillanceStatus.choices],
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    due_within = forms.IntegerField(label=_("Due within (days)"), min_value=1, max_value=3650, required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("name", _("Name A–Z")),
            ("-name", _("Name Z–A")),
            ("mrn", _("MRN")),
            ("-overdue", _("Most overdue")),
            ("next", _("Next due first")),
            ("-remission", _("Most recent remission")),
            ("remission", _("Longest in remission")),
            ("-mrn", _("MRN, descending")),
            ("-next", _("Next due last")),
            ("overdue", _("Least overdue")),
        ],
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cancer_type"].choices = [("", _("All cancer types")), *cancer_type_choices()]
        for name in ("cancer_type", "status", "sort"):
            self.fields[name].widget.attrs["class"] = "form-select"


class FeedLinkForm(forms.Form):
    """The name of a caseload calendar link (one line, so it reads well in a list)."""

    label = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("To recognise the link by, for example “Work phone” or “Outlook on the ward PC”."),
    )

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        if any(ord(char) < 32 or ord(char) == 127 for char in label):
            raise ValidationError(_("Use one line of text, without control characters."))
        return label
