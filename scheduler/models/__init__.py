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
from .feeds import FeedRequestCount, FeedState, FeedToken
from .interop import ApiAccessLog, ApiClient, ImportJob
from .invitations import Invitation
from .preferences import ReminderPreferences
from .reminders import NurseDigest, Reminder
from .results import AnalyteResult
from .undo import SurveillanceChange

__all__ = [
    "AnalyteResult",
    "ApiAccessLog",
    "ApiClient",
    "CarePlan",
    "CarePlanLink",
    "CarePlanVersion",
    "CustomItem",
    "FeedRequestCount",
    "FeedState",
    "FeedToken",
    "ImportJob",
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
    "SurveillanceChange",
    "TreatmentContact",
    "TreatmentSummary",
]
