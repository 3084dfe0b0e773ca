"""Models of the follow-up schedule, one module per concern."""

from .events import CustomItem, ItemOverride, Kind, PatientAccessLog, Recurrence, ScheduledEvent
from .extension import PlanExtensionChunk, PlanExtensionRun
from .feeds import FeedState, FeedToken
from .invitations import Invitation
from .preferences import ReminderPreferences
from .reminders import NurseDigest, Reminder
from .results import AnalyteResult

__all__ = [
    "AnalyteResult",
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
    "ScheduledEvent",
]
