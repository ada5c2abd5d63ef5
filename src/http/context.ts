import type { Role } from "../store/users.ts";
import type { Services } from "../service.ts";
import { authenticate, requireRole, type Principal } from "./guard.ts";
import { ProblemError, badRequest, validationProblem } from "./problem.ts";

/**
 * Request-scoped state, keyed by the Request object so it needs no mutable
 * context type: the request id, the authenticated principal and the raw body.
 */
const requestIds = new WeakMap<Request, string>();
const principals = new WeakMap<Request, Principal>();

/** Marker the body parser returns so the JSON is parsed only after authentication. */
export interface RawBody {
  readonly raw: string;
}

export function setRequestId(request: Request, id: string): void {
  requestIds.set(request, id);
}

export function requestIdOf(request: Request): string {
  return requestIds.get(request) ?? "unknown";
}

/** Returns the principal a gate authenticated; a route without a gate has none. */
export function principalOf(request: Request): Principal {
  const principal = principals.get(request);
  if (principal === undefined) throw new Error("route reads a principal but has no auth gate");
  return principal;
}

export function maybePrincipalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

/** Route options of endpoints that need no token, marked so in the API description. */
export const PUBLIC = { detail: { security: [] } };

export interface GateOptions {
  /** Require a valid Bearer token. */
  auth: boolean;
  /** Allowed roles; any role when omitted. */
  roles?: readonly Role[];
  /** The route takes a JSON object body. */
  body?: boolean;
}

interface TransformContext {
  request: Request;
  body: unknown;
}

/**
 * Builds a route's transform hook, which Elysia runs before schema
 * validation. It authenticates first and parses the JSON body second, so an
 * anonymous caller gets 401 and learns nothing about the body schema.
 */
export function gate(services: Services, options: GateOptions) {
  return async (context: TransformContext): Promise<void> => {
    if (options.auth) {
      const principal = await authenticate(services, context.request);
      if (options.roles !== undefined) requireRole(principal, options.roles);
      principals.set(context.request, principal);
    }
    if (options.body) context.body = parseJsonBody(context.body);
  };
}

const notAnObject = () => validationProblem([{ pointer: "", detail: "must be a JSON object" }]);

function parseJsonBody(body: unknown): unknown {
  if (body === undefined || body === null || body === "") throw notAnObject();
  if (typeof (body as RawBody).raw !== "string") {
    throw new ProblemError(
      415,
      "unsupported-media-type",
      "Unsupported media type",
      "Send the request body as application/json.",
    );
  }

  const raw = (body as RawBody).raw;
  // An empty body is a missing object, not malformed JSON.
  if (raw.trim() === "") throw notAnObject();

  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest("invalid-json", "The request body is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw notAnObject();
  return parsed;
}
