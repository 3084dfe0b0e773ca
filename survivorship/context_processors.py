"""Template context shared by every page: the navigation for the signed-in role."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

# (url name, label) per role. Names that are not routed yet are left out.
_NAVIGATION = {
    "patient": [
        ("patient:calendar", _("My calendar")),
        ("patient:agenda", _("Agenda")),
        ("patient:progress", _("Where I am")),
        ("careplan_patient:list", _("My care plan")),
        ("patient:preferences", _("Reminders")),
        ("patient:subscribe", _("Subscribe")),
    ],
    "nurse": [
        ("nurse:caseload", _("Caseload")),
        ("nurse:worklist", _("Worklist")),
        ("nurse:enrol", _("Enrol a patient")),
        ("nurse:feeds", _("Calendar links")),
    ],
    "administrator": [
        ("admin:index", _("Administration")),
    ],
}


def _links(role: str, path: str) -> list[dict[str, object]]:
    links = []
    for name, label in _NAVIGATION.get(role, []):
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        links.append({"url": url, "label": label, "active": path.startswith(url)})
    return links


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    return {"nav_links": _links(user.role, request.path)}
