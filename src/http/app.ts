import { Elysia, ValidationError } from "elysia";
import type { Logger } from "../log.ts";
import { isBusyError } from "../store/db.ts";
import type { Services } from "../service.ts";
import { requestIdOf, setRequestId, type RawBody } from "./context.ts";
import { recordRequest } from "./metrics.ts";
import {
  ProblemError,
  problemResponse,
  problemType,
  validationProblem,
} from "./problem.ts";
import { fieldErrors, queryProblem } from "./validation.ts";
import { authRoutes } from "./routes/auth.ts";
import { eventRoutes } from "./routes/events.ts";
import { registrationRoutes } from "./routes/registrations.ts";
import { operationRoutes } from "./routes/operations.ts";
import { adminRoutes } from "./routes/admin.ts";
import { checkinRoutes } from "./routes/checkins.ts";

/** Seconds a client should wait before retrying when the store was busy. */
const BUSY_RETRY_AFTER_S = 1;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function tooLarge(limit: number) {
  return new ProblemError(
    413,
    "payload-too-large",
    "Payload too large",
    `The request body must be at most ${limit} bytes.`,
  );
}

/**
 * Reads the body as text, stopping as soon as it passes the size limit, and
 * hands it on unparsed: each route's gate parses it after authentication.
 */
async function readBody(request: Request, limit: number): Promise<RawBody | { raw?: never }> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);

  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body !== null) {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk);
    }
  }

  const type = request.headers.get("content-type") ?? "";
  if (size > 0 && !JSON_TYPE.test(type)) return {};
  return { raw: Buffer.concat(chunks).toString("utf8") };
}

/** Maps any error to its problem response; unexpected ones are logged with the request id. */
function errorResponse(
  log: Logger,
  code: unknown,
  error: unknown,
  request: Request,
  path: string,
): Response {
  const requestId = requestIdOf(request);

  // Elysia wraps whatever a parse hook throws in a ParseError, with the original as cause.
  const thrown = code === "PARSE" && error instanceof Error ? error.cause : error;
  if (thrown instanceof ProblemError) {
    return problemResponse(thrown.problem, thrown.headers);
  }
  if (error instanceof ValidationError) {
    const errors = fieldErrors(error.all);
    const problem = error.type === "query" ? queryProblem(errors) : validationProblem(errors);
    return problemResponse(problem.problem);
  }
  if (code === "PARSE") {
    return problemResponse({
      type: problemType("invalid-json"),
      title: "Bad request",
      status: 400,
      detail: "The request body could not be parsed.",
    });
  }
  if (code === "NOT_FOUND") {
    return problemResponse({
      type: problemType("not-found"),
      title: "Not found",
      status: 404,
      detail: "No route matches this method and path.",
    });
  }
  if (isBusyError(error)) {
    log.warn({ requestId, path }, "store busy; asked the client to retry");
    return problemResponse(
      {
        type: problemType("busy"),
        title: "Service busy",
        status: 503,
        detail: "The service is busy; retry after the given delay.",
      },
      { "retry-after": String(BUSY_RETRY_AFTER_S) },
    );
  }

  log.error({ err: error, requestId, path }, "request failed");
  return problemResponse({
    type: problemType("internal"),
    title: "Internal server error",
    status: 500,
    detail: "An unexpected error occurred. Quote the request id when reporting it.",
    request_id: requestId,
  });
}

/** Builds the HTTP application on top of the running services. */
export function createApp(services: Services) {
  const log = services.log;
  const started = new WeakMap<Request, number>();
  const errorStatus = new WeakMap<Request, number>();

  return new Elysia({ normalize: false })
    .onRequest(({ request }) => {
      setRequestId(request, crypto.randomUUID());
      started.set(request, performance.now());
    })
    .onParse(({ request }) => readBody(request, services.config.bodyLimitBytes))
    .onError(({ code, error, request, path }) => {
      const response = errorResponse(log, code, error, request, path);
      errorStatus.set(request, response.status);
      return response;
    })
    .onAfterResponse(({ request, route, set, responseValue }) => {
      const status = errorStatus.get(request) ??
        (responseValue instanceof Response
          ? responseValue.status
          : typeof set.status === "number" ? set.status : 200);
      const ms = performance.now() - (started.get(request) ?? performance.now());
      recordRequest(request.method, route || "unmatched", status, ms / 1000);
      log.info(
        {
          requestId: requestIdOf(request),
          method: request.method,
          route: route || undefined,
          status,
          ms: Math.round(ms * 10) / 10,
        },
        "request handled",
      );
    })
    .use(operationRoutes(services))
    .use(authRoutes(services))
    .use(eventRoutes(services))
    .use(registrationRoutes(services))
    .use(adminRoutes(services))
    .use(checkinRoutes(services));
}

export type App = ReturnType<typeof createApp>;
