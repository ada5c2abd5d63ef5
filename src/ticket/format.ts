/** Human-readable forms of a ticket's start time and id. */

import { InvalidTicketContentError } from "./errors.ts";

/** Tickets use one fixed locale so that every ticket reads the same way. */
const LOCALE = "en-GB";

export interface FormattedStart {
  /** For example "Friday, 14 March 2025". */
  date: string;
  /** For example "19:00 CET". */
  time: string;
  /** The IANA zone name, for example "Europe/Vienna". */
  timeZone: string;
}

/**
 * Formats `startsAt` (ISO 8601) in the event's IANA time zone.
 * Throws InvalidTicketContentError for an unparsable time or unknown zone.
 */
export function formatStart(startsAt: string, timeZone: string): FormattedStart {
  const instant = new Date(startsAt);
  if (Number.isNaN(instant.getTime())) {
    throw new InvalidTicketContentError("Invalid startsAt: expected an ISO 8601 time");
  }

  let dateFormat: Intl.DateTimeFormat;
  let timeFormat: Intl.DateTimeFormat;
  try {
    dateFormat = new Intl.DateTimeFormat(LOCALE, {
      timeZone,
      weekday: "long",
      day: "numeric",
      month: "long",
      year: "numeric",
    });
    timeFormat = new Intl.DateTimeFormat(LOCALE, {
      timeZone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
  } catch (err) {
    throw new InvalidTicketContentError(
      `Invalid timeZone ${JSON.stringify(timeZone)}: expected an IANA zone such as Europe/Vienna`,
      { cause: err },
    );
  }

  return {
    date: dateFormat.format(instant),
    time: timeFormat.format(instant),
    timeZone: dateFormat.resolvedOptions().timeZone,
  };
}

/**
 * Returns the first 12 letters and digits of a ticket id in upper case,
 * grouped by four ("3F2A-9C1E-7B40"), for reading out at the door.
 */
export function shortTicketId(ticketId: string): string {
  const compact = ticketId.replace(/[^A-Za-z0-9]/g, "").slice(0, 12).toUpperCase();
  return compact.match(/.{1,4}/g)?.join("-") ?? "";
}
