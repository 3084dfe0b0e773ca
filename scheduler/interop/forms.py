"""The upload form of bulk enrolment (it only parses: ``scheduler.interop.jobs`` checks the
file and writes)."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from scheduler.interop import imports
from scheduler.web import IdChoiceField
from survivorship.models import CareTeam, Organisation, User


def organisations_for(user: User) -> QuerySet[Organisation]:
    if user.is_administrator:
        return Organisation.objects.all()
    return Organisation.objects.filter(care_teams__members=user).distinct()


def teams_for(user: User) -> QuerySet[CareTeam]:
    teams = CareTeam.objects.select_related("organisation")
    return teams if user.is_administrator else teams.filter(members=user)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file or FHIR Bundle (JSON)"),
        help_text=_("UTF-8 text, up to %(mb)d MB. The columns are listed on this page.")
        % {"mb": imports.MAX_BYTES // 1024 // 1024},
    )
    organisation = IdChoiceField(label=_("Organisation"), queryset=Organisation.objects.none())
    default_care_team = IdChoiceField(
        label=_("Care team for rows without one"),
        queryset=CareTeam.objects.none(),
        required=False,
        help_text=_(
            "For CSV rows and FHIR patients that name no care team (a FHIR Bundle names it in its "
            "CarePlan); a team the file names wins."
        ),
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        organisations = organisations_for(user)
        self.fields["organisation"].queryset = organisations
        if len(organisations) == 1:
            self.fields["organisation"].initial = organisations[0].pk
        self.fields["default_care_team"].queryset = teams_for(user)
        self.fields["default_care_team"].label_from_instance = lambda t: f"{t.name} ({t.organisation.name})"

    def clean(self) -> dict:
        data = super().clean()
        team, organisation = data.get("default_care_team"), data.get("organisation")
        if team and organisation and team.organisation_id != organisation.pk:
            self.add_error("default_care_team", _("This care team belongs to another organisation."))
        upload = data.get("file")
        if upload is not None and upload.size > imports.MAX_BYTES:
            self.add_error(
                "file",
                _("The file is %(size)d MB; the limit is %(mb)d MB. Split it into smaller files.")
                % {"size": upload.size // 1024 // 1024, "mb": imports.MAX_BYTES // 1024 // 1024},
            )
        return data
