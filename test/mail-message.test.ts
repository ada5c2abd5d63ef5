import { describe, expect, test } from "bun:test";
import { simpleParser } from "mailparser";
import nodemailer from "nodemailer";
import {
  attachmentName,
  buildMailOptions,
  escapeHtml,
  formatStart,
  type TicketMail,
} from "../src/mail/message.ts";

const PDF = new TextEncoder().encode("%PDF-1.7\n% test ticket\n%%EOF\n");

function ticketMail(overrides: Partial<TicketMail> = {}): TicketMail {
  return {
    messageId: "<0b6d7c1e-8f1a-4f6e-9d7e-3c2a1b0f9e8d@admit>",
    from: "admit <tickets@localhost>",
    to: { name: "Ada Lovelace", address: "ada@example.test" },
    eventTitle: "Intro to Compilers",
    startsAt: "2026-12-04T17:00:00Z",
    timeZone: "Europe/Berlin",
    venue: "Hall A",
    attendeeName: "Ada Lovelace",
    ticketId: "7f3e2d1c-aaaa-bbbb-cccc-0123456789ab",
    pdf: PDF,
    ...overrides,
  };
}

/** Renders the options to a raw message with nodemailer and parses it back. */
async function renderAndParse(mail: TicketMail) {
  const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true });
  const info = await transporter.sendMail(buildMailOptions(mail));
  if (!Buffer.isBuffer(info.message)) throw new Error("expected a buffered message");
  return { raw: info.message.toString("utf8"), parsed: await simpleParser(info.message) };
}

describe("buildMailOptions", () => {
  test("sets Message-ID, subject and recipient", async () => {
    const mail = ticketMail();
    const options = buildMailOptions(mail);
    expect(options.messageId).toBe(mail.messageId);
    expect(options.subject).toBe("Your ticket: Intro to Compilers");

    const { parsed } = await renderAndParse(mail);
    expect(parsed.messageId).toBe(mail.messageId);
    expect(parsed.subject).toBe("Your ticket: Intro to Compilers");
    const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
    expect(to?.value[0]?.address).toBe("ada@example.test");
    expect(to?.value[0]?.name).toBe("Ada Lovelace");
  });

  test("attaches the PDF", async () => {
    const { parsed } = await renderAndParse(ticketMail());
    expect(parsed.attachments).toHaveLength(1);
    const attachment = parsed.attachments[0];
    expect(attachment?.filename).toBe("ticket-7f3e2d1c.pdf");
    expect(attachment?.contentType).toBe("application/pdf");
    expect(attachment?.content.equals(Buffer.from(PDF))).toBe(true);
  });

  test("text body names event, time and venue", async () => {
    const { parsed } = await renderAndParse(ticketMail());
    expect(parsed.text).toContain("Hello Ada Lovelace,");
    expect(parsed.text).toContain("Intro to Compilers");
    expect(parsed.text).toContain("18:00 (Europe/Berlin)");
    expect(parsed.text).toContain("Hall A");
  });

  test("HTML escapes every value", async () => {
    const hostile = '<script>alert("x")</script> & \'quotes\'';
    const mail = ticketMail({
      attendeeName: hostile,
      eventTitle: hostile,
      venue: hostile,
      ticketId: hostile,
      timeZone: hostile,
      startsAt: hostile,
    });
    const html = String(buildMailOptions(mail).html);
    expect(html).not.toContain("<script>");
    expect(html).not.toContain('"x"');
    expect(html).toContain(
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;",
    );

    const { parsed } = await renderAndParse(mail);
    expect(parsed.html === false ? "" : parsed.html).not.toContain("<script>");
  });

  test("line breaks in names add no header", async () => {
    const mail = ticketMail({
      to: { name: "Eve\r\nBcc: victim@example.test", address: "eve@example.test" },
      eventTitle: "Party\r\nX-Injected: yes",
    });
    const { raw, parsed } = await renderAndParse(mail);
    const headerBlock = raw.slice(0, raw.indexOf("\r\n\r\n"));
    expect(headerBlock).not.toMatch(/^Bcc:/im);
    expect(headerBlock).not.toMatch(/^X-Injected:/im);
    expect(parsed.bcc).toBeUndefined();
    expect(parsed.headers.has("x-injected")).toBe(false);
  });

  test("non-ASCII names survive encoding", async () => {
    const mail = ticketMail({
      to: { name: "Zoë 王芳", address: "zoe@example.test" },
      attendeeName: "Zoë 王芳",
      eventTitle: "Café ☕",
    });
    const { parsed } = await renderAndParse(mail);
    const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
    expect(to?.value[0]?.name).toBe("Zoë 王芳");
    expect(parsed.subject).toBe("Your ticket: Café ☕");
    expect(parsed.text).toContain("Hello Zoë 王芳,");
  });
});

describe("attachmentName", () => {
  test("keeps the first eight letters or digits", () => {
    expect(attachmentName("7f3e2d1c-aaaa")).toBe("ticket-7f3e2d1c.pdf");
    expect(attachmentName("../../etc/passwd")).toBe("ticket-etcpassw.pdf");
    expect(attachmentName("---")).toBe("ticket.pdf");
  });
});

describe("formatStart", () => {
  test("shows the event's time zone", () => {
    expect(formatStart("2026-12-04T17:00:00Z", "Europe/Berlin")).toContain("18:00");
    expect(formatStart("2026-12-04T17:00:00Z", "America/New_York")).toContain("12:00");
  });

  test("falls back to the raw value", () => {
    expect(formatStart("not a date", "Europe/Berlin")).toBe("not a date");
    expect(formatStart("2026-12-04T17:00:00Z", "Mars/Olympus")).toBe("2026-12-04T17:00:00Z");
  });
});

describe("escapeHtml", () => {
  test("escapes the five special characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
    );
  });
});
