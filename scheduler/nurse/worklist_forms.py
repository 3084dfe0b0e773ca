"""Forms of the worklist: its filters (a GET form) and its bulk actions (one POST form
whose button says which action). They parse and validate input; the services in
``scheduler.plans.bulk`` decide and write.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from scheduler.models import Kind
from scheduler.nurse.forms import MAX_YEARS_AHEAD
from scheduler.web import parse_id
from survivorship.models import CareTeam, User

MAX_TICKED = 1000  # more than a page can show; "all matching" has no such limit


class WorklistFilterForm(forms.Form):
    SORTS = {
        "due": ("due_date", "pk"),
        "-due": ("-due_date", "-pk"),
        "patient": ("patient__display_name", "due_date", "pk"),
        "kind": ("kind", "due_date", "pk"),
        "team": ("patient__care_team__name", "due_date", "pk"),
        "assigned": ("assigned_to__first_name", "assigned_to__last_name", "due_date", "pk"),
    }

    q = forms.CharField(label=_("Name or MRN"), max_length=100, required=False)
    team = forms.ChoiceField(label=_("Care team"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All kinds")), *Kind.choices])
    due = forms.ChoiceField(
        label=_("When"),
        required=False,
        choices=[
            ("", _("Overdue or due soon")),
            ("overdue", _("Overdue only")),
            ("soon", _("Due soon only")),
        ],
    )
    assigned = forms.ChoiceField(label=_("Assigned to"), required=False)
    rising = forms.BooleanField(label=_("Rising markers only"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("due", _("Most overdue first")),
            ("-due", _("Latest due first")),
            ("patient", _("Patient name")),
            ("kind", _("Kind")),
            ("team", _("Care team")),
            ("assigned", _("Assigned nurse")),
        ],
    )

    def __init__(self, *args: object, teams: list[CareTeam], nurses: list[User], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("All my teams")), *((str(t.pk), t.name) for t in teams)]
        self.fields["assigned"].choices = [
            ("", _("Anyone or nobody")),
            ("me", _("Me")),
            ("none", _("Nobody")),
            *((str(n.pk), n.get_full_name() or n.username) for n in nurses),
        ]
        for name in ("team", "kind", "due", "assigned", "sort"):
            self.fields[name].widget.attrs["class"] = "form-select form-select-sm"

    def filters(self) -> dict:
        """The selector's keyword arguments (empty when the form is not valid)."""
        if not (self.is_bound and self.is_valid()):
            return {}
        data = self.cleaned_data
        return {
            "team_id": int(data["team"]) if data["team"] else None,
            "kind": data["kind"],
            "due": data["due"],
            "assigned": data["assigned"],
            "q": data["q"].strip(),
        }

    def order(self) -> tuple[str, ...]:
        sort = self.cleaned_data.get("sort") if self.is_bound and self.is_valid() else ""
        return self.SORTS[sort or "due"]


class IdListField(forms.Field):
    """Ids ticked in a list: each a valid database id, never passed to the database raw (a
    huge or non-numeric value is a form error, not a 500)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid": _("One of the ticked items is not valid. Reload the page."),
        "too_many": _("Tick at most %(n)d items, or choose “all matching items”."),
    }

    def to_python(self, value: object) -> list[int]:
        if value in self.empty_values:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) > MAX_TICKED:
            raise ValidationError(self.error_messages["too_many"] % {"n": MAX_TICKED}, code="too_many")
        ids = [parse_id(v) for v in values]
        if None in ids:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return list(dict.fromkeys(ids))


class BulkActionForm(forms.Form):
    """One form for every bulk action: the pressed button (``action``) says which fields
    matter. Without a button (an old page) it books."""

    ACTIONS = {
        "book": _("Book"),
        "skip": _("Skip"),
        "missed": _("Close as missed"),
        "assign": _("Assign"),
    }

    action = forms.ChoiceField(choices=list(ACTIONS.items()), required=False)
    events = IdListField(label=_("Ticked items"), required=False)
    all_matching = forms.BooleanField(required=False)
    when = forms.ChoiceField(
        label=_("Date"),
        required=False,
        choices=[
            ("due", _("Each item’s due date, if it is still ahead")),
            ("date", _("This date for every item")),
        ],
        widget=forms.RadioSelect,
    )
    on_date = forms.DateField(label=_("Date"), required=False)
    start_time = forms.TimeField(label=_("Time"), required=False)
    duration_minutes = forms.IntegerField(
        label=_("Length (minutes)"), min_value=5, max_value=720, required=False
    )
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
    assignee = forms.ChoiceField(label=_("Nurse"), required=False)

    def __init__(self, *args: object, nurses: list[User], today: dt.date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.nurses = {str(n.pk): n for n in nurses}
        self.fields["assignee"].choices = [
            ("none", _("Nobody (remove the assignment)")),
            *((pk, n.get_full_name() or n.username) for pk, n in self.nurses.items()),
        ]

    def clean(self) -> dict:
        data = super().clean()
        action = data.get("action") or "book"
        data["action"] = action
        if not data.get("events") and not data.get("all_matching") and "events" not in self.errors:
            self.add_error("events", _("Tick at least one item, or choose “all matching items”."))
        if action == "book":
            self._clean_book(data)
        elif action in ("skip", "missed") and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give a reason: it is kept with each item."))
        elif action == "assign":
            choice = data.get("assignee") or ""
            if choice != "none" and choice not in self.nurses:
                self.add_error("assignee", _("Choose a nurse."))
            data["nurse"] = self.nurses.get(choice)
        return data

    def _clean_book(self, data: dict) -> None:
        if data.get("start_time") is None and not self.has_error("start_time"):
            self.add_error("start_time", _("Enter the time of the appointments."))
        if data.get("duration_minutes") is None and not self.has_error("duration_minutes"):
            data["duration_minutes"] = 30
        if (data.get("when") or "due") == "date":
            day = data.get("on_date")
            if day is None:
                if not self.has_error("on_date"):
                    self.add_error("on_date", _("Enter the date, or book each item on its due date."))
            # A past date is refused by the service, in each patient's zone, naming the items.
            elif day.year > self.today.year + MAX_YEARS_AHEAD:
                self.add_error("on_date", _("Enter a date in the next %(n)d years.") % {"n": MAX_YEARS_AHEAD})
        else:
            data["on_date"] = None
