/**
 * The embedded fonts and their fallback chain.
 *
 * Fonts come from the @expo-google-fonts packages as plain TTF files. The
 * `with { type: "file" }` imports resolve to the files in node_modules under
 * `bun run`, and make `bun build --compile` embed the files in the binary.
 */

import "./regenerator.ts";
import fontkit from "@pdf-lib/fontkit";
import type { Font } from "@pdf-lib/fontkit";
import { readFileSync } from "node:fs";
import { padGlyphRecords } from "./ttf.ts";

import notoSansRegular from "@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf" with { type: "file" };
import notoSansBold from "@expo-google-fonts/noto-sans/700Bold/NotoSans_700Bold.ttf" with { type: "file" };
import arabicRegular from "@expo-google-fonts/noto-sans-arabic/400Regular/NotoSansArabic_400Regular.ttf" with { type: "file" };
import arabicBold from "@expo-google-fonts/noto-sans-arabic/700Bold/NotoSansArabic_700Bold.ttf" with { type: "file" };
import scRegular from "@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf" with { type: "file" };
import scBold from "@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf" with { type: "file" };

export type FontWeight = "regular" | "bold";

export interface FontSource {
  /** Stable name, also the cache key. */
  name: string;
  path: string;
}

/**
 * Fonts tried in order for each character: Latin, Greek and Cyrillic first,
 * then Arabic, then Chinese (which also covers kana and CJK punctuation).
 */
const FALLBACK_CHAINS: Record<FontWeight, readonly FontSource[]> = {
  regular: [
    { name: "NotoSans-Regular", path: notoSansRegular },
    { name: "NotoSansArabic-Regular", path: arabicRegular },
    { name: "NotoSansSC-Regular", path: scRegular },
  ],
  bold: [
    { name: "NotoSans-Bold", path: notoSansBold },
    { name: "NotoSansArabic-Bold", path: arabicBold },
    { name: "NotoSansSC-Bold", path: scBold },
  ],
};

export interface LoadedFont {
  source: FontSource;
  /** TTF bytes with padded glyph records, passed to pdf-lib's embedFont. */
  bytes: Uint8Array;
  /** Parsed font, used for glyph coverage checks. */
  font: Font;
}

/** Fonts read so far in this thread, so each file is read and parsed once. */
const loadedFonts = new Map<string, LoadedFont>();

/** Returns the path of every font file the renderer may read. */
export function fontPaths(): string[] {
  return Object.values(FALLBACK_CHAINS).flatMap((chain) =>
    chain.map((source) => source.path),
  );
}

export function fallbackChain(weight: FontWeight): readonly FontSource[] {
  return FALLBACK_CHAINS[weight];
}

/** Reads and parses a font on first use, then returns the cached copy. */
export function loadFont(source: FontSource): LoadedFont {
  const cached = loadedFonts.get(source.name);
  if (cached !== undefined) return cached;

  const file = readFileSync(source.path);
  const bytes = padGlyphRecords(new Uint8Array(file.buffer, file.byteOffset, file.byteLength));
  const loaded = { source, bytes, font: fontkit.create(bytes) };
  loadedFonts.set(source.name, loaded);
  return loaded;
}

/**
 * Returns the index in the weight's chain of the first font with a glyph for
 * `codePoint`, or undefined when no font has one. Later fonts are only
 * loaded when the earlier ones lack the glyph.
 */
export function fontIndexFor(
  codePoint: number,
  weight: FontWeight,
): number | undefined {
  const chain = FALLBACK_CHAINS[weight];
  for (const [index, source] of chain.entries()) {
    if (loadFont(source).font.hasGlyphForCodePoint(codePoint)) return index;
  }
  return undefined;
}
