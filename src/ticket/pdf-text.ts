/** Draws prepared, multi-font text onto pdf-lib pages. */

import type { PDFDocument, PDFFont, PDFPage, RGB } from "pdf-lib";
import { fallbackChain, loadFont, type FontWeight } from "./fonts.ts";
import { lineWidth, runWidth, visualRuns, type PreparedText } from "./text.ts";

export type Alignment = "left" | "center";

export interface LineStyle {
  size: number;
  color: RGB;
  align?: Alignment;
}

/** Embeds each font into one document on first use, as a subset of the glyphs drawn. */
export class PdfTextWriter {
  private readonly embedded = new Map<string, PDFFont>();

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
      page.drawText(run.text, { x: cursor, y, size: style.size, font, color: style.color });
      cursor += runWidth(run, line.weight, style.size);
    }
  }
}
