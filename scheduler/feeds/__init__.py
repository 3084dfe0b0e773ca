"""iCalendar feeds: secret tokens, rendering, HTTP caching."""
