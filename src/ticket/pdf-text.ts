/** Draws prepared, multi-font text onto pdf-lib pages. */

import {
  beginText,
  endText,
  PDFHexString,
  popGraphicsState,
  pushGraphicsState,
  setFillingColor,
  setFontAndSize,
  setTextMatrix,
  showText,
  type PDFDocument,
  type PDFFont,
  type PDFName,
  type PDFOperator,
  type PDFPage,
  type RGB,
} from "pdf-lib";
import { fallbackChain, loadFont, type FontWeight } from "./fonts.ts";
import { lineWidth, placeGlyphs, visualRuns, type PreparedText, type TextRun } from "./text.ts";

export type Alignment = "left" | "center";

export interface LineStyle {
  size: number;
  color: RGB;
  align?: Alignment;
}

/** Hex digits per glyph id in pdf-lib's encoding of a custom font (Identity-H). */
const GLYPH_CODE_LENGTH = 4;

/**
 * Embeds each font into one document on first use, as a subset of the glyphs
 * drawn, and draws text glyph by glyph at its shaped position.
 *
 * pdf-lib's drawText places glyphs by advance width only. That drops GPOS
 * mark positions, which Noto Sans Arabic needs: it draws the dots of letters
 * such as yeh as separate mark glyphs, so without positions "علي" would read
 * as "على". Each glyph therefore gets its own text matrix here.
 */
export class PdfTextWriter {
  private readonly embedded = new Map<string, PDFFont>();
  private readonly fontKeys = new WeakMap<PDFPage, Map<PDFFont, PDFName>>();

  constructor(private readonly doc: PDFDocument) {}

  private async font(weight: FontWeight, index: number): Promise<PDFFont> {
    const source = fallbackChain(weight)[index];
    if (source === undefined) {
      throw new RangeError(`No font at index ${index} of the ${weight} chain`);
    }

    const cached = this.embedded.get(source.name);
    if (cached !== undefined) return cached;

    const font = await this.doc.embedFont(loadFont(source).bytes, { subset: true });
    this.embedded.set(source.name, font);
    return font;
  }

  /** Returns the page's resource name for `font`, adding it on first use. */
  private fontKey(page: PDFPage, font: PDFFont): PDFName {
    let keys = this.fontKeys.get(page);
    if (keys === undefined) {
      keys = new Map();
      this.fontKeys.set(page, keys);
    }

    let key = keys.get(font);
    if (key === undefined) {
      key = page.node.newFontDictionary(font.name, font.ref);
      keys.set(font, key);
    }
    return key;
  }

  /**
   * Draws one line with its baseline at `y`. With `align: "center"`, `x` is
   * the centre of the line, else its left edge.
   */
  async drawLine(
    page: PDFPage,
    line: PreparedText,
    x: number,
    y: number,
    style: LineStyle,
  ): Promise<void> {
    let cursor = style.align === "center" ? x - lineWidth(line, style.size) / 2 : x;

    for (const run of visualRuns(line)) {
      const font = await this.font(line.weight, run.fontIndex);
      cursor = this.drawRun(page, font, run, line.weight, cursor, y, style);
    }
  }

  /** Draws one run starting at `x` and returns the x where the next run starts. */
  private drawRun(
    page: PDFPage,
    font: PDFFont,
    run: TextRun,
    weight: FontWeight,
    x: number,
    y: number,
    style: LineStyle,
  ): number {
    const codes = font.encodeText(run.text).asString();
    const placements = placeGlyphs(run, weight);
    if (codes.length !== placements.length * GLYPH_CODE_LENGTH) {
      const glyphCount = codes.length / GLYPH_CODE_LENGTH;
      throw new Error(
        `Shaping mismatch: ${placements.length} glyph positions for ${glyphCount} glyph codes`,
      );
    }

    const operators: PDFOperator[] = [
      pushGraphicsState(),
      beginText(),
      setFillingColor(style.color),
      setFontAndSize(this.fontKey(page, font), style.size),
    ];

    let cursor = x;
    for (const [index, glyph] of placements.entries()) {
      const code = codes.slice(index * GLYPH_CODE_LENGTH, (index + 1) * GLYPH_CODE_LENGTH);
      const glyphX = cursor + glyph.xOffset * style.size;
      const glyphY = y + glyph.yOffset * style.size;
      operators.push(setTextMatrix(1, 0, 0, 1, glyphX, glyphY), showText(PDFHexString.of(code)));
      cursor += glyph.xAdvance * style.size;
    }

    operators.push(endText(), popGraphicsState());
    page.pushOperators(...operators);
    return cursor;
  }
}
