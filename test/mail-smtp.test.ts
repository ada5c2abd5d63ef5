import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { classifySmtpError, type DeliveryFailure } from "../src/mail/classify.ts";
import type { TicketMail } from "../src/mail/message.ts";
import { createSmtpTransport, type MailTransport } from "../src/mail/transport.ts";
import { type FakeSmtp, type Fault, startSmtpServer } from "./support/smtp.ts";

const PDF = new TextEncoder().encode("%PDF-1.7\n% test ticket\n%%EOF\n");

let server: FakeSmtp;
const transports: MailTransport[] = [];

beforeEach(async () => {
  server = await startSmtpServer({ users: { mailer: "right-password" } });
});

afterEach(async () => {
  for (const transport of transports.splice(0)) transport.close();
  await server.close();
});

function ticketMail(overrides: Partial<TicketMail> = {}): TicketMail {
  return {
    messageId: `<${crypto.randomUUID()}@admit>`,
    from: "admit <tickets@localhost>",
    to: { name: "Ada Lovelace", address: "ada@example.test" },
    eventTitle: "Intro to Compilers",
    startsAt: "2026-12-04T17:00:00Z",
    timeZone: "Europe/Berlin",
    venue: "Hall A",
    attendeeName: "Ada Lovelace",
    ticketId: "7f3e2d1c-aaaa-bbbb-cccc-0123456789ab",
    pdf: PDF,
    ...overrides,
  };
}

function transport(timeoutMs = 2_000, url = server.url, maxConnections?: number): MailTransport {
  const created = createSmtpTransport({
    url,
    timeoutMs,
    ...(maxConnections === undefined ? {} : { maxConnections }),
  });
  transports.push(created);
  return created;
}

function signal(ms = 10_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

/** Sends and returns the classified failure. Fails the test if the send succeeds. */
async function sendExpectingFailure(
  sender: MailTransport,
  mail: TicketMail,
  abort: AbortSignal = signal(),
): Promise<{ failure: DeliveryFailure; error: unknown }> {
  try {
    await sender.send(mail, abort);
  } catch (error) {
    return { failure: classifySmtpError(error), error };
  }
  throw new Error("send succeeded but a failure was expected");
}

/** Polls `condition` every 10 ms, up to `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await Bun.sleep(10);
  }
  return condition();
}

describe("SMTP transport", () => {
  test("delivers with Message-ID and PDF", async () => {
    const mail = ticketMail();
    const outcome = await transport().send(mail, signal());

    expect(outcome.messageId).toBe(mail.messageId);
    expect(outcome.accepted).toEqual(["ada@example.test"]);
    expect(outcome.rejected).toEqual([]);
    expect(outcome.response).toStartWith("250");

    expect(server.messages).toHaveLength(1);
    const received = server.messages[0];
    expect(received?.messageId).toBe(mail.messageId);
    expect(received?.envelope.to).toEqual(["ada@example.test"]);
    expect(received?.subject).toBe("Your ticket: Intro to Compilers");
    expect(received?.attachments).toHaveLength(1);
    expect(received?.attachments[0]?.filename).toBe("ticket-7f3e2d1c.pdf");
    expect(received?.attachments[0]?.contentType).toBe("application/pdf");
    expect(received?.attachments[0]?.content.equals(Buffer.from(PDF))).toBe(true);
  });

  test("451 at RCPT is transient", async () => {
    server.setFault({ stage: "rcpt", action: "reply", code: 451, message: "Try again later" });
    const { failure } = await sendExpectingFailure(transport(), ticketMail());
    expect(failure.class).toBe("transient");
    expect(failure.replyCode).toBe(451);
    expect(failure.code).toBe("EENVELOPE");
    expect(server.messages).toHaveLength(0);
  });

  test("550 at RCPT is permanent", async () => {
    server.setFault({ stage: "rcpt", action: "reply", code: 550, message: "No such user" });
    const { failure } = await sendExpectingFailure(transport(), ticketMail());
    expect(failure.class).toBe("permanent");
    expect(failure.replyCode).toBe(550);
    expect(failure.reply).toContain("No such user");
  });

  test("554 at DATA is permanent", async () => {
    server.setFault({ stage: "data", action: "reply", code: 554, message: "Rejected as spam" });
    const { failure } = await sendExpectingFailure(transport(), ticketMail());
    expect(failure.class).toBe("permanent");
    expect(failure.replyCode).toBe(554);
    expect(server.messages).toHaveLength(0);
  });

  test("421 at greeting is transient", async () => {
    server.setFault({ stage: "greeting", action: "reply", code: 421, message: "Too busy" });
    const { failure } = await sendExpectingFailure(transport(), ticketMail());
    expect(failure.class).toBe("transient");
    expect(failure.replyCode).toBe(421);
  });

  test("fault is used once, then delivery works", async () => {
    const sender = transport();
    server.setFault({ stage: "mail", action: "reply", code: 451 });
    const { failure } = await sendExpectingFailure(sender, ticketMail());
    expect(failure.replyCode).toBe(451);

    const mail = ticketMail();
    await sender.send(mail, signal());
    expect(server.messages.map((received) => received.messageId)).toEqual([mail.messageId]);
  });

  test("hang at DATA times out", async () => {
    server.setFault({ stage: "data", action: "hang" });
    const started = performance.now();
    const { failure } = await sendExpectingFailure(transport(300), ticketMail());
    const elapsed = performance.now() - started;

    expect(failure.class).toBe("transient");
    expect(failure.code).toBe("ETIMEDOUT");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    expect(server.messages).toHaveLength(0);
  });

  test("abort ends a hung send promptly", async () => {
    server.setFault({ stage: "data", action: "hang" });
    const controller = new AbortController();
    const sender = transport(30_000);
    const pending = sendExpectingFailure(sender, ticketMail(), controller.signal);

    expect(await waitUntil(() => server.connections() === 1, 2_000)).toBe(true);
    await Bun.sleep(100);
    const abortedAt = performance.now();
    controller.abort();
    const { failure, error } = await pending;
    const elapsed = performance.now() - abortedAt;

    expect(elapsed).toBeLessThan(200);
    expect(failure.class).toBe("transient");
    expect(failure.code).toBe("EABORT");
    expect((error as Error).name).toBe("AbortError");
    expect(await waitUntil(() => server.connections() === 0, 2_000)).toBe(true);
  });

  test("deadline abort reports a timeout", async () => {
    server.setFault({ stage: "greeting", action: "hang" });
    const { failure } = await sendExpectingFailure(transport(30_000), ticketMail(), signal(200));
    expect(failure.class).toBe("transient");
    expect(failure.message).toBe("Mail send timed out");
  });

  test("aborted signal fails before connecting", async () => {
    const controller = new AbortController();
    controller.abort();
    const { failure } = await sendExpectingFailure(transport(), ticketMail(), controller.signal);
    expect(failure.code).toBe("EABORT");
    expect(server.connectionsOpened()).toBe(0);
  });

  test("drop at DATA is transient", async () => {
    server.setFault({ stage: "data", action: "drop" });
    const { failure } = await sendExpectingFailure(transport(), ticketMail());
    expect(failure.class).toBe("transient");
    expect(failure.code).toBe("ECONNECTION");
    expect(server.messages).toHaveLength(0);
  });

  test("drop at RCPT is transient", async () => {
    server.setFault({ stage: "rcpt", action: "drop" });
    const { failure } = await sendExpectingFailure(transport(), ticketMail());
    expect(failure.class).toBe("transient");
  });

  test("drop at greeting is resent once", async () => {
    server.setFault({ stage: "greeting", action: "drop" });
    const mail = ticketMail();
    await transport().send(mail, signal());
    expect(server.connectionsOpened()).toBe(2);
    expect(server.messages.map((received) => received.messageId)).toEqual([mail.messageId]);
  });

  test("repeated drop at greeting is transient", async () => {
    server.setFault([
      { stage: "greeting", action: "drop" },
      { stage: "greeting", action: "drop" },
    ]);
    const { failure } = await sendExpectingFailure(transport(), ticketMail());
    expect(failure.class).toBe("transient");
    expect(failure.code).toBe("ECONNECTION");
    expect(server.connectionsOpened()).toBe(2);
  });

  test("same Message-ID twice arrives twice", async () => {
    const sender = transport();
    const mail = ticketMail();
    await sender.send(mail, signal());
    await sender.send(mail, signal());

    const received = await server.waitForMessages(2, 2_000);
    expect(received).toHaveLength(2);
    expect(received[0]?.messageId).toBe(mail.messageId);
    expect(received[1]?.messageId).toBe(mail.messageId);
  });

  test("open connections stay bounded", async () => {
    const hang: Fault = { stage: "greeting", action: "hang" };
    server.setFault(Array.from({ length: 20 }, () => hang));
    const sender = transport(400, server.url, 3);

    let maxOpen = 0;
    const sampler = setInterval(() => {
      maxOpen = Math.max(maxOpen, server.connections());
    }, 5);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => sender.send(ticketMail(), signal(3_000))),
    );
    clearInterval(sampler);

    expect(maxOpen).toBeGreaterThan(0);
    expect(maxOpen).toBeLessThanOrEqual(3);
    for (const result of results) {
      expect(result.status).toBe("rejected");
      if (result.status === "rejected") {
        expect(classifySmtpError(result.reason).class).toBe("transient");
      }
    }
    expect(await waitUntil(() => server.connections() === 0, 2_000)).toBe(true);
  });

  test("concurrent sends all arrive", async () => {
    const sender = transport(2_000, server.url, 3);
    const mails = Array.from({ length: 12 }, () => ticketMail());
    await Promise.all(mails.map((mail) => sender.send(mail, signal())));

    const received = await server.waitForMessages(12, 2_000);
    const ids = received.map((message) => message.messageId).sort();
    expect(ids).toEqual(mails.map((mail) => mail.messageId).sort());
    expect(server.connectionsOpened()).toBeLessThanOrEqual(3);
  });

  test("login with valid credentials delivers", async () => {
    const url = `smtp://mailer:right-password@127.0.0.1:${server.port}`;
    await transport(2_000, url).send(ticketMail(), signal());
    expect(server.messages).toHaveLength(1);
  });

  test("wrong password is a config failure", async () => {
    const url = `smtp://mailer:wrong-password@127.0.0.1:${server.port}`;
    const { failure } = await sendExpectingFailure(transport(2_000, url), ticketMail());
    expect(failure.class).toBe("config");
    expect(failure.code).toBe("EAUTH");
    expect(failure.message).toContain("SMTP_URL");
    expect(JSON.stringify(failure)).not.toContain("wrong-password");
  });

  test("refused connection is transient", async () => {
    const port = server.port;
    await server.close();
    server = await startSmtpServer();
    const { failure } = await sendExpectingFailure(
      transport(2_000, `smtp://127.0.0.1:${port}`),
      ticketMail(),
    );
    expect(failure.class).toBe("transient");
  });

  test("name leaves out credentials", () => {
    const sender = transport(1_000, `smtp://mailer:secret@127.0.0.1:${server.port}`);
    expect(sender.name).toBe(`smtp:127.0.0.1:${server.port}`);
    expect(transport(1_000, "smtp://mail.example.test").name).toBe("smtp:mail.example.test:587");
    expect(transport(1_000, "smtps://mail.example.test").name).toBe("smtp:mail.example.test:465");
  });

  test("invalid URL is a config error", () => {
    let caught: unknown;
    try {
      createSmtpTransport({ url: "smtp://user:secret@[bad", timeoutMs: 1_000 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(classifySmtpError(caught).class).toBe("config");
    expect(String((caught as Error).message)).not.toContain("secret");
  });
});
