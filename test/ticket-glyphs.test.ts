import { describe, expect, test } from "bun:test";
import fontkit, { type Path } from "@pdf-lib/fontkit";
import { readFileSync } from "node:fs";
import { PDFDocument, PageSizes, rgb } from "pdf-lib";
import { fallbackChain, fontPaths, type FontWeight } from "../src/ticket/fonts.ts";
import { PdfTextWriter } from "../src/ticket/pdf-text.ts";
import { fallbackChain as chainFor } from "../src/ticket/fonts.ts";
import { loadFont } from "../src/ticket/fonts.ts";
import { prepareText, visualRuns } from "../src/ticket/text.ts";
import { padGlyphRecords } from "../src/ticket/ttf.ts";
import { countDarkPixels, rasterizeGray, type GrayImage } from "./support/pdf.ts";

/** Letters from every script the fallback chain promises, drawn one per cell. */
const SAMPLE_CHARACTERS = [
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  ..."ÄÖÜäöüßéèêçñøåŁłŃńŚśŹźŻżŐőŰűČčŠšŽžĞğİıŞşȘșȚțĀāŌōŪū",
  ..."ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώ",
  ..."АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюяЇїЄєІіЎў",
  ..."王小明北京大学東京李陈張あいうえおアイウエオ",
  ..."ابتثجحخدذرزسشصضطظعغفقكلمنهويپچژگ",
  ..."अआइईउएओकखगचजटडतदनपबमयरलवशसह",
];

const CELL = 20;
const DPI = 100;

async function renderGrid(weight: FontWeight): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const page = doc.addPage(PageSizes.A4);
  const writer = new PdfTextWriter(doc);
  const columns = Math.floor(page.getWidth() / CELL);

  for (const [index, char] of SAMPLE_CHARACTERS.entries()) {
    const x = (index % columns) * CELL + 4;
    const y = page.getHeight() - (Math.floor(index / columns) + 1) * CELL + 5;
    await writer.drawLine(page, prepareText(char, weight, "sample"), x, y, {
      size: 13,
      color: rgb(0, 0, 0),
    });
  }
  return doc.save();
}

describe("embedded glyphs", () => {
  for (const weight of ["regular", "bold"] as const) {
    test(`every ${weight} sample glyph leaves ink`, async () => {
      const image = rasterizeGray(await renderGrid(weight), DPI);
      const scale = DPI / 72;
      const columns = Math.floor(PageSizes.A4[0] / CELL);

      const blank = SAMPLE_CHARACTERS.filter((_char, index) => {
        const left = Math.round((index % columns) * CELL * scale);
        const top = Math.round(Math.floor(index / columns) * CELL * scale);
        const size = Math.round(CELL * scale);
        return countDarkPixels(image, left, top, size, size) < 4;
      });

      expect(blank).toEqual([]);
    });
  }
});

/** fontkit's Path has scale() at runtime, but @pdf-lib/fontkit's types omit it. */
type ScalablePath = Path & { scale(x: number, y: number): Path };

const SIZE = 60;
const ORIGIN = { x: 20, y: 60 };

/** Draws `text` with the renderer's writer. */
async function drawWithWriter(text: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const page = doc.addPage([500, 150]);
  const writer = new PdfTextWriter(doc);
  await writer.drawLine(page, prepareText(text, "regular", "sample"), ORIGIN.x, ORIGIN.y, {
    size: SIZE,
    color: rgb(0, 0, 0),
  });
  return doc.save();
}

/** Draws `text` as outlines straight from fontkit's shaping, as a reference. */
async function drawReference(text: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([500, 150]);
  let x = ORIGIN.x;

  for (const run of visualRuns(prepareText(text, "regular", "sample"))) {
    const source = fallbackChain("regular")[run.fontIndex];
    if (source === undefined) throw new Error(`no font ${run.fontIndex}`);
    const font = loadFont(source).font;
    const scale = SIZE / font.unitsPerEm;
    const layout = font.layout(run.text);

    for (const [index, glyph] of layout.glyphs.entries()) {
      const position = layout.positions[index];
      if (position === undefined) throw new Error("missing position");
      // drawSvgPath flips the y axis, and font outlines point up, so flip them first.
      const svg = (glyph.path as ScalablePath).scale(scale, -scale).toSVG();
      if (svg !== "") {
        page.drawSvgPath(svg, {
          x: x + position.xOffset * scale,
          y: ORIGIN.y + position.yOffset * scale,
          color: rgb(0, 0, 0),
        });
      }
      x += position.xAdvance * scale;
    }
  }
  return doc.save();
}

function isDark(image: GrayImage, x: number, y: number): boolean {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return false;
  return (image.pixels[y * image.width + x] ?? 255) < 128;
}

function hasDarkNear(image: GrayImage, x: number, y: number, radius: number): boolean {
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      if (isDark(image, x + dx, y + dy)) return true;
    }
  }
  return false;
}

/**
 * Counts dark pixels of `a` with no dark pixel of `b` within `radius`. The
 * tolerance absorbs anti-aliasing and hinting at glyph edges, while a glyph
 * or mark drawn in the wrong place still counts in full.
 */
function strayInk(a: GrayImage, b: GrayImage, radius: number): number {
  let stray = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (isDark(a, x, y) && !hasDarkNear(b, x, y, radius)) stray++;
    }
  }
  return stray;
}

describe("shaped drawing", () => {
  const samples = [
    "علي",
    "يحيى شريف",
    "فؤاد بن خليل",
    "قاعة ١٢",
    "AVAT Tyo",
    "Zoë Ñúñez",
    "Nguyễn Thị Hằng",
    "प्रिया क्षत्रिय",
  ];

  for (const sample of samples) {
    test(`matches fontkit outlines for ${sample}`, async () => {
      const drawn = rasterizeGray(await drawWithWriter(sample), 72);
      const reference = rasterizeGray(await drawReference(sample), 72);

      const referenceInk = countDarkPixels(reference, 0, 0, reference.width, reference.height);
      expect(referenceInk).toBeGreaterThan(100);
      expect(strayInk(drawn, reference, 2)).toBeLessThanOrEqual(5);
      expect(strayInk(reference, drawn, 2)).toBeLessThanOrEqual(5);
    });
  }
});

describe("padGlyphRecords", () => {
  test("keeps every outline", () => {
    for (const path of fontPaths()) {
      const original = new Uint8Array(readFileSync(path));
      const padded = padGlyphRecords(original);
      const before = fontkit.create(original);
      const after = fontkit.create(padded);

      expect(after.numGlyphs).toBe(before.numGlyphs);
      for (let id = 0; id < before.numGlyphs; id += 97) {
        expect(after.getGlyph(id).path.toSVG()).toBe(before.getGlyph(id).path.toSVG());
        expect(after.getGlyph(id).advanceWidth).toBe(before.getGlyph(id).advanceWidth);
      }
    }
  });

  test("returns fonts with even records unchanged", () => {
    const once = padGlyphRecords(new Uint8Array(readFileSync(fontPaths()[0] ?? "")));

    expect(padGlyphRecords(once)).toBe(once);
  });

  test("chains load from the listed paths", () => {
    const chained = (["regular", "bold"] as const).flatMap((weight) =>
      fallbackChain(weight).map((source) => source.path),
    );

    expect(chained.sort()).toEqual(fontPaths().sort());
  });
});
