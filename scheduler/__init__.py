"""The follow-up schedule: protocols and rules, generated events, reminders, feeds."""
