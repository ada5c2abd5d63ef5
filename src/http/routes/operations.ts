import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import type { Services } from "../../service.ts";
import { PUBLIC } from "../context.ts";
import { countActorStates, countAttemptOutcomes } from "../../store/stats.ts";
import { actorStates, breakerOpen, deliveryAttempts, registry } from "../metrics.ts";

/** Health, readiness, metrics, the ticket verification key and the API description. */
export function operationRoutes(services: Services) {
  return new Elysia()
    .use(
      openapi({
        path: "/docs",
        specPath: "/openapi.json",
        documentation: {
          info: {
            title: "admit",
            version: "0.1.0",
            description:
              "Registers students for events and delivers QR-code PDF tickets. " +
              "Authenticate with `Authorization: Bearer <token>` from POST /auth/login. " +
              "State-changing requests accept an `Idempotency-Key` header (1-255 visible " +
              "ASCII characters, bare or quoted); registration and resend require it. A " +
              "repeat with the same key and body returns the stored response with " +
              "`Idempotent-Replayed: true`; the same key with a different body is 422; " +
              "while the first request runs, 409 with Retry-After. Keys are scoped to " +
              "the authenticated user and expire after IDEMPOTENCY_TTL_S seconds. " +
              "POST /auth/signup and POST /auth/login take no key, because they have " +
              "no authenticated user to scope it to. " +
              "Errors are RFC 9457 problem details.",
          },
          components: {
            securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
          },
          security: [{ bearer: [] }],
        },
      }),
    )
    .get("/healthz", () => ({ status: "ok" }), PUBLIC)
    .get("/readyz", ({ set }) => {
      const breaker = services.breaker.snapshot();
      let store = "ok";
      try {
        services.db.query("SELECT 1").get();
      } catch {
        store = "unavailable";
      }
      let status = "ready";
      if (services.draining) status = "draining";
      else if (store !== "ok") status = "unavailable";
      set.status = status === "ready" ? 200 : 503;

      return {
        status,
        store,
        mail: {
          transport: services.transport.name,
          breaker: breaker.state,
          consecutive_failures: breaker.consecutiveFailures,
          retry_at: breaker.retryAt === null ? null : new Date(breaker.retryAt).toISOString(),
        },
        effects_running: services.dispatcher.runningCount(),
      };
    }, PUBLIC)
    .get("/metrics", async () => {
      actorStates.reset();
      for (const row of await countActorStates(services.db)) {
        actorStates.set({ kind: row.kind, state: row.state }, row.count);
      }
      deliveryAttempts.reset();
      for (const row of await countAttemptOutcomes(services.db)) {
        deliveryAttempts.set({ outcome: row.outcome }, row.count);
      }
      breakerOpen.set(
        { transport: services.transport.name },
        services.breaker.state() === "closed" ? 0 : 1,
      );
      return new Response(await registry.metrics(), {
        headers: { "content-type": registry.contentType },
      });
    }, PUBLIC)
    .get(
      "/ticket-key",
      () => ({
        keys: [{ ...services.keys.publicJwk, kid: services.keys.kid, use: "sig", alg: "EdDSA" }],
      }),
      PUBLIC,
    );
}
