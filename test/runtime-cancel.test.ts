import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { renderHandler } from "../actors/effects.ts";
import { silentLogger } from "../src/log.ts";
import { Dispatcher, LEASE_MARGIN_MS } from "../src/runtime/dispatcher.ts";
import * as sql from "../src/store/actors.ts";
import { effectDeps, startTestService, type TestService } from "./support/harness.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

// Each test renders real PDFs and talks to a real SMTP server.
setDefaultTimeout(30_000);

let smtp: FakeSmtp;
let svc: TestService;

beforeEach(async () => {
  smtp = await startSmtpServer();
  svc = await startTestService({ SMTP_URL: smtp.url, SMTP_TIMEOUT_MS: "2000" });
});

afterEach(async () => {
  await svc.close();
  await smtp.close();
});

interface Registered {
  id: string;
  ticketId: string;
  eventId: string;
  token: string;
}

async function register(): Promise<Registered> {
  const organizer = await svc.user("organizer");
  const eventId = await svc.event(organizer.token, 1);
  const response = await svc.request("POST", `/events/${eventId}/registrations`, {
    token: organizer.token,
    body: { name: "Grace Hopper", email: `grace-${crypto.randomUUID()}@example.com` },
    headers: { "idempotency-key": crypto.randomUUID() },
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { id: string; ticket_id: string };
  return { id: body.id, ticketId: body.ticket_id, eventId, token: organizer.token };
}

async function cancel(registration: Registered): Promise<void> {
  const response = await svc.request("DELETE", `/registrations/${registration.id}`, {
    token: registration.token,
    headers: { "idempotency-key": crypto.randomUUID() },
  });
  expect(response.status).toBe(200);
}

async function seatsLeft(registration: Registered): Promise<number> {
  const response = await svc.request("GET", `/events/${registration.eventId}`, {
    token: registration.token,
  });
  return ((await response.json()) as { seats_left: number }).seats_left;
}

/** Lists every actor of the registration, with whether it reached a final state. */
function actors(registrationId: string) {
  return svc.services.db
    .query<{ kind: string; state: string; done: number }, [string]>(
      `SELECT kind, state, done FROM actors WHERE registration_id = ? ORDER BY kind`,
    )
    .all(registrationId);
}

function pendingRows() {
  const { db } = svc.services;
  const count = (table: string) =>
    db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${table}`).get()!.n;
  return { inbox: count("inbox"), effects: count("effects") };
}

/** Renders with the service's real handler, and has no handler for mail. */
function renderOnlyDispatcher(): Dispatcher {
  const { services } = svc;
  const render = renderHandler(effectDeps(services));
  return new Dispatcher({
    db: services.db,
    engine: services.engine,
    clock: services.clock,
    handlers: { render },
    log: silentLogger(),
    effectTimeoutMs: services.config.effectTimeoutMs,
    concurrency: 2,
  });
}

describe("runtime cancel", () => {
  test("cancel before render sends nothing", async () => {
    const registration = await register();
    await cancel(registration);
    await svc.services.dispatcher.runUntilIdle();

    expect(smtp.messages).toHaveLength(0);
    expect(actors(registration.id)).toEqual([
      { kind: "registration", state: "cancelled", done: 1 },
      { kind: "ticket", state: "cancelled", done: 1 },
    ]);
    expect(pendingRows()).toEqual({ inbox: 0, effects: 0 });
    expect(await seatsLeft(registration)).toBe(1);
  });

  test("cancel after render stops the mail", async () => {
    const registration = await register();
    const renderer = renderOnlyDispatcher();
    await renderer.runUntilIdle();
    await renderer.stop(0);
    expect(actors(registration.id).map((a) => a.state)).toEqual([
      "sending",
      "confirmed",
      "delivering",
    ]);

    await cancel(registration);
    await svc.services.dispatcher.runUntilIdle();

    expect(smtp.messages).toHaveLength(0);
    expect(actors(registration.id).every((a) => a.done === 1)).toBe(true);
    expect(pendingRows()).toEqual({ inbox: 0, effects: 0 });
  });

  test("cancel deletes the backoff timer", async () => {
    smtp.setFault({ stage: "mail", action: "reply", code: 451 });
    const registration = await register();
    await svc.services.dispatcher.runUntilIdle();
    const timers = svc.services.db
      .query<{ timer_id: string }, []>(`SELECT timer_id FROM inbox`)
      .all();
    expect(timers).toEqual([{ timer_id: "xstate.after.retryDelay.delivery.retrying" }]);

    await cancel(registration);
    svc.clock.advance(60 * 60_000);
    await svc.services.dispatcher.runUntilIdle();

    expect(smtp.messages).toHaveLength(0);
    expect(actors(registration.id).map((a) => `${a.kind}:${a.state}`)).toEqual([
      "delivery:cancelled",
      "registration:cancelled",
      "ticket:cancelled",
    ]);
    expect(pendingRows()).toEqual({ inbox: 0, effects: 0 });
  });

  test("mail claimed before a crash is not sent after cancel", async () => {
    const registration = await register();
    const renderer = renderOnlyDispatcher();
    await renderer.runUntilIdle();
    await renderer.stop(0);
    const { db, config } = svc.services;
    const { clock } = svc;
    const now = clock.now();
    const lease = now + config.effectTimeoutMs + LEASE_MARGIN_MS;
    const claimed = db.transaction(() => sql.claimEffects(db, "crashed", now, lease, 10)).immediate();
    expect(claimed.map((row) => row.name)).toEqual(["sendMail"]);

    await cancel(registration);
    // The lease outlives the actor, so the effect stays until it is reclaimed.
    expect(pendingRows()).toEqual({ inbox: 0, effects: 1 });
    clock.advance(config.effectTimeoutMs + LEASE_MARGIN_MS + 1);
    await svc.services.dispatcher.runUntilIdle();

    expect(smtp.messages).toHaveLength(0);
    expect(pendingRows()).toEqual({ inbox: 0, effects: 0 });
  });
});
