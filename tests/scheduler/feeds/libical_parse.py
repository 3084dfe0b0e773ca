"""Parse an iCalendar file with libical (Evolution's library, the strictest of the three
parsers the feed tests use) and print what it sees as JSON.

Run with the SYSTEM Python, which has Debian's python3-gi and gir1.2-ical-3.0 (the
project's virtualenv does not): ``/usr/bin/python3 tests/scheduler/feeds/libical_parse.py FILE``
(or ``-`` for stdin). Every X-LIC-ERROR property libical adds while parsing (its way of
reporting a malformed line) is listed under "errors".
"""

import json
import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402

Kind = ICalGLib.ComponentKind
Prop = ICalGLib.PropertyKind


def _errors(component):
    found = []
    prop = component.get_first_property(Prop.XLICERROR_PROPERTY)
    while prop is not None:
        found.append(prop.as_ical_string().strip())
        prop = component.get_next_property(Prop.XLICERROR_PROPERTY)
    child = component.get_first_component(Kind.ANY_COMPONENT)
    while child is not None:
        found.extend(_errors(child))
        child = component.get_next_component(Kind.ANY_COMPONENT)
    return found


def _time(value, tzid):
    if value is None or value.is_null_time():
        return None
    return {
        "local": value.as_ical_string(),
        "is_date": bool(value.is_date()),
        "zone": tzid,
        "utc": bool(value.is_utc()),
    }


def _tzid(prop):
    if prop is None:
        return None
    param = prop.get_first_parameter(ICalGLib.ParameterKind.TZID_PARAMETER)
    return param.get_tzid() if param is not None else None


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "-"
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    root = ICalGLib.Component.new_from_string(text)
    if root is None:
        print(json.dumps({"errors": ["libical could not parse the calendar"], "events": []}))
        return
    timezones = []
    tz = root.get_first_component(Kind.VTIMEZONE_COMPONENT)
    while tz is not None:
        timezones.append(tz.get_first_property(Prop.TZID_PROPERTY).get_tzid())
        tz = root.get_next_component(Kind.VTIMEZONE_COMPONENT)
    events = []
    event = root.get_first_component(Kind.VEVENT_COMPONENT)
    while event is not None:
        status = event.get_status()
        events.append(
            {
                "uid": event.get_uid(),
                "summary": event.get_summary(),
                "description": event.get_description(),
                "location": event.get_location(),
                "status": ICalGLib.Property.status_to_string(status) if status else None,
                "sequence": event.get_sequence(),
                "dtstart": _time(event.get_dtstart(), _tzid(event.get_first_property(Prop.DTSTART_PROPERTY))),
                "dtend": _time(event.get_dtend(), _tzid(event.get_first_property(Prop.DTEND_PROPERTY))),
            }
        )
        event = root.get_next_component(Kind.VEVENT_COMPONENT)
    print(json.dumps({"errors": _errors(root), "timezones": timezones, "events": events}))


if __name__ == "__main__":
    main()
