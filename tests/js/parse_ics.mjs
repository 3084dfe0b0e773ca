// Parse an iCalendar file with Mozilla's ical.js (the parser Thunderbird uses) and print
// what a client would see, as JSON: the calendar name and, per event, its UID, start
// and end as local wall-clock time with their zone, the same instants in UTC, status,
// sequence and summary. Usage: node tests/js/parse_ics.mjs FILE (or "-" for stdin).
// Exits 1 with a message on a parse error.
import fs from "node:fs";
import ICAL from "ical.js";

const path = process.argv[2] || "-";
const text = fs.readFileSync(path === "-" ? 0 : path, "utf8");

function time(value) {
  if (!value) return null;
  const zone = value.isDate ? null : value.zone ? value.zone.tzid : null;
  return {
    local: value.toString(),
    is_date: value.isDate,
    zone: zone,
    utc: value.isDate ? null : value.toJSDate().toISOString(),
  };
}

try {
  const root = new ICAL.Component(ICAL.parse(text));
  const zones = [];
  for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
    const zone = new ICAL.Timezone(vtimezone);
    ICAL.TimezoneService.register(zone, zone.tzid);
    zones.push(zone.tzid);
  }
  const events = root.getAllSubcomponents("vevent").map((component) => {
    const event = new ICAL.Event(component);
    const dtstart = component.getFirstProperty("dtstart");
    return {
      uid: event.uid,
      summary: event.summary,
      description: event.description,
      location: event.location,
      status: component.getFirstPropertyValue("status"),
      sequence: event.sequence,
      tzid: dtstart ? dtstart.getParameter("tzid") || null : null,
      dtstart: time(event.startDate),
      dtend: time(event.endDate),
      alarms: component.getAllSubcomponents("valarm").map((a) => String(a.getFirstPropertyValue("trigger"))),
    };
  });
  const out = {
    name: root.getFirstPropertyValue("name"),
    x_wr_calname: root.getFirstPropertyValue("x-wr-calname"),
    method: root.getFirstPropertyValue("method"),
    timezones: zones,
    events: events,
  };
  process.stdout.write(JSON.stringify(out));
} catch (error) {
  process.stderr.write(`ical.js could not parse the calendar: ${error}\n`);
  process.exit(1);
}
