import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createLogger } from "../src/log.ts";
import { claimEffects } from "../src/store/actors.ts";
import { startTestService, type TestService } from "./support/harness.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

interface Job {
  id: string;
  registration_id: string;
  state: string;
  machine_state: string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  message_id: string;
  created_at: string;
  updated_at: string;
}

interface Attempt {
  attempt: number;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  outcome: string;
  class: string | null;
  reply_code: number | null;
  reply: string | null;
  error_code: string | null;
  message: string | null;
}

type JobDetail = Job & { attempt_history: Attempt[] };

let smtp: FakeSmtp;
let svc: TestService;
let admin: { id: string; token: string };
let student: { id: string; token: string };
let organizer: { id: string; token: string };
let eventId: string;
let registrations = 0;

beforeEach(async () => {
  smtp = await startSmtpServer();
  svc = await startTestService({ SMTP_URL: smtp.url });
  admin = await svc.user("admin");
  student = await svc.user("student");
  organizer = await svc.user("organizer");
  eventId = await svc.event(organizer.token);
});

afterEach(async () => {
  await svc.close();
  await smtp.close();
});

/** Registers a new attendee as the organizer, runs the runtime until idle, returns the job. */
async function deliver(): Promise<Job> {
  registrations++;
  // Jobs list in creation order; a distinct time per job makes that order known.
  svc.clock.advance(1);
  const response = await svc.request("POST", `/events/${eventId}/registrations`, {
    token: organizer.token,
    headers: { "idempotency-key": `reg-${registrations}` },
    body: { name: `Attendee ${registrations}`, email: `attendee${registrations}@example.com` },
  });
  expect(response.status).toBe(201);
  const registrationId = ((await response.json()) as { id: string }).id;

  await svc.services.dispatcher.runUntilIdle();
  const jobs = await listAll();
  const job = jobs.find((j) => j.registration_id === registrationId);
  if (job === undefined) throw new Error(`no job for registration ${registrationId}`);
  return job;
}

async function listAll(query = ""): Promise<Job[]> {
  const response = await svc.request("GET", `/admin/jobs${query}`, { token: admin.token });
  expect(response.status).toBe(200);
  return ((await response.json()) as { items: Job[] }).items;
}

async function detail(id: string): Promise<JobDetail> {
  const response = await svc.request("GET", `/admin/jobs/${id}`, { token: admin.token });
  expect(response.status).toBe(200);
  return (await response.json()) as JobDetail;
}

function retry(id: string, headers: Record<string, string> = {}) {
  return svc.request("POST", `/admin/jobs/${id}/retry`, { token: admin.token, headers });
}

function discard(id: string) {
  return svc.request("DELETE", `/admin/jobs/${id}`, { token: admin.token });
}

async function deadJob(): Promise<Job> {
  smtp.setFault({ stage: "rcpt", action: "reply", code: 550, message: "No such user" });
  return deliver();
}

describe("admin jobs", () => {
  test("550 dead-letters after one attempt", async () => {
    const job = await deadJob();

    expect(job.state).toBe("dead");
    expect(job.attempts).toBe(1);
    expect(job.last_error).toContain("No such user");
    expect(job.message_id).toMatch(/^<.+@admit>$/);
    expect(smtp.messages).toHaveLength(0);

    const full = await detail(job.id);
    expect(full.attempt_history).toHaveLength(1);
    const [attempt] = full.attempt_history;
    expect(attempt?.attempt).toBe(1);
    expect(attempt?.outcome).toBe("failed");
    expect(attempt?.class).toBe("permanent");
    expect(attempt?.reply_code).toBe(550);
    expect(attempt?.reply).toContain("No such user");
    expect(attempt?.message).toContain("No such user");
    expect(attempt?.duration_ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(attempt?.started_at ?? "")).toBe(svc.clock.now());
  });

  test("list filters by state", async () => {
    const dead = await deadJob();
    smtp.setFault({ stage: "rcpt", action: "reply", code: 451, message: "Try later" });
    const retrying = await deliver();
    const sent = await deliver();
    const redriven = await deadJob();
    expect((await retry(redriven.id)).status).toBe(202);

    const ids = async (state: string) => (await listAll(`?state=${state}`)).map((j) => j.id);
    expect(await ids("dead")).toEqual([dead.id]);
    expect(await ids("retrying")).toEqual([retrying.id]);
    expect(await ids("scheduled")).toEqual([redriven.id]);
    expect(await ids("running")).toEqual([]);

    const all = await listAll();
    expect(all.map((j) => j.id)).toEqual([dead.id, retrying.id, sent.id, redriven.id]);
    expect(all.map((j) => j.state)).toEqual(["dead", "retrying", "sent", "scheduled"]);
    expect(all[1]?.next_attempt_at).not.toBeNull();

    // Another process holding the effect's lease makes the job running until the lease lapses.
    const { db } = svc.services;
    const leaseUntil = svc.clock.now() + 60_000;
    db.transaction(() => claimEffects(db, "other-process", svc.clock.now(), leaseUntil, 10))
      .immediate();
    expect(await ids("running")).toEqual([redriven.id]);
    expect(await ids("scheduled")).toEqual([]);

    svc.clock.advance(60_001);
    expect(await ids("scheduled")).toEqual([redriven.id]);
    expect(await ids("running")).toEqual([]);
  });

  test("list pages with a cursor", async () => {
    const jobs = [await deliver(), await deliver(), await deliver()];

    const first = await svc.request("GET", "/admin/jobs?limit=2", { token: admin.token });
    const page1 = (await first.json()) as { items: Job[]; next: string | null };
    expect(page1.items.map((j) => j.id)).toEqual([jobs[0]!.id, jobs[1]!.id]);
    expect(page1.next).not.toBeNull();

    const second = await svc.request(
      "GET",
      `/admin/jobs?limit=2&cursor=${encodeURIComponent(page1.next ?? "")}`,
      { token: admin.token },
    );
    const page2 = (await second.json()) as { items: Job[]; next: string | null };
    expect(page2.items.map((j) => j.id)).toEqual([jobs[2]!.id]);
    expect(page2.next).toBeNull();
  });

  test("list rejects a bad state or cursor", async () => {
    const badState = await svc.request("GET", "/admin/jobs?state=sent", { token: admin.token });
    expect(badState.status).toBe(422);

    const badCursor = await svc.request("GET", "/admin/jobs?cursor=not-a-cursor", {
      token: admin.token,
    });
    expect(badCursor.status).toBe(400);
    expect(badCursor.headers.get("content-type")).toBe("application/problem+json");
  });

  test("redrive keeps the Message-ID", async () => {
    const lines: Record<string, unknown>[] = [];
    svc.services.log = createLogger("info", {
      write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    const job = await deadJob();

    const response = await retry(job.id);
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as Job;
    expect(accepted.state).toBe("scheduled");
    expect(accepted.attempts).toBe(0);
    expect(accepted.message_id).toBe(job.message_id);

    await svc.services.dispatcher.runUntilIdle();
    const full = await detail(job.id);
    expect(full.state).toBe("sent");
    expect(full.attempts).toBe(1);
    expect(full.message_id).toBe(job.message_id);
    expect(full.attempt_history.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "failed"],
      [2, "sent"],
    ]);

    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]?.messageId).toBe(job.message_id);

    const registration = await svc.request("GET", `/registrations/${job.registration_id}`, {
      token: admin.token,
    });
    expect(((await registration.json()) as { ticket: { status: string } }).ticket.status)
      .toBe("sent");

    const logged = lines.find((l) => l.msg === "job redriven");
    expect(logged?.jobId).toBe(job.id);
    expect(logged?.registrationId).toBe(job.registration_id);
    expect(logged?.userId).toBe(admin.id);
  });

  test("redrive replays under one Idempotency-Key", async () => {
    const job = await deadJob();

    const first = await retry(job.id, { "idempotency-key": "redrive-1" });
    const second = await retry(job.id, { "idempotency-key": "redrive-1" });

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.text()).toBe(await first.text());
    expect((await retry(job.id)).status).toBe(409);
  });

  test("discard ends a dead job", async () => {
    const job = await deadJob();

    const response = await discard(job.id);
    expect(response.status).toBe(200);
    expect(((await response.json()) as Job).state).toBe("discarded");

    await svc.services.dispatcher.runUntilIdle();
    expect((await detail(job.id)).state).toBe("discarded");
    expect(smtp.messages).toHaveLength(0);
    expect((await retry(job.id)).status).toBe(409);
    expect((await discard(job.id)).status).toBe(409);
  });

  test("retry of a sent job is 409", async () => {
    const job = await deliver();
    expect(job.state).toBe("sent");

    const response = await retry(job.id);
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { type: string; state: string };
    expect(problem.type).toEndWith("/job-not-dead");
    expect(problem.state).toBe("sent");

    expect((await discard(job.id)).status).toBe(409);
    expect((await detail(job.id)).state).toBe("sent");
  });

  test("retry of a retrying job is 409", async () => {
    smtp.setFault({ stage: "rcpt", action: "reply", code: 451 });
    const job = await deliver();
    expect(job.state).toBe("retrying");

    expect((await retry(job.id)).status).toBe(409);
    expect((await discard(job.id)).status).toBe(409);
  });

  test("unknown job is 404", async () => {
    const id = crypto.randomUUID();
    const get = await svc.request("GET", `/admin/jobs/${id}`, { token: admin.token });
    expect(get.status).toBe(404);
    expect((await retry(id)).status).toBe(404);
    expect((await discard(id)).status).toBe(404);
  });

  test("non-admins get 403", async () => {
    const job = await deadJob();
    const calls: [string, string][] = [
      ["GET", "/admin/jobs"],
      ["GET", `/admin/jobs/${job.id}`],
      ["POST", `/admin/jobs/${job.id}/retry`],
      ["DELETE", `/admin/jobs/${job.id}`],
    ];

    for (const token of [student.token, organizer.token]) {
      for (const [method, path] of calls) {
        const response = await svc.request(method, path, { token });
        expect(response.status).toBe(403);
        expect(response.headers.get("www-authenticate")).toContain("insufficient_scope");
      }
    }
    const anonymous = await svc.request("GET", "/admin/jobs");
    expect(anonymous.status).toBe(401);
    expect((await detail(job.id)).state).toBe("dead");
  });
});
