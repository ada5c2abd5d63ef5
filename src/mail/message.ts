/** The ticket email: subject, plain-text and HTML bodies, and the PDF attachment. */

import type { SendMailOptions } from "nodemailer";

export interface TicketMail {
  /** Message-ID in "<uuid@admit>" form, fixed when the delivery is created. */
  messageId: string;
  /** Sender, as an RFC 5322 address such as "admit <tickets@localhost>". */
  from: string;
  to: { name: string; address: string };
  eventTitle: string;
  /** Event start as an ISO 8601 timestamp. */
  startsAt: string;
  /** IANA time zone that the start time is shown in, such as "Europe/Berlin". */
  timeZone: string;
  venue: string;
  attendeeName: string;
  ticketId: string;
  pdf: Uint8Array;
}

const SHORT_ID_LENGTH = 8;

/**
 * Builds the nodemailer message for a ticket. The Message-ID is set explicitly, so
 * every attempt sends the same one and receivers can recognize duplicates.
 */
export function buildMailOptions(mail: TicketMail): SendMailOptions {
  const when = formatStart(mail.startsAt, mail.timeZone);

  const text = [
    `Hello ${mail.attendeeName},`,
    "",
    `your ticket for ${mail.eventTitle} is attached as a PDF.`,
    "",
    `When: ${when}`,
    `Where: ${mail.venue}`,
    `Ticket: ${mail.ticketId}`,
    "",
    "Show the QR code on the ticket at the entrance, printed or on your phone.",
    "",
  ].join("\n");

  const html = [
    "<!doctype html>",
    '<html><body style="font-family: sans-serif">',
    `<p>Hello ${escapeHtml(mail.attendeeName)},</p>`,
    `<p>your ticket for <strong>${escapeHtml(mail.eventTitle)}</strong> is attached as a PDF.</p>`,
    "<table>",
    `<tr><th align="left">When</th><td>${escapeHtml(when)}</td></tr>`,
    `<tr><th align="left">Where</th><td>${escapeHtml(mail.venue)}</td></tr>`,
    `<tr><th align="left">Ticket</th><td>${escapeHtml(mail.ticketId)}</td></tr>`,
    "</table>",
    "<p>Show the QR code on the ticket at the entrance, printed or on your phone.</p>",
    "</body></html>",
    "",
  ].join("\n");

  return {
    messageId: mail.messageId,
    from: mail.from,
    // An address object lets nodemailer encode the name, so no value can add a header.
    to: { name: mail.to.name, address: mail.to.address },
    subject: `Your ticket: ${mail.eventTitle}`,
    text,
    html,
    attachments: [
      {
        filename: attachmentName(mail.ticketId),
        contentType: "application/pdf",
        content: Buffer.from(mail.pdf.buffer, mail.pdf.byteOffset, mail.pdf.byteLength),
      },
    ],
  };
}

/** Returns "ticket-<first 8 letters or digits of the id>.pdf". */
export function attachmentName(ticketId: string): string {
  const shortId = ticketId.replace(/[^A-Za-z0-9]/g, "").slice(0, SHORT_ID_LENGTH);
  return shortId === "" ? "ticket.pdf" : `ticket-${shortId}.pdf`;
}

/**
 * Formats the start time in the event's time zone, for example
 * "Friday, 4 December 2026 at 18:00 (Europe/Berlin)". Falls back to the raw value
 * when the timestamp or the zone is invalid, because a ticket must still go out.
 */
export function formatStart(startsAt: string, timeZone: string): string {
  const date = new Date(startsAt);
  if (Number.isNaN(date.getTime())) return startsAt;
  try {
    const formatted = new Intl.DateTimeFormat("en-GB", {
      dateStyle: "full",
      timeStyle: "short",
      timeZone,
    }).format(date);
    return `${formatted} (${timeZone})`;
  } catch (error) {
    if (error instanceof RangeError) return startsAt;
    throw error;
  }
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}
