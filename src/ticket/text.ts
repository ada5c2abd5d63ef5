/**
 * Splits text into runs that one font can draw, in visual order.
 *
 * Each character gets the first font in the fallback chain with a glyph for
 * it. Right-to-left text gets a simplified form of the Unicode bidirectional
 * algorithm (UAX #9): strong classes L and R, neutrals resolved from their
 * neighbours, and runs reordered by embedding level (rule L2).
 *
 * NOTE: Digits count as left-to-right letters, and brackets are not mirrored
 * in right-to-left runs. Names with digits or brackets inside Arabic text can
 * therefore come out in a different order than a full UAX #9 implementation
 * would give.
 */

import { UnrenderableTextError } from "./errors.ts";
import { fallbackChain, fontIndexFor, loadFont, type FontWeight } from "./fonts.ts";

/** Text as code points, each with the chain index of the font that draws it. */
export interface PreparedText {
  weight: FontWeight;
  chars: string[];
  fonts: number[];
}

/** A piece of one line that one font draws, already in visual order. */
export interface TextRun {
  text: string;
  fontIndex: number;
  rightToLeft: boolean;
}

type BidiClass = "L" | "R" | "N";

const RTL_LETTER =
  /^(?=\p{L})[\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}]$/u;
const LTR_STRONG = /^[\p{L}\p{Nd}]$/u;
const MARK = /^\p{M}$/u;
const IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;

/**
 * Normalizes `text` (NFC, whitespace collapsed to single spaces) and assigns
 * a font to every character.
 *
 * Invisible format characters that no font covers, such as a variation
 * selector, are dropped. Throws UnrenderableTextError naming `field` for any
 * other character that no font covers.
 */
export function prepareText(
  text: string,
  weight: FontWeight,
  field: string,
): PreparedText {
  const normalized = text.normalize("NFC").replace(/\s+/gu, " ").trim();
  const chars: string[] = [];
  const fonts: number[] = [];

  for (const char of normalized) {
    const codePoint = char.codePointAt(0) ?? 0;
    const fontIndex = chooseFont(char, codePoint, weight, fonts.at(-1));

    if (fontIndex === undefined) {
      if (IGNORABLE.test(char)) continue;
      throw new UnrenderableTextError(field, codePoint);
    }

    chars.push(char);
    fonts.push(fontIndex);
  }

  return { weight, chars, fonts };
}

function chooseFont(
  char: string,
  codePoint: number,
  weight: FontWeight,
  previousFont: number | undefined,
): number | undefined {
  // Spaces, punctuation and combining marks stay in the previous character's
  // font when it has them, so they do not split a word into separate runs.
  if (previousFont !== undefined && !LTR_STRONG.test(char)) {
    const source = fallbackChain(weight)[previousFont];
    if (source !== undefined && loadFont(source).font.hasGlyphForCodePoint(codePoint)) {
      return previousFont;
    }
  }
  return fontIndexFor(codePoint, weight);
}

/** Returns the characters from `start` to `end` as prepared text. */
export function sliceText(text: PreparedText, start: number, end?: number): PreparedText {
  return {
    weight: text.weight,
    chars: text.chars.slice(start, end),
    fonts: text.fonts.slice(start, end),
  };
}

function bidiClasses(chars: readonly string[]): BidiClass[] {
  const classes: BidiClass[] = [];
  for (const char of chars) {
    if (MARK.test(char)) {
      // A combining mark belongs to the character before it.
      classes.push(classes.at(-1) ?? "N");
    } else if (RTL_LETTER.test(char)) {
      classes.push("R");
    } else if (LTR_STRONG.test(char)) {
      classes.push("L");
    } else {
      classes.push("N");
    }
  }
  return classes;
}

/** Returns each character's embedding level: even is LTR, odd is RTL. */
function embeddingLevels(chars: readonly string[]): number[] {
  const classes = bidiClasses(chars);
  const base = classes.find((bidiClass) => bidiClass !== "N") ?? "L";

  // A neutral takes the direction of the strong characters around it when
  // both sides agree, else the base direction (UAX #9 rules N1 and N2).
  const resolved = classes.map((bidiClass, index) => {
    if (bidiClass !== "N") return bidiClass;
    const before = classes.findLast((c, i) => i < index && c !== "N") ?? base;
    const after = classes.find((c, i) => i > index && c !== "N") ?? base;
    return before === after ? before : base;
  });

  return resolved.map((bidiClass) => {
    if (bidiClass === "R") return 1;
    return base === "R" ? 2 : 0;
  });
}

/** Splits one line into font runs and returns them in visual order. */
export function visualRuns(line: PreparedText): TextRun[] {
  const levels = embeddingLevels(line.chars);
  const runs: { chars: string[]; fontIndex: number; level: number }[] = [];

  for (const [index, char] of line.chars.entries()) {
    const fontIndex = line.fonts[index] ?? 0;
    const level = levels[index] ?? 0;
    const last = runs.at(-1);
    if (last !== undefined && last.fontIndex === fontIndex && last.level === level) {
      last.chars.push(char);
    } else {
      runs.push({ chars: [char], fontIndex, level });
    }
  }

  // Rule L2: from the highest level down to 1, reverse every sequence of
  // runs at that level or higher.
  const maxLevel = Math.max(0, ...runs.map((run) => run.level));
  for (let level = maxLevel; level >= 1; level--) {
    let start = 0;
    while (start < runs.length) {
      if ((runs[start]?.level ?? 0) < level) {
        start++;
        continue;
      }
      let end = start;
      while (end < runs.length && (runs[end]?.level ?? 0) >= level) end++;
      runs.splice(start, end - start, ...runs.slice(start, end).reverse());
      start = end;
    }
  }

  return runs.map((run) => {
    const rightToLeft = run.level % 2 === 1;
    // fontkit reverses a run itself when its script is right-to-left. A run of
    // neutrals only, such as a space between two Arabic words, is reversed here.
    const hasRtlLetter = run.chars.some((char) => RTL_LETTER.test(char));
    const chars = rightToLeft && !hasRtlLetter ? [...run.chars].reverse() : run.chars;
    return { text: chars.join(""), fontIndex: run.fontIndex, rightToLeft };
  });
}

/**
 * Returns the advance width of a run at `size` points, measured the way
 * pdf-lib draws it: shaped glyphs, advance widths only, no kerning.
 */
export function runWidth(run: TextRun, weight: FontWeight, size: number): number {
  const source = fallbackChain(weight)[run.fontIndex];
  if (source === undefined) return 0;

  const font = loadFont(source).font;
  let advance = 0;
  for (const glyph of font.layout(run.text).glyphs) advance += glyph.advanceWidth;
  return (advance / font.unitsPerEm) * size;
}

/** Returns the width of a line at `size` points. */
export function lineWidth(line: PreparedText, size: number): number {
  let width = 0;
  for (const run of visualRuns(line)) width += runWidth(run, line.weight, size);
  return width;
}
