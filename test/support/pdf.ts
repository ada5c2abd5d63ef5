/**
 * Reads PDFs back with real decoders: pdftotext and pdftoppm from
 * poppler-utils, zbarimg from zbar-tools. A missing tool fails the test with
 * the command that installs it.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PACKAGES: Record<string, string> = {
  pdftotext: "poppler-utils",
  pdftoppm: "poppler-utils",
  zbarimg: "zbar-tools",
};

function requireTool(name: string): string {
  const path = Bun.which(name);
  if (path === null) {
    throw new Error(
      `${name} not found on PATH: install it with apt-get install ${PACKAGES[name] ?? name}`,
    );
  }
  return path;
}

function run(command: string[]): string {
  const result = Bun.spawnSync(command, { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) {
    throw new Error(`${command[0]} failed with exit code ${result.exitCode}: ${result.stderr}`);
  }
  return result.stdout.toString();
}

/** Runs `action` with the PDF in a temporary directory that is removed afterwards. */
function withPdfFile<T>(pdf: Uint8Array, action: (dir: string, file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "admit-pdf-"));
  try {
    const file = join(dir, "in.pdf");
    writeFileSync(file, pdf);
    return action(dir, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Extracts the text of a PDF with pdftotext. */
export function pdfText(pdf: Uint8Array): string {
  const tool = requireTool("pdftotext");
  return withPdfFile(pdf, (_dir, file) => run([tool, "-enc", "UTF-8", file, "-"]));
}

/** Rasterizes the first page with pdftoppm and decodes every QR code on it with zbarimg. */
export function decodeQrCodes(pdf: Uint8Array, dpi = 150): string[] {
  const pdftoppm = requireTool("pdftoppm");
  const zbarimg = requireTool("zbarimg");
  return withPdfFile(pdf, (dir, file) => {
    run([pdftoppm, "-r", String(dpi), "-png", "-singlefile", file, join(dir, "page")]);
    const qrOnly = ["-Sdisable", "-Sqrcode.enable"];
    const output = run([zbarimg, "--raw", "-q", ...qrOnly, join(dir, "page.png")]);
    return output.split("\n").filter((line) => line.length > 0);
  });
}

/** Writes the first page as a PNG, for looking at a rendered ticket. */
export function writePng(pdf: Uint8Array, target: string, dpi = 150): void {
  const pdftoppm = requireTool("pdftoppm");
  withPdfFile(pdf, (dir, file) => {
    run([pdftoppm, "-r", String(dpi), "-png", "-singlefile", file, join(dir, "page")]);
    writeFileSync(target, readFileSync(join(dir, "page.png")));
  });
}

export interface GrayImage {
  width: number;
  height: number;
  /** One byte per pixel, 0 black to 255 white, row by row from the top. */
  pixels: Uint8Array;
}

/** Rasterizes the first page in grayscale with pdftoppm. */
export function rasterizeGray(pdf: Uint8Array, dpi: number): GrayImage {
  const tool = requireTool("pdftoppm");
  return withPdfFile(pdf, (dir, file) => {
    run([tool, "-r", String(dpi), "-gray", "-singlefile", file, join(dir, "page")]);
    return parsePgm(readFileSync(join(dir, "page.pgm")));
  });
}

/** Parses the binary PGM (P5) image with 8-bit samples that pdftoppm -gray writes. */
function parsePgm(data: Uint8Array): GrayImage {
  const header: string[] = [];
  let at = 0;
  while (header.length < 4) {
    while (at < data.length && /\s/.test(String.fromCharCode(data[at] ?? 0))) at++;
    let token = "";
    while (at < data.length && !/\s/.test(String.fromCharCode(data[at] ?? 0))) {
      token += String.fromCharCode(data[at] ?? 0);
      at++;
    }
    header.push(token);
  }
  const [magic, width, height, maxValue] = header;
  if (magic !== "P5" || maxValue !== "255") {
    throw new Error(`Unsupported PGM header ${header.join(" ")}`);
  }
  at++; // the single whitespace byte after the header
  return { width: Number(width), height: Number(height), pixels: data.subarray(at) };
}

/** Counts pixels darker than mid-grey in a rectangle given in pixels from the top left. */
export function countDarkPixels(
  image: GrayImage,
  left: number,
  top: number,
  width: number,
  height: number,
): number {
  let count = 0;
  for (let y = top; y < top + height && y < image.height; y++) {
    for (let x = left; x < left + width && x < image.width; x++) {
      if ((image.pixels[y * image.width + x] ?? 255) < 128) count++;
    }
  }
  return count;
}
