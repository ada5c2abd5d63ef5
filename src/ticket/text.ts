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

const RTL_SCRIPTS =
  "\\p{Script=Arabic}\\p{Script=Hebrew}\\p{Script=Syriac}\\p{Script=Thaana}\\p{Script=Nko}";
const RTL_LETTER = new RegExp(`^(?=\\p{L})[${RTL_SCRIPTS}]$`, "u");
const RTL_SCRIPT = new RegExp(`^[${RTL_SCRIPTS}]$`, "u");
const NO_SCRIPT = /^[\p{Script=Common}\p{Script=Inherited}]$/u;
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
    // Reversing before shaping cancels fontkit's reversal, or supplies one it
    // would not do. Runs that need this contain no letters, only digits, spaces
    // and punctuation, so the reversal cannot break contextual shaping.
    const chars =
      rightToLeft === shaperReverses(run.chars) ? run.chars : [...run.chars].reverse();
    return { text: chars.join(""), fontIndex: run.fontIndex, rightToLeft };
  });
}

/**
 * Returns whether fontkit's layout reverses these characters. It does so
 * when the first character with a script (not Common or Inherited) belongs
 * to a right-to-left script. That includes the Arabic-Indic digits, which
 * must still read left to right.
 */
function shaperReverses(chars: readonly string[]): boolean {
  const first = chars.find((char) => !NO_SCRIPT.test(char));
  return first !== undefined && RTL_SCRIPT.test(first);
}

/** Position of one shaped glyph, in ems (multiply by the font size for points). */
export interface GlyphPlacement {
  xAdvance: number;
  xOffset: number;
  yOffset: number;
}

/**
 * Shapes a run with fontkit (GSUB substitutions, GPOS kerning and mark
 * positions) and returns the placement of each glyph in visual order.
 * The glyphs match pdf-lib's encodeText for the same run one to one, because
 * both call fontkit's layout on the same font with the default features.
 */
export function placeGlyphs(run: TextRun, weight: FontWeight): GlyphPlacement[] {
  const source = fallbackChain(weight)[run.fontIndex];
  if (source === undefined) return [];

  const font = loadFont(source).font;
  const em = font.unitsPerEm;
  return font.layout(run.text).positions.map((position) => ({
    xAdvance: position.xAdvance / em,
    xOffset: position.xOffset / em,
    yOffset: position.yOffset / em,
  }));
}

/** Returns the advance width of a run at `size` points. */
export function runWidth(run: TextRun, weight: FontWeight, size: number): number {
  let advance = 0;
  for (const glyph of placeGlyphs(run, weight)) advance += glyph.xAdvance;
  return advance * size;
}

/** Returns the width of a line at `size` points. */
export function lineWidth(line: PreparedText, size: number): number {
  let width = 0;
  for (const run of visualRuns(line)) width += runWidth(run, line.weight, size);
  return width;
}
