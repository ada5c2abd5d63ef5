/**
 * Renders a ticket as a one-page A5 PDF: event, start time, venue and
 * attendee on top, and the QR code of the signed token below a tear line.
 *
 * Pure apart from reading the font files once per thread, so it can run in a
 * worker. Throws UnrenderableTextError when a character has no glyph in any
 * embedded font, and InvalidTicketContentError for a bad time or time zone.
 */

import { PDFDocument, PageSizes, rgb, type PDFPage } from "pdf-lib";
import { cachingFontkit, startDocument } from "./fonts.ts";
import { formatStart, shortTicketId } from "./format.ts";
import { PdfTextWriter, type LineStyle } from "./pdf-text.ts";
import { drawQrCode } from "./qr.ts";
import { prepareText, type PreparedText } from "./text.ts";
import { fitText } from "./wrap.ts";

export { InvalidTicketContentError, UnrenderableTextError } from "./errors.ts";
export { fontPaths } from "./fonts.ts";

export interface TicketContent {
  ticketId: string;
  eventTitle: string;
  /** ISO 8601, UTC. */
  startsAt: string;
  /** IANA zone name, such as Europe/Vienna. */
  timeZone: string;
  venue: string;
  attendeeName: string;
  /** Signed ticket token, encoded in the QR code. */
  token: string;
}

const [PAGE_WIDTH, PAGE_HEIGHT] = PageSizes.A5;
const MARGIN = 32;
const CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN;
const COLUMN_GAP = 24;
const COLUMN_WIDTH = (CONTENT_WIDTH - COLUMN_GAP) / 2;
const LINE_SPACING = 1.25;

/** Outer side of the QR square in points, quiet zone included: 190 pt is 67 mm. */
const QR_SIZE = 190;
const QR_BOTTOM = 76;
const TEAR_LINE_Y = QR_BOTTOM + QR_SIZE + 14;

const NAVY = rgb(0.106, 0.176, 0.306);
const HEADER_LABEL = rgb(0.706, 0.769, 0.859);
const WHITE = rgb(1, 1, 1);
const INK = rgb(0.1, 0.11, 0.13);
const MUTED = rgb(0.42, 0.45, 0.5);
const RULE = rgb(0.78, 0.8, 0.84);

/** Renders the ticket and returns the PDF file's bytes. */
export async function renderTicketPdf(content: TicketContent): Promise<Uint8Array> {
  startDocument();
  const start = formatStart(content.startsAt, content.timeZone);

  // Prepare all text first, so an unrenderable character fails before any drawing.
  const text = {
    title: prepareText(content.eventTitle, "bold", "eventTitle"),
    venue: prepareText(content.venue, "regular", "venue"),
    attendee: prepareText(content.attendeeName, "bold", "attendeeName"),
    date: prepareText(start.date, "regular", "startsAt"),
    time: prepareText(`${start.time} (${start.timeZone})`, "regular", "timeZone"),
    shortId: prepareText(`Ticket ${shortTicketId(content.ticketId)}`, "bold", "ticketId"),
    ticketId: prepareText(content.ticketId, "regular", "ticketId"),
  };

  // Without updateMetadata pdf-lib adds no creation time, so equal content gives equal bytes.
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.registerFontkit(cachingFontkit);
  doc.setTitle(content.eventTitle);
  doc.setSubject("Admission ticket");
  doc.setCreator("admit");
  doc.setProducer("admit");

  const page = doc.addPage([PAGE_WIDTH, PAGE_HEIGHT]);
  const writer = new PdfTextWriter(doc);

  const headerBottom = await drawHeader(page, writer, text.title);
  await drawDetails(page, writer, headerBottom - 30, text);
  await drawStub(page, writer, content.token, text);

  return doc.save();
}

async function drawLines(
  page: PDFPage,
  writer: PdfTextWriter,
  lines: readonly PreparedText[],
  x: number,
  firstBaseline: number,
  style: LineStyle,
): Promise<void> {
  for (const [index, line] of lines.entries()) {
    const baseline = firstBaseline - index * style.size * LINE_SPACING;
    await writer.drawLine(page, line, x, baseline, style);
  }
}

async function drawLabel(
  page: PDFPage,
  writer: PdfTextWriter,
  label: string,
  x: number,
  y: number,
): Promise<void> {
  const line = prepareText(label, "bold", "label");
  await writer.drawLine(page, line, x, y, { size: 7.5, color: MUTED });
}

/** Draws the dark header band with the event title and returns its lower edge. */
async function drawHeader(
  page: PDFPage,
  writer: PdfTextWriter,
  title: PreparedText,
): Promise<number> {
  const fitted = fitText(title, [24, 20, 17, 15], CONTENT_WIDTH, 3);
  const labelBaseline = PAGE_HEIGHT - 34;
  const firstTitleBaseline = labelBaseline - 14 - fitted.size;
  const lastTitleBaseline =
    firstTitleBaseline - (fitted.lines.length - 1) * fitted.size * LINE_SPACING;
  const bottom = lastTitleBaseline - 22;

  page.drawRectangle({
    x: 0,
    y: bottom,
    width: PAGE_WIDTH,
    height: PAGE_HEIGHT - bottom,
    color: NAVY,
  });

  const label = prepareText("ADMISSION TICKET", "bold", "label");
  await writer.drawLine(page, label, MARGIN, labelBaseline, { size: 8, color: HEADER_LABEL });
  await drawLines(page, writer, fitted.lines, MARGIN, firstTitleBaseline, {
    size: fitted.size,
    color: WHITE,
  });
  return bottom;
}

async function drawDetails(
  page: PDFPage,
  writer: PdfTextWriter,
  top: number,
  text: Record<"date" | "time" | "venue" | "attendee", PreparedText>,
): Promise<void> {
  const rightColumn = MARGIN + COLUMN_WIDTH + COLUMN_GAP;

  await drawLabel(page, writer, "DATE AND TIME", MARGIN, top);
  await writer.drawLine(page, text.date, MARGIN, top - 18, { size: 12, color: INK });
  await writer.drawLine(page, text.time, MARGIN, top - 34, { size: 10, color: INK });

  await drawLabel(page, writer, "VENUE", rightColumn, top);
  const venue = fitText(text.venue, [12, 10.5], COLUMN_WIDTH, 2);
  await drawLines(page, writer, venue.lines, rightColumn, top - 18, {
    size: venue.size,
    color: INK,
  });

  const attendeeTop = top - 60;
  await drawLabel(page, writer, "ATTENDEE", MARGIN, attendeeTop);
  const attendee = fitText(text.attendee, [18, 15, 13], CONTENT_WIDTH, 2);
  await drawLines(page, writer, attendee.lines, MARGIN, attendeeTop - 22, {
    size: attendee.size,
    color: INK,
  });
}

/** Draws the tear line, the QR code and the ticket id under it. */
async function drawStub(
  page: PDFPage,
  writer: PdfTextWriter,
  token: string,
  text: Record<"shortId" | "ticketId", PreparedText>,
): Promise<void> {
  page.drawLine({
    start: { x: MARGIN, y: TEAR_LINE_Y },
    end: { x: PAGE_WIDTH - MARGIN, y: TEAR_LINE_Y },
    thickness: 0.75,
    color: RULE,
    dashArray: [4, 3],
  });

  drawQrCode(page, token, (PAGE_WIDTH - QR_SIZE) / 2, QR_BOTTOM, QR_SIZE);

  const center = PAGE_WIDTH / 2;
  await writer.drawLine(page, text.shortId, center, 62, {
    size: 12,
    color: INK,
    align: "center",
  });
  await writer.drawLine(page, text.ticketId, center, 48, {
    size: 7,
    color: MUTED,
    align: "center",
  });

  const footer = prepareText("Show this code at the entrance.", "regular", "label");
  await writer.drawLine(page, footer, center, 28, { size: 8, color: MUTED, align: "center" });
}
