/** QR codes drawn as vector rectangles, so they stay sharp at any zoom or print size. */

import {
  fill,
  popGraphicsState,
  pushGraphicsState,
  rectangle,
  rgb,
  setFillingGrayscaleColor,
  type PDFOperator,
  type PDFPage,
} from "pdf-lib";
import QRCode from "qrcode";

/** Light modules around the symbol that ISO/IEC 18004 requires for scanning. */
export const QUIET_ZONE_MODULES = 4;

/**
 * Draws `text` as a QR code (error correction level M) filling a square of
 * `size` points whose lower-left corner is at (`x`, `y`). The square includes
 * the quiet zone, which is painted white.
 */
export function drawQrCode(page: PDFPage, text: string, x: number, y: number, size: number): void {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  const count = modules.size;
  const moduleSize = size / (count + 2 * QUIET_ZONE_MODULES);
  const originX = x + QUIET_ZONE_MODULES * moduleSize;
  const top = y + size - QUIET_ZONE_MODULES * moduleSize;

  page.drawRectangle({ x, y, width: size, height: size, color: rgb(1, 1, 1) });

  // Each horizontal stretch of dark modules becomes one rectangle, and all of
  // them are filled as one path, so no hairline seams appear between modules.
  const operators: PDFOperator[] = [pushGraphicsState(), setFillingGrayscaleColor(0)];
  for (let row = 0; row < count; row++) {
    let column = 0;
    while (column < count) {
      if (!modules.get(row, column)) {
        column++;
        continue;
      }
      const start = column;
      while (column < count && modules.get(row, column)) column++;
      operators.push(
        rectangle(
          originX + start * moduleSize,
          top - (row + 1) * moduleSize,
          (column - start) * moduleSize,
          moduleSize,
        ),
      );
    }
  }
  operators.push(fill(), popGraphicsState());
  page.pushOperators(...operators);
}
