"""Models of the follow-up schedule, one module per concern."""

from .events import CustomItem, ItemOverride, Kind, PatientAccessLog, Recurrence, ScheduledEvent
from .feeds import FeedToken
from .invitations import Invitation
from .preferences import ReminderPreferences
from .reminders import Reminder

__all__ = [
    "CustomItem",
    "FeedToken",
    "Invitation",
    "ItemOverride",
    "Kind",
    "PatientAccessLog",
    "Recurrence",
    "Reminder",
    "ReminderPreferences",
    "ScheduledEvent",
]
