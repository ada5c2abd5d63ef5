/** Line breaking and size fitting for prepared text. */

import { lineWidth, sliceText, type PreparedText } from "./text.ts";
import { fontIndexFor } from "./fonts.ts";

/** Scripts written without spaces, where a line may break between any two characters. */
const BREAK_ANYWHERE = new RegExp(
  "^[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}" +
    "\\u3000-\\u303F\\uFF00-\\uFFEF]$",
  "u",
);
const MARK = /^\p{M}$/u;
const ELLIPSIS = "\u2026";

export interface FittedText {
  size: number;
  lines: PreparedText[];
}

/** Returns the indices at which a line may start, after the first character. */
function breakOpportunities(text: PreparedText): number[] {
  const positions: number[] = [];
  for (let index = 1; index < text.chars.length; index++) {
    const before = text.chars[index - 1] ?? "";
    const char = text.chars[index] ?? "";
    if (MARK.test(char)) continue;
    if (before === " " || BREAK_ANYWHERE.test(before) || BREAK_ANYWHERE.test(char)) {
      positions.push(index);
    }
  }
  return positions;
}

function trimmed(text: PreparedText, start: number, end: number): PreparedText {
  let from = start;
  let to = end;
  while (from < to && text.chars[from] === " ") from++;
  while (to > from && text.chars[to - 1] === " ") to--;
  return sliceText(text, from, to);
}

/**
 * Breaks `text` into lines no wider than `maxWidth` at `size` points.
 * Breaks after spaces and between CJK characters. A word wider than the line
 * is broken between characters, never before a combining mark.
 */
export function wrapText(text: PreparedText, size: number, maxWidth: number): PreparedText[] {
  const fits = (start: number, end: number) =>
    lineWidth(trimmed(text, start, end), size) <= maxWidth;
  const opportunities = breakOpportunities(text);
  const lines: PreparedText[] = [];
  let start = 0;

  while (start < text.chars.length) {
    let end = text.chars.length;
    if (!fits(start, end)) {
      end = lastFittingBreak(opportunities, start, fits) ?? longestFittingPrefix(text, start, fits);
    }
    const line = trimmed(text, start, end);
    if (line.chars.length > 0) lines.push(line);
    start = end;
  }

  return lines;
}

function lastFittingBreak(
  opportunities: readonly number[],
  start: number,
  fits: (start: number, end: number) => boolean,
): number | undefined {
  let found: number | undefined;
  for (const position of opportunities) {
    if (position <= start) continue;
    // Widths grow with the end position, so the first miss ends the search.
    if (!fits(start, position)) break;
    found = position;
  }
  return found;
}

function longestFittingPrefix(
  text: PreparedText,
  start: number,
  fits: (start: number, end: number) => boolean,
): number {
  let end = start + 1;
  for (let next = start + 2; next <= text.chars.length; next++) {
    if (MARK.test(text.chars[next - 1] ?? "")) continue;
    if (!fits(start, next)) break;
    end = next;
  }
  // Keep combining marks with their base character even if the line overflows.
  while (end < text.chars.length && MARK.test(text.chars[end] ?? "")) end++;
  return end;
}

/**
 * Wraps `text` at the largest of `sizes` that needs at most `maxLines`
 * lines. At the smallest size, lines past `maxLines` are cut and the last
 * kept line ends with an ellipsis.
 */
export function fitText(
  text: PreparedText,
  sizes: readonly number[],
  maxWidth: number,
  maxLines: number,
): FittedText {
  let lines: PreparedText[] = [];
  let size = 0;
  for (const candidate of sizes) {
    size = candidate;
    lines = wrapText(text, size, maxWidth);
    if (lines.length <= maxLines) return { size, lines };
  }

  const visibleLines = lines.slice(0, maxLines);
  const last = visibleLines.pop();
  if (last !== undefined) visibleLines.push(withEllipsis(last, size, maxWidth));
  return { size, lines: visibleLines };
}

function withEllipsis(line: PreparedText, size: number, maxWidth: number): PreparedText {
  const ellipsisFont = fontIndexFor(ELLIPSIS.codePointAt(0) ?? 0, line.weight) ?? 0;
  for (let end = line.chars.length; end > 0; end--) {
    const candidate = trimmed(line, 0, end);
    candidate.chars.push(ELLIPSIS);
    candidate.fonts.push(ellipsisFont);
    if (lineWidth(candidate, size) <= maxWidth) return candidate;
  }
  return { weight: line.weight, chars: [ELLIPSIS], fonts: [ellipsisFont] };
}
