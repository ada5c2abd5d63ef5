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
import hebrewRegular from "@expo-google-fonts/noto-sans-hebrew/400Regular/NotoSansHebrew_400Regular.ttf" with { type: "file" };
import hebrewBold from "@expo-google-fonts/noto-sans-hebrew/700Bold/NotoSansHebrew_700Bold.ttf" with { type: "file" };
import krRegular from "@expo-google-fonts/noto-sans-kr/400Regular/NotoSansKR_400Regular.ttf" with { type: "file" };
import krBold from "@expo-google-fonts/noto-sans-kr/700Bold/NotoSansKR_700Bold.ttf" with { type: "file" };

export type FontWeight = "regular" | "bold";

export interface FontSource {
  /** Stable name, also the cache key. */
  name: string;
  path: string;
}

/**
 * Fonts tried in order for each character: Latin, Greek and Cyrillic first,
 * then Arabic, Hebrew, Chinese (which also covers kana and CJK punctuation),
 * and Korean for Hangul.
 */
const FALLBACK_CHAINS: Record<FontWeight, readonly FontSource[]> = {
  regular: [
    { name: "NotoSans-Regular", path: notoSansRegular },
    { name: "NotoSansArabic-Regular", path: arabicRegular },
    { name: "NotoSansHebrew-Regular", path: hebrewRegular },
    { name: "NotoSansSC-Regular", path: scRegular },
    { name: "NotoSansKR-Regular", path: krRegular },
  ],
  bold: [
    { name: "NotoSans-Bold", path: notoSansBold },
    { name: "NotoSansArabic-Bold", path: arabicBold },
    { name: "NotoSansHebrew-Bold", path: hebrewBold },
    { name: "NotoSansSC-Bold", path: scBold },
    { name: "NotoSansKR-Bold", path: krBold },
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

/** Parsed fonts by the exact byte array they were parsed from. */
const fontsByBytes = new WeakMap<Uint8Array, Font>();

/**
 * A fontkit for pdf-lib's registerFontkit that reuses the parsed font for
 * bytes from loadFont. pdf-lib otherwise parses the whole font file again on
 * every embedFont, which was most of a ticket's render time.
 */
export const cachingFontkit = {
  create(bytes: Uint8Array, postscriptName?: string): Font {
    return fontsByBytes.get(bytes) ?? fontkit.create(bytes, postscriptName);
  },
};

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
  const loaded = { source, bytes, font: memoizeLayout(fontkit.create(bytes)) };
  loadedFonts.set(source.name, loaded);
  fontsByBytes.set(bytes, loaded.font);
  return loaded;
}

/** Layout caches of the loaded fonts, emptied by startDocument. */
const layoutCaches: Map<string, ReturnType<Font["layout"]>>[] = [];

/**
 * Caches the font's layout results. Shaping (GSUB and GPOS lookups) was most
 * of a ticket's render time, and the renderer and pdf-lib's encodeText lay out
 * the same strings several times per ticket. Callers only read the runs.
 */
function memoizeLayout(font: Font): Font {
  const layout = font.layout.bind(font);
  const cache = new Map<string, ReturnType<Font["layout"]>>();
  layoutCaches.push(cache);

  font.layout = (text, features) => {
    const key = features === undefined ? text : `${JSON.stringify(features)}\u0000${text}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;

    const run = layout(text, features);
    cache.set(key, run);
    return run;
  };
  return font;
}

/**
 * Empties the per-document caches of every loaded font. Call it before each
 * document. fontkit caches a glyph with the code points of the text it first
 * came from, and pdf-lib writes those into the PDF's text layer, so a glyph
 * reused from another ticket can carry the wrong characters. The parsed
 * tables, the expensive part, stay cached.
 * NOTE: this clears `_glyphs`, a private field of @pdf-lib/fontkit 1.1.1.
 */
export function startDocument(): void {
  for (const cache of layoutCaches) cache.clear();
  for (const loaded of loadedFonts.values()) {
    (loaded.font as unknown as { _glyphs: Record<number, unknown> })._glyphs = {};
  }
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
