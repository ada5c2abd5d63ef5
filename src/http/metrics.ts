import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The process's Prometheus registry, served at /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const requests = new Counter({
  name: "admit_http_requests_total",
  help: "HTTP requests by method, route template and status.",
  labelNames: ["method", "route", "status"],
  registers: [registry],
});

const latency = new Histogram({
  name: "admit_http_request_duration_seconds",
  help: "HTTP request latency in seconds by method and route template.",
  labelNames: ["method", "route"],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const idempotentReplays = new Counter({
  name: "admit_idempotent_replays_total",
  help: "Responses replayed from a stored idempotency record.",
  registers: [registry],
});

export const actorStates = new Gauge({
  name: "admit_jobs",
  help: "Actors by kind and state, sampled when /metrics is read.",
  labelNames: ["kind", "state"],
  registers: [registry],
});

export const breakerOpen = new Gauge({
  name: "admit_mail_breaker_open",
  help: "1 while the mail transport's circuit breaker is open or half-open, else 0.",
  labelNames: ["transport"],
  registers: [registry],
});

export const deliveryAttempts = new Gauge({
  name: "admit_delivery_attempts",
  help: "Recorded mail delivery attempts by outcome, sampled when /metrics is read.",
  labelNames: ["outcome"],
  registers: [registry],
});

export function recordRequest(method: string, route: string, status: number, seconds: number) {
  requests.inc({ method, route, status: String(status) });
  latency.observe({ method, route }, seconds);
}
