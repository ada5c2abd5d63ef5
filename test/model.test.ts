import { expect, test } from "bun:test";
import fc from "fast-check";
import { renderHandler, sendMailHandler } from "../actors/effects.ts";
import { silentLogger } from "../src/log.ts";
import { Dispatcher, LEASE_MARGIN_MS } from "../src/runtime/dispatcher.ts";
import * as sql from "../src/store/actors.ts";
import { ticketView } from "../src/store/tickets.ts";
import { effectDeps, startTestService, type TestService } from "./support/harness.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

/**
 * Model-based test of the whole service: random sequences of registrations,
 * cancellations, replayed requests, crashes, clock jumps and mail faults,
 * checked against a small model after every step and once mail is healthy.
 * Set MODEL_SEED to replay a seed that fast-check printed.
 */

const CAPACITY = 2;
const RUNS = 15;
const MAX_COMMANDS = 14;

/** Transient faults per command, at most, kept far below the attempt budget. */
const MAX_FAULTS = 4;
const MAX_ATTEMPTS = 100;
const RETRY_CAP_MS = 60_000;

/** Rounds of clock jump plus runUntilIdle that healthy mail gets to catch up. */
const SETTLE_ROUNDS = 40;

const ENV = {
  RETRY_BASE_MS: "1000",
  RETRY_CAP_MS: String(RETRY_CAP_MS),
  RETRY_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
  SMTP_TIMEOUT_MS: "2000",
  // Clock jumps must not expire tokens or idempotency records mid-run.
  ACCESS_TOKEN_TTL_S: "86400",
  IDEMPOTENCY_TTL_S: String(30 * 86_400),
};

interface SentRequest {
  key: string;
  body: { name: string; email: string };
  status: number;
  registrationId: string | null;
}

interface Model {
  /** Confirmed registrations: id to attendee email. */
  confirmed: Map<string, string>;
  /** Cancelled registrations: attendee email to mails received when cancelled. */
  cancelled: Map<string, number>;
  requests: SentRequest[];
  permanentFaults: boolean;
  attendees: number;
}

interface Real {
  svc: TestService;
  smtp: FakeSmtp;
  env: Record<string, string>;
  token: string;
  eventId: string;
}

type ModelCommand = fc.AsyncCommand<Model, Real>;

function mailsTo(real: Real, email: string) {
  return real.smtp.messages.filter((mail) => mail.to.includes(email));
}

async function post(real: Real, request: Omit<SentRequest, "status" | "registrationId">) {
  return real.svc.request("POST", `/events/${real.eventId}/registrations`, {
    token: real.token,
    body: request.body,
    headers: { "idempotency-key": request.key },
  });
}

/** Checks what must hold after every step. */
async function checkInvariants(model: Model, real: Real): Promise<void> {
  const { db } = real.svc.services;
  const rows = db
    .query<{ id: string; status: string; attendee_email: string }, [string]>(
      `SELECT id, status, attendee_email FROM registrations WHERE event_id = ?`,
    )
    .all(real.eventId);
  const confirmed = rows.filter((row) => row.status === "confirmed").map((row) => row.id);

  expect(confirmed.length).toBeLessThanOrEqual(CAPACITY);
  expect(confirmed.sort()).toEqual([...model.confirmed.keys()].sort());
  expect(rows).toHaveLength(model.confirmed.size + model.cancelled.size);

  const response = await real.svc.request("GET", `/events/${real.eventId}`, { token: real.token });
  const event = (await response.json()) as { seats_left: number };
  expect(event.seats_left).toBe(CAPACITY - model.confirmed.size);

  for (const [email, mailsWhenCancelled] of model.cancelled) {
    expect(mailsTo(real, email)).toHaveLength(mailsWhenCancelled);
  }
  for (const row of rows) {
    const ids = new Set(mailsTo(real, row.attendee_email).map((mail) => mail.messageId));
    expect(ids.size).toBeLessThanOrEqual(1);
  }
}

class Register implements ModelCommand {
  check = () => true;

  async run(model: Model, real: Real) {
    model.attendees++;
    const email = `attendee${model.attendees}@example.com`;
    const request = { key: `register-${model.attendees}`, body: { name: "Ada", email } };
    const response = await post(real, request);
    const body = (await response.json()) as { id?: string; type?: string };

    if (model.confirmed.size < CAPACITY) {
      expect(response.status).toBe(201);
      model.confirmed.set(body.id!, email);
    } else {
      expect(response.status).toBe(409);
      expect(body.type).toContain("event-full");
    }
    model.requests.push({ ...request, status: response.status, registrationId: body.id ?? null });
    await checkInvariants(model, real);
  }

  toString = () => "register";
}

class Cancel implements ModelCommand {
  constructor(readonly pick: number) {}

  check = (model: Readonly<Model>) => model.confirmed.size > 0;

  async run(model: Model, real: Real) {
    const [id, email] = [...model.confirmed][this.pick % model.confirmed.size]!;
    const response = await real.svc.request("DELETE", `/registrations/${id}`, {
      token: real.token,
      headers: { "idempotency-key": `cancel-${id}` },
    });

    expect(response.status).toBe(200);
    model.confirmed.delete(id);
    model.cancelled.set(email, mailsTo(real, email).length);
    await checkInvariants(model, real);
  }

  toString = () => `cancel(${this.pick})`;
}

class Replay implements ModelCommand {
  constructor(readonly pick: number) {}

  check = (model: Readonly<Model>) => model.requests.length > 0;

  async run(model: Model, real: Real) {
    const first = model.requests[this.pick % model.requests.length]!;
    const response = await post(real, first);
    const body = (await response.json()) as { id?: string };

    expect(response.status).toBe(first.status);
    expect(response.headers.get("idempotent-replayed")).toBe("true");
    expect(body.id ?? null).toBe(first.registrationId);
    await checkInvariants(model, real);
  }

  toString = () => `replay(${this.pick})`;
}

/**
 * How a process dies. A `plain` crash comes between steps. A `claim` crash
 * comes after the process rendered and claimed the due mail effects, and a
 * `send-then-die` crash after it also sent those mails, before its commit.
 */
type CrashMode = "plain" | "claim" | "send-then-die";

class CrashAndRestart implements ModelCommand {
  constructor(readonly mode: CrashMode) {}

  check = () => true;

  async run(model: Model, real: Real) {
    if (this.mode !== "plain") {
      await renderOnly(real);
      const { db, clock, config } = real.svc.services;
      const now = clock.now();
      const lease = now + config.effectTimeoutMs + LEASE_MARGIN_MS;
      const claimed = db
        .transaction(() => sql.claimEffects(db, "crashed", now, lease, 10))
        .immediate();
      if (this.mode === "send-then-die") {
        for (const row of claimed) await runWithoutReporting(real, row);
      }
    }

    await real.svc.crash();
    real.svc = await startTestService(real.env, {
      clock: real.svc.clock,
      dataDir: real.svc.dataDir,
    });
    await checkInvariants(model, real);
  }

  toString = () => `crash(${this.mode})`;
}

/** Applies due events and renders, leaving the due mail effects unclaimed. */
async function renderOnly(real: Real): Promise<void> {
  const { services } = real.svc;
  const renderer = new Dispatcher({
    db: services.db,
    engine: services.engine,
    clock: services.clock,
    handlers: { render: renderHandler(effectDeps(services)) },
    log: silentLogger(),
    effectTimeoutMs: services.config.effectTimeoutMs,
    concurrency: 4,
  });
  await renderer.runUntilIdle();
  await renderer.stop(0);
}

/** Runs a claimed mail effect and drops its result, like a process that died. */
async function runWithoutReporting(real: Real, row: sql.EffectRow): Promise<void> {
  const handler = sendMailHandler(effectDeps(real.svc.services));
  await handler.run(JSON.parse(row.params), {
    effectId: row.id,
    actorId: row.actor_id,
    claims: row.claims,
    signal: AbortSignal.timeout(10_000),
    log: silentLogger(),
  });
}

class AdvanceClock implements ModelCommand {
  constructor(readonly ms: number) {}

  check = () => true;

  async run(model: Model, real: Real) {
    real.svc.clock.advance(this.ms);
    await checkInvariants(model, real);
  }

  toString = () => `advance(${this.ms})`;
}

class RunUntilIdle implements ModelCommand {
  check = () => true;

  async run(model: Model, real: Real) {
    await real.svc.services.dispatcher.runUntilIdle();
    await checkInvariants(model, real);
  }

  toString = () => "runUntilIdle";
}

class FailMail implements ModelCommand {
  constructor(
    readonly count: number,
    readonly permanent: boolean,
  ) {}

  check = () => true;

  async run(model: Model, real: Real) {
    const code = this.permanent ? 550 : 451;
    real.smtp.setFault(
      Array.from({ length: this.count }, () => ({ stage: "mail" as const, action: "reply" as const, code })),
    );
    if (this.permanent && this.count > 0) model.permanentFaults = true;
    await checkInvariants(model, real);
  }

  toString = () => `failMail(${this.count}, ${this.permanent ? 550 : 451})`;
}

// Some commands appear more than once, to weight them up.
const COMMANDS = [
  fc.constant(new Register()),
  fc.constant(new Register()),
  fc.constant(new Register()),
  fc.nat().map((pick) => new Cancel(pick)),
  fc.nat().map((pick) => new Replay(pick)),
  fc.constantFrom<CrashMode>("plain", "claim", "send-then-die").map((m) => new CrashAndRestart(m)),
  fc.constantFrom<CrashMode>("claim", "send-then-die").map((m) => new CrashAndRestart(m)),
  fc.integer({ min: 0, max: 10 * 60_000 }).map((ms) => new AdvanceClock(ms)),
  fc.constant(new RunUntilIdle()),
  fc.constant(new RunUntilIdle()),
  fc.tuple(fc.integer({ min: 1, max: MAX_FAULTS }), fc.boolean())
    .map(([count, permanent]) => new FailMail(count, permanent)),
];

/** Lets mail recover, then checks that every confirmed ticket reached the end. */
async function settle(model: Model, real: Real): Promise<void> {
  real.smtp.setFault([]);
  const { config } = real.svc.services;
  const step = Math.max(RETRY_CAP_MS, config.breakerCooldownMs, config.effectTimeoutMs) +
    LEASE_MARGIN_MS + 1000;

  const statuses = async () => {
    const result = new Map<string, string>();
    for (const id of model.confirmed.keys()) {
      const row = real.svc.services.db
        .query<{ ticket_id: string }, [string]>(`SELECT ticket_id FROM registrations WHERE id = ?`)
        .get(id)!;
      result.set(id, (await ticketView(real.svc.services.db, row.ticket_id)).status);
    }
    return result;
  };

  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    await real.svc.services.dispatcher.runUntilIdle();
    const open = [...(await statuses()).values()].filter((s) => s !== "sent" && s !== "dead");
    if (open.length === 0) break;
    real.svc.clock.advance(step);
  }
  await checkInvariants(model, real);

  for (const [id, status] of await statuses()) {
    const email = model.confirmed.get(id)!;
    if (status === "dead") {
      expect(model.permanentFaults).toBe(true);
      continue;
    }
    expect(status).toBe("sent");
    const mails = mailsTo(real, email);
    expect(mails.length).toBeGreaterThanOrEqual(1);
    const ticketId = real.svc.services.db
      .query<{ ticket_id: string }, [string]>(`SELECT ticket_id FROM registrations WHERE id = ?`)
      .get(id)!.ticket_id;
    const view = await ticketView(real.svc.services.db, ticketId);
    for (const mail of mails) expect(mail.messageId).toBe(view.message_id!);
  }
}

async function startReal(): Promise<Real> {
  const smtp = await startSmtpServer();
  const env = { ...ENV, SMTP_URL: smtp.url };
  const svc = await startTestService(env);
  const organizer = await svc.user("organizer");
  const eventId = await svc.event(organizer.token, CAPACITY);
  return { svc, smtp, env, token: organizer.token, eventId };
}

const seed = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);

test("registration service matches its model", async () => {
  await fc.assert(
    fc.asyncProperty(fc.commands(COMMANDS, { maxCommands: MAX_COMMANDS, size: "max" }), async (commands) => {
      const real = await startReal();
      const model: Model = {
        confirmed: new Map(),
        cancelled: new Map(),
        requests: [],
        permanentFaults: false,
        attendees: 0,
      };
      try {
        await fc.asyncModelRun(() => ({ model, real }), commands);
        await settle(model, real);
      } finally {
        await real.svc.close();
        await real.smtp.close();
      }
    }),
    {
      numRuns: RUNS,
      // Stops before the test's own timeout, so a failure still prints its seed.
      interruptAfterTimeLimit: 45_000,
      ...(seed === undefined ? {} : { seed }),
    },
  );
}, 55_000);
