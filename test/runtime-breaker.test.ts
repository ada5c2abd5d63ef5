import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ticketView } from "../src/store/tickets.ts";
import { startTestService, type TestService } from "./support/harness.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

// Each test renders real PDFs and talks to a real SMTP server.
setDefaultTimeout(30_000);

const COOLDOWN_MS = 30_000;

let smtp: FakeSmtp;
let svc: TestService;
let organizer: { token: string };
let eventId: string;

beforeEach(async () => {
  smtp = await startSmtpServer();
  svc = await startTestService({
    SMTP_URL: smtp.url,
    SMTP_TIMEOUT_MS: "2000",
    BREAKER_THRESHOLD: "1",
    BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
  });
  organizer = await svc.user("organizer");
  eventId = await svc.event(organizer.token);
});

afterEach(async () => {
  await svc.close();
  await smtp.close();
});

async function register(email: string): Promise<string> {
  const response = await svc.request("POST", `/events/${eventId}/registrations`, {
    token: organizer.token,
    body: { name: "Katherine Johnson", email },
    headers: { "idempotency-key": crypto.randomUUID() },
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { ticket_id: string }).ticket_id;
}

describe("runtime breaker", () => {
  test("open breaker defers mail without spending attempts", async () => {
    smtp.setFault({ stage: "mail", action: "reply", code: 451 });
    const first = await register("first@example.com");
    await svc.services.dispatcher.runUntilIdle();
    expect(svc.services.breaker.state()).toBe("open");

    const second = await register("second@example.com");
    await svc.services.dispatcher.runUntilIdle();
    const firstWaiting = await ticketView(svc.services.db, first);
    const secondWaiting = await ticketView(svc.services.db, second);

    expect(smtp.messages).toHaveLength(0);
    expect(firstWaiting).toMatchObject({ status: "retrying", attempts: 1 });
    expect(secondWaiting).toMatchObject({ status: "retrying", attempts: 0 });

    // One delivery probes, and the other finds the probe out and waits for it.
    svc.clock.advance(COOLDOWN_MS + 1000);
    await svc.services.dispatcher.runUntilIdle();
    expect(smtp.messages).toHaveLength(1);
    expect(svc.services.breaker.state()).toBe("closed");

    svc.clock.advance(svc.services.config.effectTimeoutMs + 1000);
    await svc.services.dispatcher.runUntilIdle();

    expect(smtp.messages.map((mail) => mail.to[0]).sort()).toEqual([
      "first@example.com",
      "second@example.com",
    ]);
    expect(await ticketView(svc.services.db, first)).toMatchObject({ status: "sent", attempts: 2 });
    expect(await ticketView(svc.services.db, second)).toMatchObject({
      status: "sent",
      attempts: 1,
    });
  });
});
