/** Errors raised while rendering a ticket, each with a stable `code`. */

/**
 * A character has no glyph in any embedded font. Rendering the same text
 * again cannot succeed, so callers treat this as a permanent failure.
 */
export class UnrenderableTextError extends Error {
  override name = "UnrenderableTextError";
  readonly code = "UNRENDERABLE_TEXT";

  /**
   * The message names the field and the code point but never the text,
   * because the text may be an attendee's name.
   */
  constructor(
    readonly field: string,
    readonly codePoint: number,
  ) {
    const hex = codePoint.toString(16).toUpperCase().padStart(4, "0");
    super(`No embedded font has a glyph for U+${hex} in ${field}`);
  }
}

/** The start time or the time zone is invalid, which is also a permanent failure. */
export class InvalidTicketContentError extends Error {
  override name = "InvalidTicketContentError";
  readonly code = "INVALID_INPUT";
}
