import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beginRequest, sweepExpiredKeys } from "../src/store/idempotency.ts";
import { MAX_DELIVERIES_PER_HOUR } from "../src/store/registrations.ts";
import { fingerprint, parseIdempotencyKey } from "../src/http/idempotency.ts";
import { startTestService, type TestService } from "./support/harness.ts";
import { listen, type Listening } from "./support/socket.ts";

let svc: TestService;
let server: Listening;
let student: { id: string; email: string; token: string };
let eventId: string;

beforeEach(async () => {
  svc = await startTestService();
  server = listen(svc.app);
  const admin = await svc.user("admin");
  student = await svc.user("student");
  eventId = await svc.event(admin.token, 10);
});

afterEach(async () => {
  await server.stop();
  await svc.close();
});

function register(key: string | null, body: unknown = {}, token = student.token, event = eventId) {
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
  };
  if (key !== null) headers["idempotency-key"] = key;
  return fetch(`${server.url}/events/${event}/registrations`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function registrationCount(): Promise<number> {
  const row = svc.services.db
    .query<{ n: number }, [string]>(
      `SELECT count(*) AS n FROM registrations WHERE event_id = ?`,
    )
    .get(eventId);
  return row?.n ?? 0;
}

function outboxFiles(): string[] {
  try {
    return readdirSync(join(svc.dataDir, "outbox")).filter((f) => f.endsWith(".eml"));
  } catch {
    return [];
  }
}

describe("idempotent registration", () => {
  test("replay returns the stored response", async () => {
    const first = await register("key-1", { name: "Ada" });
    const firstBody = await first.text();
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();

    const again = await register("key-1", { name: "Ada" });
    expect(again.status).toBe(201);
    expect(await again.text()).toBe(firstBody);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(again.headers.get("content-type")).toContain("application/json");
    expect(await registrationCount()).toBe(1);
  });

  test("key order and whitespace do not change the fingerprint", async () => {
    const first = await register("key-2", '{"name":"Ada","email":"' + student.email + '"}');
    expect(first.status).toBe(201);

    const reordered = await register(
      "key-2",
      `{ "email" : "${student.email}",\n  "name": "Ada" }`,
    );
    expect(reordered.status).toBe(201);
    expect(reordered.headers.get("idempotent-replayed")).toBe("true");
  });

  test("same key with another body is 422", async () => {
    expect((await register("key-3", { name: "Ada" })).status).toBe(201);

    const changed = await register("key-3", { name: "Grace" });
    expect(changed.status).toBe(422);
    expect(changed.headers.get("content-type")).toContain("application/problem+json");
    const problem = (await changed.json()) as { type: string };
    expect(problem.type).toEndWith("idempotency-key-reused");
    expect(await registrationCount()).toBe(1);
  });

  test("quoted and bare forms are one key", async () => {
    const bare = await register("abc-123", {});
    expect(bare.status).toBe(201);

    const quoted = await register('"abc-123"', {});
    expect(quoted.status).toBe(201);
    expect(quoted.headers.get("idempotent-replayed")).toBe("true");
  });

  test("two users with one key stay apart", async () => {
    const other = await svc.user("student");
    const mine = await register("shared-key", {});
    const theirs = await register("shared-key", {}, other.token);

    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get("idempotent-replayed")).toBeNull();
    const a = (await mine.json()) as { id: string };
    const b = (await theirs.json()) as { id: string };
    expect(a.id).not.toBe(b.id);
    expect(await registrationCount()).toBe(2);
  });

  test("business outcomes are stored and replayed", async () => {
    const admin = await svc.user("admin");
    const tiny = await svc.event(admin.token, 1);
    const other = await svc.user("student");
    expect((await register("fill", {}, other.token, tiny)).status).toBe(201);

    const full = await register("full-key", {}, student.token, tiny);
    expect(full.status).toBe(409);
    const fullBody = await full.text();

    const missing = await register("missing-key", {}, student.token, crypto.randomUUID());
    expect(missing.status).toBe(404);
    const replayMissing = await register("missing-key", {}, student.token, crypto.randomUUID());
    // Another event id is another request: a different fingerprint.
    expect(replayMissing.status).toBe(422);

    const replay = await register("full-key", {}, student.token, tiny);
    expect(replay.status).toBe(409);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.text()).toBe(fullBody);
  });
});

describe("idempotency key syntax", () => {
  const invalid: [string, string | null][] = [
    ["missing", null],
    ["empty", ""],
    ["over 255 characters", "k".repeat(256)],
    ["non-ASCII", "schlüssel"],
    ["inner space", "two words"],
    ["unterminated quote", '"abc'],
    ["empty quoted string", '""'],
  ];

  for (const [name, key] of invalid) {
    test(`${name} key is 400`, async () => {
      const response = await register(key, {});
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect(await registrationCount()).toBe(0);
    });
  }

  test("255 characters is accepted", async () => {
    expect((await register("k".repeat(255), {})).status).toBe(201);
  });

  test("parser unescapes quoted strings", () => {
    expect(parseIdempotencyKey('"a\\"b"')).toBe('a"b');
    expect(parseIdempotencyKey("plain")).toBe("plain");
    expect(parseIdempotencyKey(null)).toBeNull();
  });
});

describe("idempotency under concurrency and failure", () => {
  test("50 concurrent requests make one registration", async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => register("storm", { name: "Ada" })),
    );
    const statuses = responses.map((r) => r.status);

    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    for (const response of responses) {
      if (response.status === 409) expect(response.headers.get("retry-after")).not.toBeNull();
    }
    const created = responses.filter(
      (r) => r.status === 201 && r.headers.get("idempotent-replayed") === null,
    );
    expect(created.length).toBe(1);
    expect(await registrationCount()).toBe(1);

    await svc.services.dispatcher.runUntilIdle();
    expect(outboxFiles().length).toBe(1);
  });

  test("a 500 leaves the key free for the retry", async () => {
    svc.services.db.run(
      `CREATE TEMP TRIGGER fail_registration BEFORE INSERT ON registrations
       BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
    );
    const failed = await register("flaky", { name: "Ada" });
    expect(failed.status).toBe(500);
    const problem = (await failed.json()) as { request_id?: string; detail: string };
    expect(problem.request_id).toBeString();
    expect(problem.detail).not.toContain("injected");

    svc.services.db.run(`DROP TRIGGER fail_registration`);
    const retried = await register("flaky", { name: "Ada" });
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect(await registrationCount()).toBe(1);
  });

  test("in-flight key is 409 until its lock expires", async () => {
    const route = "/events/:id/registrations";
    const body = { name: "Ada" };
    // A process that claimed the key and then crashed.
    await beginRequest(
      svc.services.db,
      {
        principal: student.id,
        key: "orphan",
        fingerprint: fingerprint("POST", route, `/events/${eventId}/registrations`, body),
      },
      svc.clock.now(),
      svc.services.config.idempotencyLockS * 1000,
      svc.services.config.idempotencyTtlS * 1000,
    );

    const blocked = await register("orphan", body);
    expect(blocked.status).toBe(409);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await registrationCount()).toBe(0);

    svc.clock.advance(svc.services.config.idempotencyLockS * 1000 + 1);
    const takenOver = await register("orphan", body);
    expect(takenOver.status).toBe(201);
    const replay = await register("orphan", body);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await registrationCount()).toBe(1);
  });

  test("expired key runs anew and is swept", async () => {
    const first = await register("old-key", {});
    const { id } = (await first.json()) as { id: string };
    const cancel = await fetch(`${server.url}/registrations/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${student.token}` },
    });
    expect(cancel.status).toBe(200);

    svc.clock.advance(svc.services.config.idempotencyTtlS * 1000 + 1);
    // The token expired with the clock; log in again.
    const token = await svc.login(student.email);
    const again = await register("old-key", {}, token);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(((await again.json()) as { id: string }).id).not.toBe(id);

    svc.clock.advance(svc.services.config.idempotencyTtlS * 1000 + 1);
    expect(await sweepExpiredKeys(svc.services.db, svc.clock.now())).toBeGreaterThan(0);
  });

  test("rejected requests are not stored", async () => {
    const invalid = await register("validate-me", { name: 42 });
    expect(invalid.status).toBe(422);
    const forbidden = await register("validate-me", { email: "someone@example.com" });
    expect(forbidden.status).toBe(403);

    const ok = await register("validate-me", {});
    expect(ok.status).toBe(201);
    expect(ok.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("idempotent cancel and resend", () => {
  test("cancel replays and frees one seat", async () => {
    const created = (await (await register("c1", {})).json()) as { id: string };
    const cancel = (key: string) =>
      fetch(`${server.url}/registrations/${created.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${student.token}`, "idempotency-key": key },
      });

    const first = await cancel("cancel-1");
    expect(first.status).toBe(200);
    const replay = await cancel("cancel-1");
    expect(replay.headers.get("idempotent-replayed")).toBe("true");

    const event = await svc.request("GET", `/events/${eventId}`, { token: student.token });
    expect(((await event.json()) as { seats_left: number }).seats_left).toBe(10);
  });

  test("resend requires a key and sends once per key", async () => {
    const created = (await (await register("r1", {})).json()) as { id: string };
    await svc.services.dispatcher.runUntilIdle();
    expect(outboxFiles().length).toBe(1);

    const resend = (key: string | null) => {
      const headers: Record<string, string> = { authorization: `Bearer ${student.token}` };
      if (key !== null) headers["idempotency-key"] = key;
      return fetch(`${server.url}/registrations/${created.id}/resend`, { method: "POST", headers });
    };

    expect((await resend(null)).status).toBe(400);
    expect((await resend("resend-1")).status).toBe(202);
    const replay = await resend("resend-1");
    expect(replay.status).toBe(202);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");

    await svc.services.dispatcher.runUntilIdle();
    // One original mail and one resend, each with its own Message-ID.
    expect(outboxFiles().length).toBe(2);
  });
});

describe("resend limit", () => {
  test("resends beyond the hourly limit are 429", async () => {
    const created = (await (await register("limit-1", {})).json()) as { id: string };
    const resend = (key: string) =>
      fetch(`${server.url}/registrations/${created.id}/resend`, {
        method: "POST",
        headers: { authorization: `Bearer ${student.token}`, "idempotency-key": key },
      });

    // Before the first mail is rendered its delivery does not exist yet.
    await svc.services.dispatcher.runUntilIdle();
    for (let i = 1; i < MAX_DELIVERIES_PER_HOUR; i++) {
      expect((await resend(`limit-resend-${i}`)).status).toBe(202);
      await svc.services.dispatcher.runUntilIdle();
    }

    const limited = await resend("limit-over");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);

    svc.clock.advance(3_600_001);
    const token = await svc.login(student.email);
    const later = await fetch(`${server.url}/registrations/${created.id}/resend`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "idempotency-key": "limit-over" },
    });
    expect(later.status).toBe(202);
    expect(later.headers.get("idempotent-replayed")).toBeNull();
  });
});
