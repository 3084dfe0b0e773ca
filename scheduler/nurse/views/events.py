"""One event: its page and the actions on it (book, record as done, skip, move, notes)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from scheduler.access import event_for_nurse
from scheduler.models import ScheduledEvent
from scheduler.nurse import presenters
from scheduler.nurse.forms import EVENT_FORMS, EventForm
from scheduler.plans import services
from scheduler.submissions import submit_once
from scheduler.web import check_id, safe_next

SERVICES = {
    "book": services.event_book,
    "complete": services.event_complete,
    "skip": services.event_skip,
    "move": services.event_move,
    "notes": services.event_update_notes,
}


def _render(
    request: HttpRequest,
    event: ScheduledEvent,
    *,
    bound: dict[str, EventForm] | None = None,
    status: int = 200,
    **extra: object,
) -> HttpResponse:
    today = presenters.nurse_today(request.user)
    forms = {action: form_class(event=event, today=today) for action, form_class in EVENT_FORMS.items()}
    forms.update(bound or {})
    context = {
        **presenters.event_page(event, today),
        "forms": forms,
        "next": safe_next(request, "", prefix="/nurse/"),
        **extra,
    }
    return render(request, "nurse/event.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    return _render(request, event_for_nurse(request.user, check_id(event_id)))


@login_required
@require_http_methods(["GET", "HEAD"])
def event_quick(request: HttpRequest, event_id: int) -> HttpResponse:
    """The inline book / record / skip forms of one open event (an HTML fragment the
    patient page's script inserts when its "Actions" panel is opened)."""
    event = event_for_nurse(request.user, check_id(event_id))
    if not event.is_open:
        raise Http404("This event is closed.")
    today = presenters.nurse_today(request.user)
    presenters.annotate(event, today)
    context = {"event": event, "today": today, "next": safe_next(request, "", prefix="/nurse/")}
    return render(request, "nurse/_quick_actions.html", context)


@login_required
@require_POST
@submit_once
def event_action(request: HttpRequest, event_id: int, action: str) -> HttpResponse:
    event = event_for_nurse(request.user, check_id(event_id))
    form_class = EVENT_FORMS.get(action)
    if form_class is None:
        raise Http404
    form = form_class(request.POST, event=event, today=presenters.nurse_today(request.user))
    status = 400
    conflict = None
    if form.is_valid():
        try:
            updated = SERVICES[action](event=event, actor=request.user, **form.service_kwargs())
        except services.ConcurrentEditError as exc:
            conflict = exc
            event = exc.current
            form.refresh_version(event)
            status = 409
        except services.PlanError as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            form.add_service_error(exc)
        except IntegrityError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _success_message(action, updated))
            # Back to the card; from the patient page itself, with the card's year opened
            # when it is folded (a completed item moves out of "Next 6 months").
            default = presenters.event_page_url(updated, presenters.nurse_today(request.user))
            target = safe_next(request, default, prefix="/nurse/")
            if target.split("#", 1)[0] == reverse("nurse:patient", args=[updated.patient_id]):
                target = default
            return redirect(target)
    return _render(
        request, event, bound={action: form}, status=status, conflict=conflict, failed_action=action
    )


def _success_message(action: str, event: ScheduledEvent) -> str:
    if action == "book":
        return presenters.booked_message(event)
    text = {
        "complete": _("Recorded as done: %(title)s."),
        "skip": _("Skipped: %(title)s."),
        "move": _("Moved: %(title)s is now due on %(date)s."),
        "notes": _("Notes saved for %(title)s."),
    }[action]
    return text % {"title": event.title, "date": event.due_date.strftime("%d %b %Y")}
