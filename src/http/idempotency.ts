import { createHash } from "node:crypto";
import type { Services } from "../service.ts";
import {
  beginRequest,
  releaseKey,
  type IdempotencyScope,
  type StoredResponse,
} from "../store/idempotency.ts";
import type { Idempotent } from "../store/registrations.ts";
import type { Principal } from "./guard.ts";
import { idempotentReplays } from "./metrics.ts";
import { ProblemError, badRequest } from "./problem.ts";

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const MAX_KEY_LENGTH = 255;

const VISIBLE_ASCII = /^[\x21-\x7E]+$/;

/**
 * Parses an Idempotency-Key header: 1 to 255 visible ASCII characters, bare
 * or as a structured-field string (`"abc"` and `abc` are the same key).
 * Returns null when the header is absent; throws 400 when it is malformed.
 */
export function parseIdempotencyKey(header: string | null): string | null {
  if (header === null) return null;

  let key = header.trim();
  if (key.startsWith('"')) {
    const quoted = /^"((?:[^"\\]|\\["\\])*)"$/.exec(key);
    if (quoted === null) throw invalidKey();
    key = quoted[1]!.replace(/\\(["\\])/g, "$1");
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !VISIBLE_ASCII.test(key)) {
    throw invalidKey();
  }
  return key;
}

function invalidKey() {
  return badRequest(
    "invalid-idempotency-key",
    `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters, ` +
      "bare or as a quoted string.",
  );
}

/** Serialises JSON with object keys sorted, so key order and whitespace do not matter. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * Fingerprint of a request: method, route template, the concrete path and the
 * canonical body. The path is included so that one key reused for another
 * event is a mismatch, not a replay of the other event's response.
 */
export function fingerprint(method: string, route: string, path: string, body: unknown): string {
  return createHash("sha256")
    .update(`${method} ${route} ${path}\n${canonicalJson(body ?? null)}`)
    .digest("base64url");
}

export function toResponse(stored: StoredResponse, replayed: boolean): Response {
  const headers = new Headers(stored.headers);
  if (replayed) headers.set("idempotent-replayed", "true");
  return new Response(stored.body, { status: stored.status, headers });
}

export interface IdempotentRequest {
  request: Request;
  principal: Principal;
  route: string;
  body: unknown;
  required: boolean;
}

/**
 * Runs a state-changing command under the request's Idempotency-Key. The
 * command stores its response itself, inside the transaction of its effect.
 * When it throws (5xx, or a 4xx that must not be stored) the key is released
 * so the client can retry.
 */
export async function runIdempotent(
  services: Services,
  input: IdempotentRequest,
  command: (idempotent: Idempotent | null) => Promise<StoredResponse>,
): Promise<Response> {
  const key = parseIdempotencyKey(input.request.headers.get(IDEMPOTENCY_HEADER));
  if (key === null) {
    if (input.required) {
      throw badRequest(
        "missing-idempotency-key",
        "This request requires an Idempotency-Key header.",
      );
    }
    return toResponse(await command(null), false);
  }

  const { config, db, clock } = services;
  const scope: IdempotencyScope = {
    principal: input.principal.id,
    key,
    fingerprint: fingerprint(
      input.request.method,
      input.route,
      new URL(input.request.url).pathname,
      input.body,
    ),
  };
  const begun = await beginRequest(
    db,
    scope,
    clock.now(),
    config.idempotencyLockS * 1000,
    config.idempotencyTtlS * 1000,
  );

  if (begun.kind === "replay") {
    idempotentReplays.inc();
    return toResponse(begun.response, true);
  }
  if (begun.kind === "mismatch") {
    throw new ProblemError(
      422,
      "idempotency-key-reused",
      "Idempotency key reused",
      "This Idempotency-Key was already used for a different request.",
    );
  }
  if (begun.kind === "in_flight") {
    throw new ProblemError(
      409,
      "request-in-flight",
      "Request in flight",
      "A request with this Idempotency-Key is still being processed; retry later.",
      { headers: { "retry-after": String(begun.retryAfterS) } },
    );
  }

  try {
    return toResponse(await command({ scope, ttlMs: config.idempotencyTtlS * 1000 }), false);
  } catch (err) {
    await releaseKey(db, scope).catch((releaseErr: unknown) => {
      services.log.warn({ err: releaseErr }, "idempotency key could not be released");
    });
    throw err;
  }
}

/** Builds a storable JSON response: status, the headers a replay repeats, and the body. */
export function jsonStored(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): StoredResponse {
  return {
    status,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}

export function problemStored(error: ProblemError): StoredResponse {
  return {
    status: error.problem.status,
    headers: { "content-type": "application/problem+json", ...error.headers },
    body: JSON.stringify(error.problem),
  };
}
