import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  InvalidTicketContentError,
  renderTicketPdf,
  UnrenderableTextError,
  type TicketContent,
} from "../src/ticket/render.ts";
import { loadOrCreateTicketKeys, signTicketToken } from "../src/ticket/token.ts";
import { decodeQrCodes, pdfText } from "./support/pdf.ts";

const TICKET_ID = "3f2a9c1e-7b40-4d2e-9a61-0c5b8e7d1f23";
const EVENT_ID = "9b1c2d3e-4f50-4a6b-8c7d-e8f9a0b1c2d3";

let base: TicketContent;

beforeAll(() => {
  const dataDir = mkdtempSync(join(tmpdir(), "admit-render-"));
  try {
    const keys = loadOrCreateTicketKeys(dataDir);
    base = {
      ticketId: TICKET_ID,
      eventTitle: "Spring Lecture: Quantum Computing",
      startsAt: "2025-03-14T18:00:00Z",
      timeZone: "Europe/Vienna",
      venue: "Audimax, Getreidemarkt 9, 1060 Wien",
      attendeeName: "Anna Berger",
      token: signTicketToken(keys, TICKET_ID, EVENT_ID),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** Removes the bidi controls that pdftotext puts around right-to-left text. */
function withoutBidiControls(text: string): string {
  return text.replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "");
}

/** Joins wrapped lines, so a text can be found wherever the renderer broke it. */
function joinedText(pdf: Uint8Array): string {
  return pdfText(pdf).replace(/\s+/g, " ");
}

function reversed(text: string): string {
  return [...text].reverse().join("");
}

function expectArabicWord(text: string, word: string): void {
  const plain = withoutBidiControls(text);
  const found = plain.includes(word) || plain.includes(reversed(word));
  expect(found, `expected ${word} in either order in ${JSON.stringify(plain)}`).toBe(true);
}

describe("renderTicketPdf", () => {
  const names = [
    "Zoë Łukasiewicz-Ñúñez",
    "Αλέξανδρος",
    "Дмитрий",
    "王小明",
    "김민준",
    "Ōtsuka Chōji",
    "François d'Été",
  ];

  for (const name of names) {
    test(`renders name ${name}`, async () => {
      const pdf = await renderTicketPdf({ ...base, attendeeName: name });

      expect(pdfText(pdf)).toContain(name);
      expect(decodeQrCodes(pdf)).toEqual([base.token]);
    });
  }

  test("renders Arabic name", async () => {
    const pdf = await renderTicketPdf({ ...base, attendeeName: "محمد" });

    expectArabicWord(pdfText(pdf), "محمد");
    expect(decodeQrCodes(pdf)).toEqual([base.token]);
  });

  test("renders Devanagari name", async () => {
    const pdf = await renderTicketPdf({ ...base, attendeeName: "राहुल प्रिया" });

    // Extraction follows glyph order, so only a word without reordered vowel signs matches.
    expect(pdfText(pdf)).toContain("राहुल");
    expect(decodeQrCodes(pdf)).toEqual([base.token]);
  });

  test("renders mixed-script name", async () => {
    const pdf = await renderTicketPdf({ ...base, attendeeName: "Anna محمد 王小明 Дмитрий" });
    const text = pdfText(pdf);

    expect(text).toContain("Anna");
    expect(text).toContain("王小明");
    expect(text).toContain("Дмитрий");
    expectArabicWord(text, "محمد");
    expect(decodeQrCodes(pdf)).toEqual([base.token]);
  });

  test("renders any script in title and venue", async () => {
    const pdf = await renderTicketPdf({
      ...base,
      eventTitle: "北京大学 Σεμινάριο",
      venue: "Аудитория 5",
    });
    const text = pdfText(pdf);

    expect(text).toContain("北京大学");
    expect(text).toContain("Σεμινάριο");
    expect(text).toContain("Аудитория 5");
  });

  test("shows details and ticket id", async () => {
    const text = joinedText(await renderTicketPdf(base));

    expect(text).toContain("Spring Lecture: Quantum Computing");
    expect(text).toContain("Audimax, Getreidemarkt 9, 1060 Wien");
    expect(text).toContain("Ticket 3F2A-9C1E-7B40");
    expect(text).toContain(TICKET_ID);
  });

  test("formats time in the event zone", async () => {
    const winter = pdfText(await renderTicketPdf(base));
    const summer = pdfText(await renderTicketPdf({ ...base, startsAt: "2025-07-01T16:30:00Z" }));
    const newYork = pdfText(
      await renderTicketPdf({ ...base, timeZone: "America/New_York" }),
    );

    expect(winter).toContain("Friday, 14 March 2025");
    expect(winter).toContain("19:00 CET (Europe/Vienna)");
    expect(summer).toContain("Tuesday, 1 July 2025");
    expect(summer).toContain("18:30 CEST (Europe/Vienna)");
    expect(newYork).toContain("14:00");
    expect(newYork).toContain("(America/New_York)");
  });

  test("decomposed accents render composed", async () => {
    const pdf = await renderTicketPdf({ ...base, attendeeName: "Zoe\u0308" });

    expect(pdfText(pdf)).toContain("Zoë");
  });

  test("long texts still leave a readable QR", async () => {
    const pdf = await renderTicketPdf({
      ...base,
      eventTitle: "Symposium ".repeat(40),
      venue: "Building ".repeat(30),
      attendeeName: "Maximiliane-Wilhelmine ".repeat(8),
    });

    expect(pdfText(pdf)).toContain("\u2026");
    expect(decodeQrCodes(pdf)).toEqual([base.token]);
  });

  test("same content gives same bytes", async () => {
    const first = await renderTicketPdf(base);
    const second = await renderTicketPdf(base);

    expect(Buffer.compare(Buffer.from(first), Buffer.from(second))).toBe(0);
  });

  test("emoji throws UnrenderableTextError", async () => {
    const error = await renderTicketPdf({ ...base, attendeeName: "Anna \u{1F600}" }).catch(
      (err: unknown) => err,
    );

    expect(error).toBeInstanceOf(UnrenderableTextError);
    expect((error as UnrenderableTextError).code).toBe("UNRENDERABLE_TEXT");
    expect((error as Error).message).toContain("U+1F600");
    expect((error as Error).message).toContain("attendeeName");
    expect((error as Error).message).not.toContain("Anna");
  });

  test("private-use character throws UnrenderableTextError", async () => {
    const render = renderTicketPdf({ ...base, eventTitle: "Talk \uE000" });

    await expect(render).rejects.toBeInstanceOf(UnrenderableTextError);
  });

  test("lone surrogate throws UnrenderableTextError", async () => {
    const render = renderTicketPdf({ ...base, venue: "Hall \ud800" });

    await expect(render).rejects.toBeInstanceOf(UnrenderableTextError);
  });

  test("uncovered invisible characters are dropped", async () => {
    const pdf = await renderTicketPdf({ ...base, attendeeName: "Anna\uFE0F Berger" });

    expect(pdfText(pdf)).toContain("Anna Berger");
  });

  test("unknown time zone throws InvalidTicketContentError", async () => {
    const render = renderTicketPdf({ ...base, timeZone: "Mars/Olympus_Mons" });

    await expect(render).rejects.toBeInstanceOf(InvalidTicketContentError);
  });

  test("invalid start time throws InvalidTicketContentError", async () => {
    const render = renderTicketPdf({ ...base, startsAt: "next friday" });

    await expect(render).rejects.toBeInstanceOf(InvalidTicketContentError);
  });
});

describe("renderTicketPdf right to left", () => {
  test("renders Hebrew name", async () => {
    const pdf = await renderTicketPdf({ ...base, attendeeName: "דוד כהן" });
    const text = pdfText(pdf);

    for (const letter of "דודכהן") expect(text).toContain(letter);
    expect(decodeQrCodes(pdf)).toEqual([base.token]);
  });
});
