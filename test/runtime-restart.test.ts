import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sendMailHandler } from "../actors/effects.ts";
import { silentLogger } from "../src/log.ts";
import { LEASE_MARGIN_MS } from "../src/runtime/dispatcher.ts";
import * as sql from "../src/store/actors.ts";
import { listAttempts } from "../src/store/deliveries.ts";
import { ticketView } from "../src/store/tickets.ts";
import { effectDeps, startTestService, type TestService } from "./support/harness.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

// Each test renders real PDFs and talks to a real SMTP server.
setDefaultTimeout(30_000);

let smtp: FakeSmtp;
let svc: TestService;
let env: Record<string, string>;

beforeEach(async () => {
  smtp = await startSmtpServer();
  env = { SMTP_URL: smtp.url, SMTP_TIMEOUT_MS: "2000" };
  svc = await startTestService(env);
});

afterEach(async () => {
  await svc.close();
  await smtp.close();
});

/** Simulates a process crash and starts a new one on the same data and clock. */
async function restart(): Promise<void> {
  await svc.crash();
  svc = await startTestService(env, { clock: svc.clock, dataDir: svc.dataDir });
}

/** Registers a new student for a new event and returns the registration and ticket ids. */
async function register(): Promise<{ id: string; ticketId: string; email: string }> {
  const organizer = await svc.user("organizer");
  const student = await svc.user("student");
  const eventId = await svc.event(organizer.token);
  const response = await svc.request("POST", `/events/${eventId}/registrations`, {
    token: student.token,
    body: {},
    headers: { "idempotency-key": crypto.randomUUID() },
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { id: string; ticket_id: string };
  return { id: body.id, ticketId: body.ticket_id, email: student.email };
}

function ticket(ticketId: string) {
  return ticketView(svc.services.db, ticketId);
}

function effects() {
  return svc.services.db
    .query<{ id: string; name: string; claims: number; lease_owner: string | null }, []>(
      `SELECT id, name, claims, lease_owner FROM effects`,
    )
    .all();
}

/** Claims every due effect for an owner that then dies without reporting back. */
function claimAsCrashedProcess(): sql.EffectRow[] {
  const { db, clock, config } = svc.services;
  const now = clock.now();
  return db
    .transaction(() =>
      sql.claimEffects(db, "crashed", now, now + config.effectTimeoutMs + LEASE_MARGIN_MS, 10),
    )
    .immediate();
}

/**
 * Runs a claimed effect with the service's real handler and never reports
 * back, like a process that did the work and died before its commit.
 */
async function runWithoutReporting(row: sql.EffectRow): Promise<void> {
  const { services } = svc;
  const handler = sendMailHandler(effectDeps(services));
  const event = await handler.run(JSON.parse(row.params), {
    effectId: row.id,
    actorId: row.actor_id,
    claims: row.claims,
    signal: AbortSignal.timeout(10_000),
    log: silentLogger(),
  });
  expect(event.type).toBe("MAIL.SENT");
}

describe("runtime restart", () => {
  test("backoff timer survives a restart", async () => {
    smtp.setFault({ stage: "mail", action: "reply", code: 451, message: "try later" });
    const registration = await register();
    await svc.services.dispatcher.runUntilIdle();

    const before = await ticket(registration.ticketId);
    expect(before.status).toBe("retrying");
    expect(before.attempts).toBe(1);
    expect(before.next_attempt_at).not.toBeNull();
    expect(smtp.messages).toHaveLength(0);

    await restart();
    const dueAt = Date.parse(before.next_attempt_at!);
    svc.clock.current = dueAt - 1;
    await svc.services.dispatcher.runUntilIdle();
    expect(smtp.messages).toHaveLength(0);

    svc.clock.current = dueAt;
    await svc.services.dispatcher.runUntilIdle();
    const after = await ticket(registration.ticketId);

    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.to).toEqual([registration.email]);
    expect(smtp.messages[0]!.messageId).toBe(before.message_id!);
    expect(after.status).toBe("sent");
    expect(after.attempts).toBe(2);
  });

  test("crashed effect runs again after its lease", async () => {
    const registration = await register();
    await svc.services.dispatcher.runUntilIdle();
    expect(smtp.messages).toHaveLength(1);

    // A second delivery whose sendMail effect a dying process claims.
    const resend = await svc.request("POST", `/registrations/${registration.id}/resend`, {
      token: await svc.login(registration.email),
      headers: { "idempotency-key": crypto.randomUUID() },
    });
    expect(resend.status).toBe(202);
    const { delivery_id: deliveryId } = (await resend.json()) as { delivery_id: string };
    const claimed = claimAsCrashedProcess();
    expect(claimed.map((row) => row.name)).toEqual(["sendMail"]);

    await restart();
    await svc.services.dispatcher.runUntilIdle();
    expect(smtp.messages).toHaveLength(1);
    expect(effects()).toHaveLength(1);

    const { effectTimeoutMs } = svc.services.config;
    svc.clock.advance(effectTimeoutMs + LEASE_MARGIN_MS);
    await svc.services.dispatcher.runUntilIdle();
    expect(smtp.messages).toHaveLength(1);

    svc.clock.advance(1);
    await svc.services.dispatcher.runUntilIdle();
    const view = await ticket(registration.ticketId);

    expect(smtp.messages).toHaveLength(2);
    expect(smtp.messages[1]!.messageId).toBe(view.message_id!);
    expect(view.delivery_id).toBe(deliveryId);
    expect(view.status).toBe("sent");
    // The claim lost in the crash counts as a spent attempt.
    expect(view.attempts).toBe(2);
    expect((await listAttempts(svc.services.db, deliveryId)).map((a) => a.attempt)).toEqual([2]);
    expect(effects()).toHaveLength(0);
  });

  test("mail sent before a crash is sent again with its Message-ID", async () => {
    const registration = await register();
    await svc.services.dispatcher.runUntilIdle();
    expect(smtp.messages).toHaveLength(1);

    // A new delivery whose mail a process sends and then dies before its commit.
    const resend = await svc.request("POST", `/registrations/${registration.id}/resend`, {
      token: await svc.login(registration.email),
      headers: { "idempotency-key": crypto.randomUUID() },
    });
    expect(resend.status).toBe(202);
    const [claimed] = claimAsCrashedProcess();
    await runWithoutReporting(claimed!);
    expect(smtp.messages).toHaveLength(2);

    await restart();
    svc.clock.advance(svc.services.config.effectTimeoutMs + LEASE_MARGIN_MS + 1);
    await svc.services.dispatcher.runUntilIdle();
    const view = await ticket(registration.ticketId);

    expect(smtp.messages).toHaveLength(3);
    expect(smtp.messages[1]!.messageId).toBe(view.message_id!);
    expect(smtp.messages[2]!.messageId).toBe(view.message_id!);
    expect(smtp.messages[0]!.messageId).not.toBe(view.message_id!);
    expect(view.status).toBe("sent");
    expect(view.attempts).toBe(2);
    expect(effects()).toEqual([]);
  });
});
