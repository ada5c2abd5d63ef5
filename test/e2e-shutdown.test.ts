/**
 * Graceful shutdown under load: SIGTERM turns readiness to 503, the process
 * exits 0 within its deadline, and the next start delivers what was left. A
 * second signal ends a shutdown that waits on a hung effect at once.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import {
  createWorld,
  listEventRegistrations,
  register,
  seedStudents,
  type User,
} from "./support/e2e-api.ts";
import {
  baseEnv,
  call,
  e2eDataDir,
  logsWith,
  waitFor,
} from "./support/e2e.ts";
import { startServer, type ServerProcess } from "./support/process.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

const TEST_TIMEOUT_MS = 45_000;
const SHUTDOWN_TIMEOUT_MS = 3_000;
/** Time allowed past SHUTDOWN_TIMEOUT_MS for closing the store and exiting. */
const EXIT_MARGIN_MS = 3_000;

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

/** Resolves with the exit code, or with null once `timeoutMs` has passed. */
function exitWithin(server: ServerProcess, timeoutMs: number): Promise<number | null> {
  const timeout = Bun.sleep(timeoutMs).then(() => null);
  return Promise.race([server.proc.exited, timeout]);
}

function waitForLog(server: ServerProcess, msg: string, timeoutMs: number) {
  return waitFor(async () => (logsWith(server.logs, msg).length > 0 ? true : undefined), {
    timeoutMs,
    intervalMs: 10,
    condition: `log "${msg}"`,
  });
}

describe("e2e shutdown", () => {
  test("SIGTERM drains and next start delivers", async () => {
    smtp = await startSmtpServer();
    dataDir = e2eDataDir();
    const students = await seedStudents(dataDir, 100);
    const env = baseEnv({
      SMTP_URL: smtp.url,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
    const server = await startServer(dataDir, env);
    servers.push(server);
    const world = await createWorld(server.url, { capacity: 200 });

    // Two clients register students one after another until the server is gone.
    const confirmed = new Map<string, User>();
    const statuses: number[] = [];
    let next = 0;
    let running = true;
    const client = async () => {
      while (running && next < students.length) {
        const student = students[next++] as User;
        try {
          const r = await register(server.url, student.token, world.event.id, `k-${student.id}`);
          statuses.push(r.status);
          if (r.status === 201) confirmed.set(r.body.id, student);
          await Bun.sleep(60);
        } catch {
          // Refused or reset once the server stops listening.
          await Bun.sleep(20);
        }
      }
    };
    const clients = [client(), client()];

    // Signal once some tickets went out and more are on their way.
    await waitFor(
      async () => (confirmed.size >= 15 && (smtp?.messages.length ?? 0) >= 3 ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 5, condition: "15 registrations and 3 mails before the signal" },
    );
    const signalledAt = Date.now();
    server.proc.kill("SIGTERM");
    await waitForLog(server, "shutting down", 2_000);

    // Readiness is 503 from the signal on, or the listener is already closed.
    let readiness: number | "refused";
    try {
      readiness = (await call(server.url, "GET", "/readyz", { timeoutMs: 2_000 })).status;
    } catch {
      readiness = "refused";
    }
    expect([503, "refused"]).toContain(readiness);

    const code = await exitWithin(server, SHUTDOWN_TIMEOUT_MS + EXIT_MARGIN_MS);
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS + EXIT_MARGIN_MS);
    running = false;
    await Promise.all(clients);

    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(logsWith(server.logs, "shutdown complete")).toHaveLength(1);
    const sentBeforeRestart = smtp.messages.length;
    // The stream ran up to the signal, so some tickets were still undelivered.
    expect(sentBeforeRestart).toBeLessThan(confirmed.size);

    const restarted = await startServer(dataDir, env);
    servers.push(restarted);
    await waitFor(
      async () => {
        const rows = await listEventRegistrations(
          restarted.url,
          world.organizer.token,
          world.event.id,
        );
        const sent = rows.filter((r) => confirmed.has(r.id) && r.ticket.status === "sent");
        return sent.length === confirmed.size ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, condition: "every confirmed ticket to be sent" },
    );
    await smtp.waitForMessages(confirmed.size, 5_000);
    // A graceful stop finishes or releases each send, so no mail goes out twice.
    const recipients = smtp.messages.map((m) => m.envelope.to[0]);
    expect(recipients).toHaveLength(confirmed.size);
    for (const student of confirmed.values()) expect(recipients).toContain(student.email);
  }, TEST_TIMEOUT_MS);

  test("second signal exits at once", async () => {
    smtp = await startSmtpServer({ recordRejected: true });
    dataDir = e2eDataDir();
    const [student] = await seedStudents(dataDir, 1);
    if (student === undefined) throw new Error("no student seeded");
    const server = await startServer(
      dataDir,
      baseEnv({
        SMTP_URL: smtp.url,
        SMTP_TIMEOUT_MS: "30000",
        EFFECT_TIMEOUT_MS: "30000",
        SHUTDOWN_TIMEOUT_MS: "20000",
      }),
    );
    servers.push(server);
    const world = await createWorld(server.url);
    smtp.setFault({ stage: "data", action: "hang" });

    const created = await register(server.url, student.token, world.event.id, "hang-1");
    expect(created.status).toBe(201);
    // The hang has begun once the message body reached the SMTP server.
    await waitFor(async () => (smtp?.rejected.length === 1 ? true : undefined), {
      timeoutMs: 10_000,
      condition: "the mail to hang at DATA",
    });

    server.proc.kill("SIGTERM");
    await waitForLog(server, "shutting down", 2_000);
    // The first signal alone waits for the hung send.
    expect(await exitWithin(server, 500)).toBeNull();

    const secondAt = Date.now();
    server.proc.kill("SIGINT");
    const code = await exitWithin(server, 2_000);
    expect(code).not.toBeNull();
    expect(code).not.toBe(0);
    expect(Date.now() - secondAt).toBeLessThan(2_000);
    expect(logsWith(server.logs, "second signal; exiting now")).toHaveLength(1);
  }, TEST_TIMEOUT_MS);
});
