"""Scheduled events, overrides, reminders and feed tokens."""
