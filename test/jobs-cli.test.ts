import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { closeServices } from "../src/service.ts";
import { openDatabase } from "../src/store/db.ts";
import { findJob } from "../src/store/jobs.ts";
import { startTestService, tempDir } from "./support/harness.ts";
import { startServer } from "./support/process.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

const ROOT = join(import.meta.dir, "..");

interface Prepared {
  dataDir: string;
  dead: string[];
  sent: string;
  messageIds: Record<string, string>;
}

let smtp: FakeSmtp;
let prepared: Prepared;
let dataDir: string;

/**
 * Builds a data directory with two dead deliveries (550 at RCPT) and one sent
 * one, through the in-process service, and closes that service before any
 * CLI run touches the directory.
 */
async function prepare(): Promise<Prepared> {
  const svc = await startTestService({ SMTP_URL: smtp.url });
  const organizer = await svc.user("organizer");
  const eventId = await svc.event(organizer.token);

  const deliver = async (fault: boolean) => {
    if (fault) smtp.setFault({ stage: "rcpt", action: "reply", code: 550 });
    svc.clock.advance(1);
    const response = await svc.request("POST", `/events/${eventId}/registrations`, {
      token: organizer.token,
      headers: { "idempotency-key": crypto.randomUUID() },
      body: { name: "Grace Hopper", email: `${crypto.randomUUID()}@example.com` },
    });
    const registrationId = ((await response.json()) as { id: string }).id;
    await svc.services.dispatcher.runUntilIdle();
    const row = svc.services.db
      .query<{ id: string; message_id: string }, [string]>(
        `SELECT id, json_extract(snapshot, '$.context.messageId') AS message_id
         FROM actors WHERE kind = 'delivery' AND registration_id = ?`,
      )
      .get(registrationId);
    if (row === null) throw new Error(`no delivery for registration ${registrationId}`);
    return row;
  };

  const dead = [await deliver(true), await deliver(true)];
  const sent = await deliver(false);

  await svc.services.dispatcher.stop(0);
  await closeServices(svc.services);
  const messageIds: Record<string, string> = {};
  for (const row of [...dead, sent]) messageIds[row.id] = row.message_id;
  return { dataDir: svc.dataDir, dead: dead.map((row) => row.id), sent: sent.id, messageIds };
}

async function runCli(args: string[]) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "src", "cli.ts"), "jobs", ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

async function machineState(id: string): Promise<string | undefined> {
  const db = openDatabase(dataDir);
  try {
    return (await findJob(db, id, Date.now()))?.job.machine_state;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  prepared = await prepare();
});

afterAll(async () => {
  await smtp.close();
  rmSync(prepared.dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  dataDir = tempDir("admit-cli-");
  cpSync(prepared.dataDir, dataDir, { recursive: true });
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe("admit jobs", () => {
  test("list --json prints dead jobs", async () => {
    const { stdout, code } = await runCli(["list", "--state", "dead", "--json"]);

    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    const jobs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(jobs.map((job) => job.id)).toEqual(prepared.dead);
    for (const job of jobs) {
      expect(job.state).toBe("dead");
      expect(job.attempts).toBe(1);
      expect(job.message_id).toBe(prepared.messageIds[job.id as string]);
    }
  });

  test("list prints a table of all jobs", async () => {
    const { stdout, code } = await runCli(["list"]);

    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATE\s+ATTEMPTS\s+NEXT ATTEMPT\s+UPDATED\s+LAST ERROR$/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toStartWith(prepared.dead[0]!);
    expect(lines[1]).toContain(" dead ");
    expect(lines[3]).toStartWith(prepared.sent);
    expect(lines[3]).toContain(" sent ");
  });

  test("retry redrives one dead job", async () => {
    const [id, other] = prepared.dead;

    const { stdout, stderr, code } = await runCli(["retry", id!]);

    expect(code).toBe(0);
    expect(stdout.trim()).toBe(`redriven ${id}`);
    const logLines = stderr.trim().split("\n");
    const log = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.find((entry) => entry.msg === "job redriven")?.jobId).toBe(id);
    expect(await machineState(id!)).toBe("sending");
    expect(await machineState(other!)).toBe("dead");
  });

  test("retry reaches a running server", async () => {
    const server = await startServer(dataDir, { SMTP_URL: smtp.url });
    try {
      const before = smtp.messages.length;
      const id = prepared.dead[0]!;

      expect((await runCli(["retry", id])).code).toBe(0);

      // The server's dispatcher polls at least once a second.
      const messages = await smtp.waitForMessages(before + 1, 10_000);
      expect(messages.at(-1)?.messageId).toBe(prepared.messageIds[id]);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(await machineState(prepared.dead[0]!)).toBe("sent");
  });

  test("retry --all redrives every dead job", async () => {
    const { stdout, code } = await runCli(["retry", "--all"]);

    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines).toEqual([...prepared.dead.map((id) => `redriven ${id}`), "2 dead jobs redriven"]);
    for (const id of prepared.dead) expect(await machineState(id)).toBe("sending");
    expect(await machineState(prepared.sent)).toBe("sent");

    const again = await runCli(["retry", "--all"]);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe("0 dead jobs redriven");
  });

  test("discard ends a dead job", async () => {
    const id = prepared.dead[1]!;

    const { stdout, code } = await runCli(["discard", id]);

    expect(code).toBe(0);
    expect(stdout.trim()).toBe(`discarded ${id}`);
    expect(await machineState(id)).toBe("discarded");
  });

  test("not dead or unknown exits 1", async () => {
    const cases = [
      ["retry", prepared.sent],
      ["discard", prepared.sent],
      ["retry", crypto.randomUUID()],
      ["discard", crypto.randomUUID()],
    ];
    for (const args of cases) {
      const { code, stderr } = await runCli(args);
      expect(code).toBe(1);
      expect(stderr).toContain(`admit jobs ${args[0]}:`);
    }
    expect(await machineState(prepared.sent)).toBe("sent");
  });

  test("usage errors exit 2", async () => {
    const cases = [
      [],
      ["frobnicate"],
      ["list", "--state", "sent"],
      ["list", "--nope"],
      ["list", "extra"],
      ["retry"],
      ["retry", "a", "b"],
      ["retry", "--all", prepared.dead[0]!],
      ["discard"],
    ];
    for (const args of cases) {
      const { code, stderr } = await runCli(args);
      expect(code).toBe(2);
      expect(stderr).toContain("usage:");
    }
    for (const id of prepared.dead) expect(await machineState(id)).toBe("dead");
  });
});
