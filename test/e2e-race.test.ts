/**
 * Concurrent load over real sockets: many students race for few seats, and
 * one client repeats a request under one Idempotency-Key many times at once.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  createWorld,
  listEventRegistrations,
  register,
  seedStudents,
  waitForTicket,
  type EventView,
  type User,
} from "./support/e2e-api.ts";
import {
  baseEnv,
  call,
  e2eDataDir,
  expectStatus,
} from "./support/e2e.ts";
import { startServer, type ServerProcess } from "./support/process.ts";

const TEST_TIMEOUT_MS = 45_000;
const STUDENTS = 300;
const SEATS = 50;

let server: ServerProcess | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  await server?.kill();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  server = undefined;
  dataDir = undefined;
});

function seatsLeft(url: string, token: string, eventId: string) {
  return expectStatus<EventView>(200, url, "GET", `/events/${eventId}`, { token }).then(
    (event) => event.seats_left,
  );
}

describe("e2e race", () => {
  test("seats never oversold", async () => {
    dataDir = e2eDataDir();
    const students = await seedStudents(dataDir, STUDENTS);
    server = await startServer(dataDir, baseEnv());
    const { url } = server;
    const world = await createWorld(url, { capacity: SEATS });
    const eventId = world.event.id;

    const responses = await Promise.all(
      students.map((s) => register(url, s.token, eventId, `race-${s.id}`, {}, 30_000)),
    );

    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    const created = responses.filter((r) => r.status === 201);
    const rejected = responses.filter((r) => r.status === 409);
    expect(created).toHaveLength(SEATS);
    expect(rejected).toHaveLength(STUDENTS - SEATS);
    for (const r of rejected) {
      expect(r.headers.get("content-type")).toStartWith("application/problem+json");
      expect(r.body.type).toEndWith("event-full");
    }
    expect(new Set(created.map((r) => r.body.id)).size).toBe(SEATS);
    expect(await seatsLeft(url, world.organizer.token, eventId)).toBe(0);

    const listed = await listEventRegistrations(url, world.organizer.token, eventId);
    expect(listed).toHaveLength(SEATS);
    expect(new Set(listed.map((r) => r.attendee.email)).size).toBe(SEATS);

    // Cancelling frees exactly one seat, and a student who lost the race takes it.
    const winnerIndex = responses.findIndex((r) => r.status === 201);
    const winner = students[winnerIndex] as User;
    const cancelled = responses[winnerIndex]?.body.id ?? "";
    const firstDelete = await call<{ status: string }>(url, "DELETE", `/registrations/${cancelled}`, {
      token: winner.token,
    });
    expect(firstDelete.status).toBe(200);
    expect(firstDelete.body.status).toBe("cancelled");
    expect(await seatsLeft(url, world.organizer.token, eventId)).toBe(1);

    const secondDelete = await call<{ status: string }>(url, "DELETE", `/registrations/${cancelled}`, {
      token: winner.token,
    });
    expect(secondDelete.status).toBe(200);
    expect(secondDelete.body.status).toBe("cancelled");
    expect(await seatsLeft(url, world.organizer.token, eventId)).toBe(1);

    const loser = students[responses.findIndex((r) => r.status === 409)] as User;
    const late = await register(url, loser.token, eventId, `late-${loser.id}`);
    expect(late.status).toBe(201);
    expect(await seatsLeft(url, world.organizer.token, eventId)).toBe(0);

    const lateLoser = students[responses.findLastIndex((r) => r.status === 409)] as User;
    const full = await register(url, lateLoser.token, eventId, `late-${lateLoser.id}`);
    expect(full.status).toBe(409);
    expect(full.body.type).toEndWith("event-full");
  }, TEST_TIMEOUT_MS);

  test("one key sent fifty times at once", async () => {
    dataDir = e2eDataDir();
    const [student] = await seedStudents(dataDir, 1);
    if (student === undefined) throw new Error("no student seeded");
    server = await startServer(dataDir, baseEnv());
    const { url } = server;
    const world = await createWorld(url);

    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        register(url, student.token, world.event.id, "same-key", {}, 30_000),
      ),
    );

    expect(responses.filter((r) => r.status >= 500).map((r) => r.text)).toEqual([]);
    for (const r of responses) expect([201, 409]).toContain(r.status);
    const created = responses.filter((r) => r.status === 201);
    const fresh = created.filter((r) => r.headers.get("idempotent-replayed") !== "true");
    expect(fresh).toHaveLength(1);
    const original = fresh[0]?.text;
    for (const r of created) {
      expect(r.text).toBe(original ?? "");
      expect(r.headers.get("location")).toBe(`/registrations/${r.body.id}`);
    }
    for (const r of responses.filter((r) => r.status === 409)) {
      expect(r.body.type).toEndWith("request-in-flight");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }

    const listed = await listEventRegistrations(url, world.organizer.token, world.event.id);
    expect(listed).toHaveLength(1);
    const id = listed[0]?.id ?? "";
    expect(fresh[0]?.body.id).toBe(id);

    await waitForTicket(url, student.token, id, ["sent"], 20_000);
    // Wait past the retry backoff a second delivery would need, then count mails.
    await Bun.sleep(1000);
    const mails = readdirSync(join(dataDir, "outbox")).filter((name) => name.endsWith(".eml"));
    expect(mails).toHaveLength(1);

    const replay = await register(url, student.token, world.event.id, "same-key");
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.text).toBe(original ?? "");
  }, TEST_TIMEOUT_MS);
});
