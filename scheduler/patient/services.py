"""Services of the patient's own pages: reminder preferences, the personal calendar link
and the read-only links shared with family. Each checks its input, owns its transaction
and raises ``ValidationError`` (field -> message) for bad input, so forms can show it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from scheduler.feeds.tokens import token_issue, token_revoke, token_rotate
from scheduler.models import FeedToken, ReminderPreferences
from scheduler.models.preferences import LEAD_TIME_CHOICES
from scheduler.reminders.service import reminders_sync_patient
from survivorship.models import Patient, User
from survivorship.validators import validate_time_zone

logger = logging.getLogger(__name__)

MAX_ACTIVE_SHARES = 10
_PHONE = re.compile(r"^\+?[0-9 ()\-]{7,24}$")


def preferences_for(patient: Patient) -> ReminderPreferences:
    """The patient's preferences, unsaved defaults when they never chose any."""
    try:
        return patient.preferences
    except ReminderPreferences.DoesNotExist:
        return ReminderPreferences(patient=patient)


def _digits(phone: str) -> int:
    return sum(ch.isdigit() for ch in phone)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_channel_and_leads(errors: dict[str, list[str]], channel: str, leads: list[int]) -> None:
    if channel not in Patient.Channel.values:
        _add(errors, "channel", _("Choose email, text message or no reminders."))
    if channel != Patient.Channel.NONE and not leads:
        _add(errors, "lead_days", _("Choose at least one time to be reminded, or choose “No reminders”."))
    if any(d not in LEAD_TIME_CHOICES for d in leads):
        _add(errors, "lead_days", _("Choose lead times among 14, 7, 2 and 1 days."))


def _check_contact(errors: dict[str, list[str]], patient: Patient, channel: str, phone: str) -> None:
    if phone and (not _PHONE.match(phone) or not 7 <= _digits(phone) <= 15):
        _add(errors, "phone", _("Enter a mobile number with its country code, for example +44 7700 900123."))
    if channel == Patient.Channel.SMS and not phone:
        _add(errors, "phone", _("To get text messages, add your mobile number, or choose email reminders."))
    if channel == Patient.Channel.EMAIL and not patient.email:
        _add(
            errors,
            "channel",
            _("We have no email address for you. Ask your care team to add it, or choose text messages."),
        )


def _check_time_zone(errors: dict[str, list[str]], time_zone: str) -> None:
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        errors.setdefault("time_zone", []).extend(exc.messages)


def _merge_model_errors(errors: dict[str, list[str]], prefs: ReminderPreferences) -> None:
    """Add the model's own validation messages, skipping those the service already gave."""
    try:
        prefs.full_clean(exclude=["patient"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                if message not in errors.get(name, []):
                    errors.setdefault(name, []).append(message)


def _save_preferences(
    *, patient: Patient, actor: User, prefs: ReminderPreferences, channel: str, time_zone: str, phone: str
) -> None:
    """Store the choice on the (locked) patient and their preferences, then re-time reminders."""
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        locked.reminder_channel = channel
        locked.time_zone = time_zone
        locked.phone = phone
        locked.save(update_fields=["reminder_channel", "time_zone", "phone", "updated_at"])
        prefs.patient = locked
        prefs.save()
        if locked.user_id and actor.pk == locked.user_id and actor.time_zone != time_zone:
            User.objects.filter(pk=actor.pk).update(time_zone=time_zone)
        reminders_sync_patient(patient_id=locked.pk)


def preferences_update(
    *, patient: Patient, actor: User, channel: str, lead_days: Iterable[int], send_hour: int,
    quiet_start: int | None, quiet_end: int | None, time_zone: str, calendar_details: bool, phone: str = "",
) -> ReminderPreferences:  # fmt: skip
    """Save how and when the patient is reminded, then re-time their pending reminders."""
    errors: dict[str, list[str]] = {}
    leads = sorted({int(d) for d in lead_days}, reverse=True)
    phone = (phone or "").strip()
    _check_channel_and_leads(errors, channel, leads)
    _check_contact(errors, patient, channel, phone)
    _check_time_zone(errors, time_zone)

    prefs = preferences_for(patient)
    if leads or channel != Patient.Channel.NONE:
        prefs.lead_days = leads
    # else: with reminders off and no lead time ticked, the earlier choice is kept for later.
    prefs.send_hour = send_hour
    prefs.quiet_start = quiet_start
    prefs.quiet_end = quiet_end
    prefs.calendar_details = bool(calendar_details)
    _merge_model_errors(errors, prefs)
    if errors:
        raise ValidationError(errors)

    _save_preferences(
        patient=patient, actor=actor, prefs=prefs, channel=channel, time_zone=time_zone, phone=phone
    )
    patient.reminder_channel, patient.time_zone, patient.phone = channel, time_zone, phone
    logger.info("reminder preferences of patient %s updated", patient.pk)
    return prefs


# --- calendar links ------------------------------------------------------------------------------


def own_feed_token(patient: Patient) -> FeedToken | None:
    return (
        FeedToken.objects.filter(patient=patient, scope=FeedToken.Scope.PATIENT, revoked_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )


def own_feed_reset(*, patient: Patient, actor: User) -> tuple[FeedToken, str]:
    """Revoke the patient's calendar link at once and make a new one (raw secret returned once)."""
    token, raw = token_rotate(patient=patient, actor=actor)
    logger.info("feed link of patient %s reset (token %s)", patient.pk, token.pk)
    return token, raw


def shares_for(patient: Patient) -> QuerySet[FeedToken]:
    return FeedToken.objects.filter(patient=patient, scope=FeedToken.Scope.SHARE).order_by(
        "revoked_at", "-created_at", "-pk"
    )


def share_for(patient: Patient, token_id: int) -> FeedToken:
    """One of the patient's own share links; 404 for any other id."""
    try:
        return FeedToken.objects.get(pk=token_id, patient=patient, scope=FeedToken.Scope.SHARE)
    except FeedToken.DoesNotExist as exc:
        raise Http404("No such shared link.") from exc


def share_create(*, patient: Patient, actor: User, label: str) -> tuple[FeedToken, str]:
    label = (label or "").strip()
    if not label:
        raise ValidationError({"label": [_("Give the link a name, for example “Sam (my son)”.")]})
    if len(label) > 100:
        raise ValidationError({"label": [_("Keep the name under 100 characters.")]})
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).exists()
        active = FeedToken.objects.filter(
            patient=patient, scope=FeedToken.Scope.SHARE, revoked_at__isnull=True
        ).count()
        if active >= MAX_ACTIVE_SHARES:
            raise ValidationError(
                {"label": [_("You already have %(n)d shared links. Stop sharing one first.") % {"n": active}]}
            )
        token, raw = token_issue(scope=FeedToken.Scope.SHARE, patient=patient, label=label, actor=actor)
    logger.info("share link %s created for patient %s", token.pk, patient.pk)
    return token, raw


def share_revoke(*, token: FeedToken, actor: User) -> None:
    token_revoke(token=token)
    logger.info("share link %s revoked by user %s", token.pk, actor.pk)
