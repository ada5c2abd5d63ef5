import { afterEach, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startTestService, type TestService } from "./support/harness.ts";

// The request waits out the store's busy_timeout (5 s) before it gives up.
setDefaultTimeout(30_000);

let svc: TestService;
let other: Database;

beforeEach(async () => {
  svc = await startTestService();
  other = new Database(join(svc.dataDir, "admit.sqlite"));
});

afterEach(async () => {
  other.close();
  await svc.close();
});

test("locked store answers 503 with Retry-After", async () => {
  const admin = await svc.user("admin");
  const eventId = await svc.event(admin.token, 10);

  // Another process holds the write lock for longer than busy_timeout.
  other.run("BEGIN IMMEDIATE");
  const locked = await svc.request("POST", `/events/${eventId}/registrations`, {
    token: admin.token,
    body: { name: "Ada", email: "ada@example.com" },
    headers: { "idempotency-key": "busy-1" },
  });
  other.run("ROLLBACK");

  expect(locked.status).toBe(503);
  expect(locked.headers.get("retry-after")).toBe("1");
  expect(locked.headers.get("content-type")).toContain("application/problem+json");

  const retried = await svc.request("POST", `/events/${eventId}/registrations`, {
    token: admin.token,
    body: { name: "Ada", email: "ada@example.com" },
    headers: { "idempotency-key": "busy-1" },
  });
  expect(retried.status).toBe(201);
  expect(retried.headers.get("idempotent-replayed")).toBeNull();
});
