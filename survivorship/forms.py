"""Forms of the care domain: signing in, passwords, two-factor codes."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _


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
