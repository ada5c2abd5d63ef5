import { codePointLabel, unrenderableCodePoint } from "../ticket/coverage.ts";
import type { FieldError } from "./problem.ts";

interface SchemaError {
  path: string;
  message: string;
  schema?: Record<string, unknown>;
}

/**
 * Control characters, line and paragraph separators, bidirectional overrides
 * and lone surrogates: nothing a person's name or a title needs, and each can
 * corrupt a log line, a mail header or a rendered ticket.
 */
const FORBIDDEN_TEXT = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\u202A-\u202E\u2066-\u2069]/u;

/** A deliberately plain address check: one @, no spaces, a dot in the domain. */
const EMAIL = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$/;

export const MAX_EMAIL_LENGTH = 254;

/**
 * Checks a text that ends up on a ticket: no control characters, and every
 * character drawable by the ticket fonts. Returns the problem, or null.
 */
export function ticketTextProblem(text: string): string | null {
  if (hasForbiddenCharacters(text)) return "must not contain control characters";
  if (text.trim() === "") return "must not be blank";
  const codePoint = unrenderableCodePoint(text);
  if (codePoint !== null) {
    return `contains ${codePointLabel(codePoint)}, which the ticket fonts cannot draw`;
  }
  return null;
}

export function hasForbiddenCharacters(text: string): boolean {
  return FORBIDDEN_TEXT.test(text);
}

export function isEmail(text: string): boolean {
  return text.length <= MAX_EMAIL_LENGTH && EMAIL.test(text);
}

/** Describes what a schema expects, without the submitted value. */
function expectation(schema: Record<string, unknown> | undefined, message: string): string {
  if (message === "Unexpected property") return "is not an allowed field";
  if (message === "Expected required property") return "is required";
  if (schema === undefined) return "is invalid";

  const type = schema.type;
  if (type === "string") {
    if (schema.format === "email") return "must be an email address";
    if (schema.format === "date-time") return "must be an ISO 8601 date-time with offset";
    const min = schema.minLength;
    const max = schema.maxLength;
    if (typeof min === "number" && typeof max === "number") {
      return `must be a string of ${min} to ${max} characters`;
    }
    return "must be a string";
  }
  if (type === "integer" || type === "number") {
    const min = schema.minimum;
    const max = schema.maximum;
    const noun = type === "integer" ? "an integer" : "a number";
    if (typeof min === "number" && typeof max === "number") {
      return `must be ${noun} from ${min} to ${max}`;
    }
    return `must be ${noun}`;
  }
  if (type === "boolean") return "must be true or false";
  if (type === "object") return "must be a JSON object";
  if (Array.isArray(schema.anyOf)) {
    const values = (schema.anyOf as Record<string, unknown>[])
      .map((s) => s.const)
      .filter((v) => typeof v === "string");
    if (values.length > 0) return `must be one of: ${values.join(", ")}`;
  }
  return "is invalid";
}

/** Turns schema validation errors into one entry per JSON pointer. */
export function fieldErrors(errors: readonly SchemaError[]): FieldError[] {
  const seen = new Map<string, FieldError>();
  for (const error of errors) {
    const pointer = error.path ?? "";
    if (seen.has(pointer)) continue;
    seen.set(pointer, { pointer, detail: expectation(error.schema, error.message) });
  }
  return [...seen.values()];
}
