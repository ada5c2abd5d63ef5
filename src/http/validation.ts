import { codePointLabel, unrenderableCodePoint } from "../ticket/coverage.ts";
import { ProblemError, type FieldError } from "./problem.ts";

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

/**
 * RFC 3339 date-time with a required offset, so a time is never read in the
 * server's zone. Seconds and their fraction are optional.
 */
const OFFSET_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parses an RFC 3339 date-time with offset to epoch milliseconds. Returns null
 * for another shape or for a field out of its calendar range, such as
 * February 30, which Date.parse would roll over into March.
 */
export function parseOffsetDateTime(text: string): number | null {
  const match = OFFSET_DATE_TIME.exec(text);
  if (match === null) return null;

  const field = (index: number) => Number(match[index] ?? "0");
  const [year, month, day] = [field(1), field(2), field(3)];
  const dateValid = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
  const timeValid = field(4) <= 23 && field(5) <= 59 && field(6) <= 59;
  const offsetValid = field(7) <= 23 && field(8) <= 59;
  if (!dateValid || !timeValid || !offsetValid) return null;

  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
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
    const branches = schema.anyOf as Record<string, unknown>[];
    const values = branches.map((s) => s.const).filter((v) => typeof v === "string");
    if (values.length > 0) return `must be one of: ${values.join(", ")}`;

    // Elysia's t.Integer and t.Numeric are a union of a numeric string and
    // the number itself, and the number branch carries the range.
    const numeric = branches.find((s) => s.type === "integer" || s.type === "number");
    if (numeric !== undefined) return expectation(numeric, message);
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

/**
 * Builds the 422 for invalid query parameters. Its pointers name the
 * parameter, such as "/limit", as if the query were a JSON object.
 */
export function queryProblem(errors: FieldError[]): ProblemError {
  return new ProblemError(
    422,
    "validation",
    "Invalid request",
    "One or more query parameters are invalid; see errors.",
    { extensions: { errors } },
  );
}
