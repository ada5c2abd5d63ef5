import { UnrenderableTextError } from "./errors.ts";
import { prepareText } from "./text.ts";

/**
 * Returns the first code point of `text` that no embedded font can draw, in
 * either weight, or null when the whole text renders. The API checks names and
 * titles with this, so a ticket does not fail later for a character.
 * It parses each font's character map on first use, in the calling thread.
 */
export function unrenderableCodePoint(text: string): number | null {
  try {
    prepareText(text, "regular", "text");
    prepareText(text, "bold", "text");
    return null;
  } catch (err) {
    if (err instanceof UnrenderableTextError) return err.codePoint;
    throw err;
  }
}

/** Formats a code point as U+XXXX for messages. */
export function codePointLabel(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`;
}
