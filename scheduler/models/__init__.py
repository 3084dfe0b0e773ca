"""Models of the follow-up schedule, one module per concern."""

from .careplan import (
    CarePlan,
    CarePlanLink,
    CarePlanVersion,
    ResponsibilityOverride,
    TreatmentContact,
    TreatmentSummary,
)
from .events import CustomItem, ItemOverride, Kind, PatientAccessLog, Recurrence, ScheduledEvent
from .extension import PlanExtensionChunk, PlanExtensionRun
from .feeds import FeedState, FeedToken
from .invitations import Invitation
from .preferences import ReminderPreferences
from .reminders import NurseDigest, Reminder
from .results import AnalyteResult
from .submissions import Submission

__all__ = [
    "AnalyteResult",
    "CarePlan",
    "CarePlanLink",
    "CarePlanVersion",
    "CustomItem",
    "FeedState",
    "FeedToken",
    "Invitation",
    "ItemOverride",
    "Kind",
    "NurseDigest",
    "PatientAccessLog",
    "PlanExtensionChunk",
    "PlanExtensionRun",
    "Recurrence",
    "Reminder",
    "ReminderPreferences",
    "ResponsibilityOverride",
    "ScheduledEvent",
    "Submission",
    "TreatmentContact",
    "TreatmentSummary",
]
