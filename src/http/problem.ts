/**
 * RFC 9457 problem details. Every error response of the API is one of these,
 * with `application/problem+json`, and never carries submitted values, stack
 * traces or internal messages.
 */

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Base of the `type` URIs; they name the problem and need not resolve. */
const TYPE_BASE = "https://admit.invalid/problems/";

export interface FieldError {
  /** JSON Pointer (RFC 6901) to the offending field of the request body. */
  pointer: string;
  detail: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** A problem raised by a handler; the error hook turns it into the response. */
export class ProblemError extends Error {
  readonly problem: Problem;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    slug: string,
    title: string,
    detail: string,
    options: { headers?: Record<string, string>; extensions?: Record<string, unknown> } = {},
  ) {
    super(detail);
    this.problem = { type: TYPE_BASE + slug, title, status, detail, ...options.extensions };
    this.headers = options.headers ?? {};
  }
}

export function problemResponse(
  problem: Problem,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, ...headers },
  });
}

export function problemType(slug: string): string {
  return TYPE_BASE + slug;
}

export const badRequest = (slug: string, detail: string) =>
  new ProblemError(400, slug, "Bad request", detail);

export const notFound = (detail = "The resource does not exist or is not visible to you.") =>
  new ProblemError(404, "not-found", "Not found", detail);

export const conflict = (
  slug: string,
  title: string,
  detail: string,
  extensions?: Record<string, unknown>,
) => new ProblemError(409, slug, title, detail, { extensions });

export function validationProblem(errors: FieldError[]): ProblemError {
  return new ProblemError(
    422,
    "validation",
    "Invalid request body",
    "One or more fields are invalid; see errors.",
    { extensions: { errors } },
  );
}
