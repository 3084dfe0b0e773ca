"""A patient's audit trail, on its own page: newest first, filterable by who, what and
date, paged."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from scheduler.access import patient_for_nurse
from scheduler.plans.audit import CATEGORIES, AuditFilter, audit_trail
from scheduler.web import check_id, page_number, query_without
from survivorship.models import Patient

AUDIT_PAGE_SIZE = 25
SYSTEM = 0  # the "who" of changes nobody made by hand (the nightly extension, migrations)


class AuditFilterForm(forms.Form):
    who = forms.TypedChoiceField(label=_("Who"), required=False, coerce=int, empty_value=None)
    what = forms.ChoiceField(label=_("What"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, patient: Patient, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        people = sorted(patient.care_team.members.all(), key=str)
        self.fields["who"].choices = [
            ("", _("Anyone")),
            *((user.pk, str(user)) for user in people),
            (SYSTEM, _("The system")),
        ]
        self.fields["what"].choices = [("", _("Everything")), *CATEGORIES.items()]

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("This date is before the first one."))
        for name in ("since", "until"):
            if data.get(name) and not dt.date(1900, 1, 1) <= data[name] <= dt.date(2200, 1, 1):
                self.add_error(name, _("Enter a date between 1900 and 2200."))
        return data

    def filters(self) -> AuditFilter:
        if not self.is_valid():
            return AuditFilter()
        data = self.cleaned_data
        return AuditFilter(who=data["who"], what=data["what"], since=data["since"], until=data["until"])


@login_required
@require_http_methods(["GET", "HEAD"])
def patient_audit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for_nurse(request.user, check_id(patient_id))
    form = AuditFilterForm(request.GET or None, patient=patient)
    entries = audit_trail(patient, form.filters() if request.GET else None)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(page_number(request))
    context = {
        "patient": patient,
        "form": form,
        "page": page,
        "entries": page.object_list,
        "total": len(entries),
        "query": query_without(request, "page"),
    }
    return render(request, "nurse/audit.html", context)
