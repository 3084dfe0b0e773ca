"""Forms of the care domain: signing in, passwords, two-factor codes, time zones."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.core.validators import MaxLengthValidator
from django.db.models import Count, QuerySet
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from survivorship.timezones import ordered_time_zones, zone_by_typed_name

USUAL_FROM_PATIENTS = 6


def _password_field(field: forms.CharField) -> forms.CharField:
    """The same field, refusing more than PASSWORD_MAX_LENGTH characters (and saying so
    to the browser), so an oversized value never reaches the password hasher."""
    limit = settings.PASSWORD_MAX_LENGTH
    field.max_length = limit
    field.widget.attrs["maxlength"] = str(limit)
    field.validators.append(MaxLengthValidator(limit))
    return field


class LoginForm(auth_forms.AuthenticationForm):
    username = forms.CharField(
        label=_("Email or username"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _password_field(self.fields["password"])


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("old_password", "new_password1", "new_password2"):
            _password_field(self.fields[name])


class SetPasswordForm(auth_forms.SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("new_password1", "new_password2"):
            _password_field(self.fields[name])


class TwoFactorCodeForm(forms.Form):
    """The code from the authenticator app, or one of the recovery codes."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6-digit code your authenticator app shows now, or one of your recovery codes."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).replace("-", "").lower()


class TwoFactorConfirmForm(forms.Form):
    """Enrolment: the first code the new authenticator app shows."""

    code = forms.CharField(
        label=_("6-digit code from the app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}
        ),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split())


class TimeZoneInput(forms.TextInput):
    """A text box to type a zone in, with the list of zones to search (``<input list>`` and
    ``<datalist>``: the browser matches what is typed against the zone and the city and
    country), the organisation's usual zones first."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})
        self.usual: tuple[str, ...] = ()

    def render(self, name, value, attrs=None, renderer=None):
        attrs = dict(attrs or {})
        list_id = f"{attrs.get('id') or 'id_' + name}-zones"
        attrs["list"] = list_id
        usual, others = ordered_time_zones(self.usual)
        options = format_html_join(
            "", '<option value="{}">{}</option>', ((zone.name, zone.label) for zone in [*usual, *others])
        )
        return super().render(name, value, attrs, renderer) + format_html(
            '<datalist id="{}">{}</datalist>', list_id, options
        )


class TimeZoneField(forms.CharField):
    """A zone from ``selectable_time_zones`` (typed as "Europe/London", any capitalisation, or
    as its label "London, Britain (UK)"); ``current`` (a stored zone that is no longer
    offered, such as an old alias) is kept when it is sent back unchanged."""

    widget = TimeZoneInput
    default_error_messages = {
        "invalid_zone": _("Choose a time zone from the list, for example Europe/London."),
    }

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.current = ""

    def set_usual(self, usual: Iterable[str]) -> None:
        self.widget.usual = tuple(usual)

    def to_python(self, value: object) -> str:
        text = super().to_python(value)
        if text in self.empty_values or (self.current and text == self.current):
            return text
        zone = zone_by_typed_name(text)
        if zone is None:
            raise forms.ValidationError(self.error_messages["invalid_zone"], code="invalid_zone")
        return zone.name


def usual_time_zones(patients: QuerySet) -> list[str]:
    """The organisation's usual zones: ``USUAL_TIME_ZONES`` (a setting), then the zones most
    used by ``patients`` (for example those of the nurse's teams)."""
    used = (
        patients.order_by()
        .values_list("time_zone")
        .annotate(n=Count("pk"))
        .order_by("-n", "time_zone")
        .values_list("time_zone", flat=True)[:USUAL_FROM_PATIENTS]
    )
    return [*settings.USUAL_TIME_ZONES, *used]
