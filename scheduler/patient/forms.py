"""Forms of the patient's pages. They parse and label input; the rules that decide what
is acceptable live in the services (``scheduler.patient.services``)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _

from scheduler.models.preferences import LEAD_TIME_CHOICES
from survivorship.forms import TimeZoneField
from survivorship.models import Patient
from survivorship.validators import validate_time_zone

LEAD_LABELS = {
    14: _("14 days before (two weeks)"),
    7: _("7 days before (one week)"),
    2: _("2 days before"),
    1: _("1 day before"),
}
HOUR_CHOICES = [(h, f"{h:02d}:00") for h in range(24)]
QUIET_CHOICES = [("", _("No quiet hours")), *HOUR_CHOICES]


def _hour_or_none(value: str) -> int | None:
    return None if value in ("", None) else int(value)


class PreferencesForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("How would you like to be reminded?"),
        choices=Patient.Channel.choices,
        widget=forms.RadioSelect,
    )
    phone = forms.CharField(
        label=_("Mobile number for text messages"),
        max_length=32,
        required=False,
        help_text=_("Only needed for text messages. Include the country code, for example +44 7700 900123."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    lead_days = forms.TypedMultipleChoiceField(
        label=_("When should we remind you?"),
        choices=[(d, LEAD_LABELS[d]) for d in LEAD_TIME_CHOICES],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Choose one or more. We remind you before each visit, scan or test."),
    )
    send_hour = forms.TypedChoiceField(
        label=_("What time of day?"),
        choices=HOUR_CHOICES,
        coerce=int,
        help_text=_("In your time zone."),
    )
    quiet_start = forms.TypedChoiceField(
        label=_("Quiet hours from"),
        choices=QUIET_CHOICES,
        coerce=_hour_or_none,
        empty_value=None,
        required=False,
    )
    quiet_end = forms.TypedChoiceField(
        label=_("Quiet hours until"),
        choices=QUIET_CHOICES,
        coerce=_hour_or_none,
        empty_value=None,
        required=False,
        help_text=_("We never send a reminder during your quiet hours."),
    )
    time_zone = TimeZoneField(
        label=_("Your time zone"),
        validators=[validate_time_zone],
        help_text=_(
            "Type your city or country and choose from the list. "
            "Appointment times and reminders follow this time zone."
        ),
    )
    calendar_details = forms.BooleanField(
        label=_("Show the names of tests in my calendar app"),
        required=False,
        help_text=_(
            "Off (recommended): calendar apps, and anyone who can see your calendar, only see "
            "“Follow-up appointment”. On: they see names such as “CT scan”."
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        current = self.initial.get("time_zone") or ""
        self.fields["time_zone"].current = current
        self.fields["time_zone"].set_usual([current, *settings.USUAL_TIME_ZONES])


class ShareForm(forms.Form):
    label = forms.CharField(
        label=_("Who is this link for?"),
        max_length=100,
        help_text=_("A name to recognise the link by, for example “Sam (my son)”. They will not see it."),
    )


class InvitationPasswordForm(SetPasswordForm):
    """Django's set-password form (with the password validators) worded for a first visit."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("Choose a password")
        self.fields["new_password2"].label = _("Type the password again")
