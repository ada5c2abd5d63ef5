/**
 * Mail retries against a fault-injecting SMTP server on loopback: transient
 * replies retry with the same Message-ID, permanent ones dead-letter at once,
 * timeouts retry, the breaker defers mail without spending attempts, and a
 * backoff wait survives a restart.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import {
  createWorld,
  getRegistration,
  jobsOf,
  register,
  seedStudents,
  waitForTicket,
  type AttemptView,
  type JobView,
  type RegistrationView,
  type User,
  type World,
} from "./support/e2e-api.ts";
import {
  baseEnv,
  call,
  e2eDataDir,
  expectStatus,
  logsWith,
  mapLimit,
  waitFor,
} from "./support/e2e.ts";
import { startServer, type ServerProcess } from "./support/process.ts";
import { startSmtpServer, type Fault, type FakeSmtp } from "./support/smtp.ts";

const TEST_TIMEOUT_MS = 30_000;

let servers: ServerProcess[] = [];
let smtp: FakeSmtp | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  for (const server of servers) await server.kill();
  await smtp?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  servers = [];
  smtp = undefined;
  dataDir = undefined;
});

interface Setup {
  server: ServerProcess;
  smtp: FakeSmtp;
  world: World;
  students: User[];
}

/** Starts an SMTP server and admit with `env`, and seeds `count` students. */
async function setUp(env: Record<string, string>, count = 1): Promise<Setup> {
  smtp = await startSmtpServer({ recordRejected: true });
  dataDir = e2eDataDir();
  const students = await seedStudents(dataDir, count);
  const server = await startServer(dataDir, baseEnv({ SMTP_URL: smtp.url, ...env }));
  servers.push(server);
  const world = await createWorld(server.url);
  return { server, smtp, world, students };
}

async function registerOne(setup: Setup, student: User): Promise<RegistrationView> {
  const response = await register(
    setup.server.url,
    student.token,
    setup.world.event.id,
    `key-${student.id}`,
  );
  expect(response.status).toBe(201);
  return response.body;
}

const reply = (stage: Fault["stage"], code: number): Fault => ({ stage, action: "reply", code });

describe("e2e retry", () => {
  test("transient replies then success", async () => {
    const setup = await setUp({ BREAKER_THRESHOLD: "10" });
    setup.smtp.setFault([reply("data", 451), reply("data", 421)]);
    const student = setup.students[0] as User;

    const registration = await registerOne(setup, student);
    const done = await waitForTicket(
      setup.server.url,
      student.token,
      registration.id,
      ["sent", "dead"],
      15_000,
    );

    expect(done.ticket.status).toBe("sent");
    expect(done.ticket.attempts).toBe(3);
    expect(done.ticket.last_error).toBeNull();
    const [mail] = await setup.smtp.waitForMessages(1, 5_000);
    expect(setup.smtp.messages).toHaveLength(1);
    expect(setup.smtp.rejected).toHaveLength(2);
    const ids = new Set([mail, ...setup.smtp.rejected].map((m) => m?.messageId));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^<.+@.+>$/);

    const [job] = await jobsOf(setup.server.url, setup.world.adminToken, registration.id);
    expect(job?.message_id).toBe(mail?.messageId ?? "");
    const history = await expectStatus<{ attempt_history: AttemptView[] }>(
      200,
      setup.server.url,
      "GET",
      `/admin/jobs/${job?.id}`,
      { token: setup.world.adminToken },
    );
    const attempts = history.attempt_history.map((a) => [a.attempt, a.outcome, a.reply_code]);
    expect(attempts).toEqual([
      [1, "failed", 451],
      [2, "failed", 421],
      [3, "sent", null],
    ]);

    const retries = logsWith(setup.server.logs, "mail retry scheduled");
    expect(retries).toHaveLength(2);
    for (const line of retries) {
      expect(line.deliveryId).toBe(job?.id);
      expect(line.registrationId).toBe(registration.id);
      expect(typeof line.delayMs).toBe("number");
    }
  }, TEST_TIMEOUT_MS);

  test("permanent reply dead-letters at once", async () => {
    const setup = await setUp({});
    setup.smtp.setFault(reply("rcpt", 550));
    const student = setup.students[0] as User;

    const registration = await registerOne(setup, student);
    const done = await waitForTicket(
      setup.server.url,
      student.token,
      registration.id,
      ["sent", "dead"],
      15_000,
    );

    expect(done.ticket.status).toBe("dead");
    expect(done.ticket.attempts).toBe(1);
    expect(done.ticket.last_error).not.toBeNull();
    expect(done.ticket.next_attempt_at).toBeNull();
    await Bun.sleep(500);
    expect(setup.smtp.messages).toHaveLength(0);
    const again = await getRegistration(setup.server.url, student.token, registration.id);
    expect(again.ticket.attempts).toBe(1);
  }, TEST_TIMEOUT_MS);

  test("transient until max attempts dead-letters", async () => {
    const setup = await setUp({ RETRY_MAX_ATTEMPTS: "3", BREAKER_THRESHOLD: "10" });
    setup.smtp.setFault(Array.from({ length: 6 }, () => reply("mail", 451)));
    const student = setup.students[0] as User;

    const registration = await registerOne(setup, student);
    const done = await waitForTicket(
      setup.server.url,
      student.token,
      registration.id,
      ["sent", "dead"],
      15_000,
    );

    expect(done.ticket.status).toBe("dead");
    expect(done.ticket.attempts).toBe(3);
    expect(done.ticket.last_error).not.toBeNull();
    expect(setup.smtp.messages).toHaveLength(0);

    const dead = logsWith(setup.server.logs, "mail dead-lettered");
    expect(dead).toHaveLength(1);
    expect(dead[0]?.attempts).toBe(3);
    expect(dead[0]?.registrationId).toBe(registration.id);
  }, TEST_TIMEOUT_MS);

  test("hung DATA times out then retries", async () => {
    const setup = await setUp({
      SMTP_TIMEOUT_MS: "500",
      EFFECT_TIMEOUT_MS: "1500",
      BREAKER_THRESHOLD: "10",
    });
    setup.smtp.setFault({ stage: "data", action: "hang" });
    const student = setup.students[0] as User;

    const started = Date.now();
    const registration = await registerOne(setup, student);
    const done = await waitForTicket(
      setup.server.url,
      student.token,
      registration.id,
      ["sent", "dead"],
      15_000,
    );

    expect(done.ticket.status).toBe("sent");
    expect(done.ticket.attempts).toBe(2);
    // The hang ends by a timeout, not by the test's own deadline.
    expect(Date.now() - started).toBeLessThan(10_000);
    const [mail] = await setup.smtp.waitForMessages(1, 5_000);
    expect(setup.smtp.rejected.map((m) => m.messageId)).toEqual([mail?.messageId]);
    expect(logsWith(setup.server.logs, "mail attempt failed").length).toBeGreaterThanOrEqual(1);
  }, TEST_TIMEOUT_MS);

  test("breaker holds mail without spending attempts", async () => {
    const maxAttempts = 6;
    const setup = await setUp(
      {
        BREAKER_THRESHOLD: "2",
        BREAKER_COOLDOWN_MS: "800",
        RETRY_MAX_ATTEMPTS: String(maxAttempts),
        RETRY_BASE_MS: "50",
        RETRY_CAP_MS: "200",
      },
      5,
    );
    // Far more 421s than attempts could use, so the fault lasts until the test clears it.
    setup.smtp.setFault(Array.from({ length: 200 }, () => reply("mail", 421)));

    const registrations = await mapLimit(setup.students, 5, (s) => registerOne(setup, s));
    const breaker = await waitFor(
      async () => {
        const ready = await call<{ mail: { breaker: string } }>(setup.server.url, "GET", "/readyz");
        return ready.body.mail.breaker === "open" ? ready.body.mail.breaker : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 25, condition: "the mail breaker to open" },
    );
    expect(breaker).toBe("open");

    // Hold the outage for a few cooldowns, then end it.
    await Bun.sleep(2500);
    const midway = await mapLimit(registrations, 5, (r, i) =>
      getRegistration(setup.server.url, (setup.students[i] as User).token, r.id),
    );
    for (const r of midway) {
      expect(r.ticket.status).not.toBe("dead");
      expect(r.ticket.attempts).toBeLessThan(maxAttempts);
    }
    setup.smtp.setFault([]);

    const done = await mapLimit(registrations, 5, (r, i) =>
      waitForTicket(
        setup.server.url,
        (setup.students[i] as User).token,
        r.id,
        ["sent", "dead"],
        15_000,
      ),
    );
    for (const r of done) {
      expect(r.ticket.status).toBe("sent");
      expect(r.ticket.attempts).toBeLessThanOrEqual(maxAttempts);
    }
    await setup.smtp.waitForMessages(registrations.length, 5_000);
    const changes = logsWith(setup.server.logs, "mail breaker state changed");
    expect(changes.some((entry) => entry.to === "open")).toBe(true);
    expect(changes.at(-1)?.to).toBe("closed");
    const ready = await call<{ mail: { breaker: string } }>(setup.server.url, "GET", "/readyz");
    expect(ready.body.mail.breaker).toBe("closed");
  }, TEST_TIMEOUT_MS);

  test("dead job redriven keeps Message-ID", async () => {
    const setup = await setUp({});
    setup.smtp.setFault(reply("data", 550));
    const student = setup.students[0] as User;
    const { url } = setup.server;
    const admin = setup.world.adminToken;

    const registration = await registerOne(setup, student);
    await waitForTicket(url, student.token, registration.id, ["dead"], 15_000);
    const [job] = await jobsOf(url, admin, registration.id);
    if (job === undefined) throw new Error("no job for the registration");
    expect(job.state).toBe("dead");
    await waitFor(async () => (setup.smtp.rejected.length === 1 ? true : undefined), {
      timeoutMs: 2_000,
      condition: "the rejected message to be parsed",
    });
    expect(setup.smtp.rejected[0]?.messageId).toBe(job.message_id);

    const dead = await expectStatus<{ items: JobView[] }>(200, url, "GET", "/admin/jobs?state=dead", {
      token: admin,
    });
    expect(dead.items.map((j) => j.id)).toContain(job.id);

    const retried = await call<JobView>(url, "POST", `/admin/jobs/${job.id}/retry`, {
      token: admin,
    });
    expect(retried.status).toBe(202);
    const done = await waitForTicket(url, student.token, registration.id, ["sent", "dead"], 15_000);
    expect(done.ticket.status).toBe("sent");
    const [mail] = await setup.smtp.waitForMessages(1, 5_000);
    expect(mail?.messageId).toBe(job.message_id);

    const again = await call<{ type: string }>(url, "POST", `/admin/jobs/${job.id}/retry`, {
      token: admin,
    });
    expect(again.status).toBe(409);
    expect(again.body.type).toEndWith("job-not-dead");
    const discarded = await call(url, "DELETE", `/admin/jobs/${job.id}`, { token: admin });
    expect(discarded.status).toBe(409);
    const missing = await call(url, "POST", "/admin/jobs/no-such-job/retry", { token: admin });
    expect(missing.status).toBe(404);
    const asStudent = await call(url, "GET", "/admin/jobs", { token: student.token });
    expect(asStudent.status).toBe(403);
  }, TEST_TIMEOUT_MS);

  test("dead job discarded stays unsent", async () => {
    const setup = await setUp({});
    setup.smtp.setFault(reply("rcpt", 553));
    const student = setup.students[0] as User;
    const { url } = setup.server;
    const admin = setup.world.adminToken;

    const registration = await registerOne(setup, student);
    await waitForTicket(url, student.token, registration.id, ["dead"], 15_000);
    const [job] = await jobsOf(url, admin, registration.id);
    if (job === undefined) throw new Error("no job for the registration");

    const discarded = await call<JobView>(url, "DELETE", `/admin/jobs/${job.id}`, { token: admin });
    expect(discarded.status).toBe(200);
    expect(discarded.body.state).toBe("discarded");
    const retried = await call(url, "POST", `/admin/jobs/${job.id}/retry`, { token: admin });
    expect(retried.status).toBe(409);
    await Bun.sleep(500);
    expect(setup.smtp.messages).toHaveLength(0);
    const [after] = await jobsOf(url, admin, registration.id);
    expect(after?.state).toBe("discarded");
  }, TEST_TIMEOUT_MS);

  test("backoff wait survives restart", async () => {
    // Full jitter makes one wait anywhere in [0, 5 s). With five registrations,
    // at least one is nearly always still waiting when the new process starts.
    const env = { RETRY_BASE_MS: "5000", RETRY_CAP_MS: "5000", BREAKER_THRESHOLD: "10" };
    const setup = await setUp(env, 5);
    setup.smtp.setFault(Array.from({ length: 5 }, () => reply("data", 451)));

    const registrations = await mapLimit(setup.students, 5, (s) => registerOne(setup, s));
    const tokenOf = (i: number) => (setup.students[i] as User).token;
    const waiting = await mapLimit(registrations, 5, (r, i) =>
      waitForTicket(setup.server.url, tokenOf(i), r.id, ["retrying", "sent"], 10_000),
    );
    await waitFor(async () => (setup.smtp.rejected.length === 5 ? true : undefined), {
      timeoutMs: 2_000,
      condition: "five rejected messages to be parsed",
    });
    const rejectedIds = new Map(setup.smtp.rejected.map((m) => [m.to[0], m.messageId]));

    expect(await setup.server.stop("SIGTERM")).toBe(0);
    const restarted = await startServer(dataDir as string, baseEnv({ SMTP_URL: setup.smtp.url, ...env }));
    servers.push(restarted);
    const restartedAt = Date.now();

    const dueAfterRestart = waiting.filter(
      (r) =>
        r.ticket.status === "retrying" &&
        Date.parse(r.ticket.next_attempt_at ?? "") > restartedAt,
    );
    expect(dueAfterRestart.length).toBeGreaterThanOrEqual(1);

    const done = await mapLimit(registrations, 5, (r, i) =>
      waitForTicket(restarted.url, tokenOf(i), r.id, ["sent", "dead"], 15_000),
    );
    for (const r of done) {
      expect(r.ticket.status).toBe("sent");
      expect(r.ticket.attempts).toBe(2);
    }
    const mails = await setup.smtp.waitForMessages(5, 5_000);
    for (const mail of mails) {
      const address = mail.to[0];
      expect(rejectedIds.get(address)).toBe(mail.messageId);
    }
  }, TEST_TIMEOUT_MS);
});
