"""The patient side: calendar, agenda, progress, reminder preferences, calendar links."""
