/**
 * Crash recovery: a client streams registrations while the server is killed
 * with SIGKILL and restarted at random moments. Every confirmed registration
 * must end with its ticket sent, no attendee may be registered twice, and a
 * mail sent twice must carry the same Message-ID both times.
 *
 * The defaults suit CI. A longer run, for example:
 *   CRASH_ROUNDS=15 CRASH_REGISTRATIONS=300 ./node_modules/.bin/bun test test/e2e-crash.test.ts
 * CRASH_SEED repeats the kill moments of an earlier run; the seed is printed.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import {
  createWorld,
  listEventRegistrations,
  register,
  seedStudents,
  type RegistrationView,
  type User,
} from "./support/e2e-api.ts";
import {
  baseEnv,
  e2eDataDir,
  logsWith,
  waitFor,
} from "./support/e2e.ts";
import { seededRandom } from "./support/harness.ts";
import { startServer, type ServerProcess } from "./support/process.ts";
import { startSmtpServer, type FakeSmtp, type ReceivedMail } from "./support/smtp.ts";

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
  return value;
}

const ROUNDS = envInt("CRASH_ROUNDS", 3);
const REGISTRATIONS = envInt("CRASH_REGISTRATIONS", 60);
const SEED = envInt("CRASH_SEED", Date.now() % 2 ** 31);

/** Effects the server runs at once; a kill can interrupt at most this many sends. */
const EFFECT_CONCURRENCY = 8;
/** How long one registration may take to get a final response, restarts included. */
const REQUEST_DEADLINE_MS = 30_000;
/** After the stream: a killed effect's lease (2 s deadline + 5 s margin) and the sends. */
const SETTLE_TIMEOUT_MS = 40_000;
const TEST_TIMEOUT_MS = 20_000 + SETTLE_TIMEOUT_MS + ROUNDS * 3_000 + REGISTRATIONS * 300;

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

interface Outcome {
  student: User;
  status: number;
  registrationId: string | undefined;
  /** Requests whose response was lost to a connection error. */
  lost: number;
}

/** A server that is killed and replaced; `url` always names the latest one. */
class Restarter {
  kills = 0;
  private current: ServerProcess;

  constructor(
    first: ServerProcess,
    private readonly dir: string,
    private readonly env: Record<string, string>,
  ) {
    this.current = first;
  }

  get url(): string {
    return this.current.url;
  }

  async killAndRestart(): Promise<void> {
    await this.current.kill();
    this.kills++;
    this.current = await startServer(this.dir, this.env);
    servers.push(this.current);
  }
}

/**
 * Registers one student, repeating the request under the same key after a
 * lost response, a 5xx or a request still in flight, until a final response.
 */
async function registerUntilAnswered(
  target: Restarter,
  student: User,
  eventId: string,
  key: string,
): Promise<Outcome> {
  const deadline = Date.now() + REQUEST_DEADLINE_MS;
  let lost = 0;
  while (Date.now() < deadline) {
    let response;
    try {
      response = await register(target.url, student.token, eventId, key, {}, 5_000);
    } catch {
      lost++;
      await Bun.sleep(100);
      continue;
    }
    if (response.status >= 500) {
      await Bun.sleep(100);
      continue;
    }
    if (response.status === 409 && response.body.type?.endsWith("request-in-flight") === true) {
      const seconds = Number(response.headers.get("retry-after") ?? "1");
      await Bun.sleep(Math.min(2_000, Math.max(100, seconds * 1000)));
      continue;
    }
    return { student, status: response.status, registrationId: response.body.id, lost };
  }
  throw new Error(`registration with key ${key} got no final response in ${REQUEST_DEADLINE_MS} ms`);
}

describe("e2e crash", () => {
  test("registrations survive SIGKILL", async () => {
    console.log(`e2e crash: seed ${SEED}, ${ROUNDS} kills, ${REGISTRATIONS} registrations`);
    const random = seededRandom(SEED);
    smtp = await startSmtpServer();
    dataDir = e2eDataDir();
    const students = await seedStudents(dataDir, REGISTRATIONS);
    const env = baseEnv({
      SMTP_URL: smtp.url,
      // Short, so a killed effect's lease expires within the settle time.
      EFFECT_TIMEOUT_MS: "2000",
      SMTP_TIMEOUT_MS: "1000",
      // A key left in flight by a killed process is taken over after this.
      IDEMPOTENCY_LOCK_S: "2",
    });
    const first = await startServer(dataDir, env);
    servers.push(first);
    const target = new Restarter(first, dataDir, env);
    const world = await createWorld(first.url, { capacity: REGISTRATIONS + 10 });
    const eventId = world.event.id;

    const killer = (async () => {
      for (let round = 0; round < ROUNDS; round++) {
        await Bun.sleep(200 + Math.floor(random() * 1300));
        await target.killAndRestart();
      }
    })();

    const streamStarted = Date.now();
    const outcomes: Outcome[] = [];
    for (const [i, student] of students.entries()) {
      outcomes.push(await registerUntilAnswered(target, student, eventId, `crash-${i}`));
      await Bun.sleep(40);
    }
    const streamMs = Date.now() - streamStarted;
    await killer;
    expect(target.kills).toBe(ROUNDS);

    // Every registration got a 201, whether first-hand or replayed.
    expect(outcomes.filter((o) => o.status !== 201).map((o) => o.status)).toEqual([]);
    const lost = outcomes.reduce((sum, o) => sum + o.lost, 0);

    const settleStarted = Date.now();
    let pending: RegistrationView[] = [];
    const settled = await waitFor(
      async () => {
        const rows = await listEventRegistrations(target.url, world.organizer.token, eventId);
        pending = rows.filter((r) => r.ticket.status !== "sent");
        return pending.length === 0 && rows.length >= REGISTRATIONS ? rows : undefined;
      },
      {
        timeoutMs: SETTLE_TIMEOUT_MS,
        intervalMs: 250,
        condition: () => {
          const counts = Object.entries(Object.groupBy(pending, (r) => r.ticket.status));
          const byStatus = counts.map(([status, rows]) => `${status} ${rows?.length ?? 0}`);
          const renderFailures = servers.flatMap((s) => logsWith(s.logs, "ticket render failed"));
          return (
            `every ticket to be sent; not sent: ${byStatus.join(", ")}; ` +
            `${renderFailures.length} render failures logged`
          );
        },
      },
    );

    // No attendee registered twice, and each row is the one the client received.
    const byEmail = new Map<string, RegistrationView[]>();
    for (const row of settled) {
      byEmail.set(row.attendee.email, [...(byEmail.get(row.attendee.email) ?? []), row]);
    }
    expect(settled).toHaveLength(REGISTRATIONS);
    for (const outcome of outcomes) {
      const rows = byEmail.get(outcome.student.email) ?? [];
      expect(rows).toHaveLength(1);
      expect(rows[0]?.id).toBe(outcome.registrationId ?? "");
      expect(rows[0]?.status).toBe("confirmed");
    }

    // Every attendee got the mail; a duplicate repeats its sibling's Message-ID.
    const mailsTo = new Map<string, ReceivedMail[]>();
    await waitFor(
      async () => {
        mailsTo.clear();
        for (const mail of smtp?.messages ?? []) {
          const to = mail.envelope.to[0] ?? "";
          mailsTo.set(to, [...(mailsTo.get(to) ?? []), mail]);
        }
        return mailsTo.size >= REGISTRATIONS ? true : undefined;
      },
      { timeoutMs: 5_000, condition: "a mail for every attendee" },
    );
    for (const student of students) {
      const mails = mailsTo.get(student.email) ?? [];
      expect(mails.length).toBeGreaterThanOrEqual(1);
      expect(new Set(mails.map((m) => m.messageId)).size).toBe(1);
    }
    const messageIds = new Set(smtp.messages.map((m) => m.messageId));
    expect(messageIds.size).toBe(REGISTRATIONS);
    const duplicates = smtp.messages.length - REGISTRATIONS;
    expect(duplicates).toBeLessThanOrEqual(ROUNDS * EFFECT_CONCURRENCY);

    console.log(
      `e2e crash: ${lost} lost responses, ${duplicates} duplicate mails, ` +
        `${servers.length} server starts, stream ${streamMs} ms, ` +
        `settled in ${Date.now() - settleStarted} ms`,
    );
  }, TEST_TIMEOUT_MS);
});
