import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { classifySmtpError } from "../src/mail/classify.ts";
import type { TicketMail } from "../src/mail/message.ts";
import { outboxFileStem } from "../src/mail/outbox.ts";
import { createOutboxTransport } from "../src/mail/transport.ts";

const PDF = new TextEncoder().encode("%PDF-1.7\n% test ticket\n%%EOF\n");

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "admit-outbox-"));
});

afterEach(async () => {
  await chmod(root, 0o700).catch(() => {});
  await rm(root, { recursive: true, force: true });
});

function ticketMail(overrides: Partial<TicketMail> = {}): TicketMail {
  return {
    messageId: "<0b6d7c1e-8f1a-4f6e-9d7e-3c2a1b0f9e8d@admit>",
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

describe("outbox transport", () => {
  test("writes a parseable .eml file", async () => {
    const dir = join(root, "nested", "outbox");
    const outbox = createOutboxTransport(dir);
    const mail = ticketMail();

    const outcome = await outbox.send(mail, AbortSignal.timeout(5_000));

    expect(outbox.name).toBe("outbox");
    expect(outcome.messageId).toBe(mail.messageId);
    expect(outcome.accepted).toEqual(["ada@example.test"]);
    expect(outcome.rejected).toEqual([]);
    const files = await readdir(dir);
    expect(files).toEqual(["0b6d7c1e-8f1a-4f6e-9d7e-3c2a1b0f9e8d@admit.eml"]);

    const parsed = await simpleParser(await readFile(join(dir, files[0] ?? "")));
    expect(parsed.messageId).toBe(mail.messageId);
    expect(parsed.subject).toBe("Your ticket: Intro to Compilers");
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]?.filename).toBe("ticket-7f3e2d1c.pdf");
    expect(parsed.attachments[0]?.content.equals(Buffer.from(PDF))).toBe(true);
  });

  test("same Message-ID overwrites", async () => {
    const outbox = createOutboxTransport(root);
    await outbox.send(ticketMail({ venue: "Hall A" }), AbortSignal.timeout(5_000));
    await outbox.send(ticketMail({ venue: "Hall B" }), AbortSignal.timeout(5_000));

    const files = await readdir(root);
    expect(files).toHaveLength(1);
    const parsed = await simpleParser(await readFile(join(root, files[0] ?? "")));
    expect(parsed.text).toContain("Hall B");
  });

  test("different Message-IDs make two files", async () => {
    const outbox = createOutboxTransport(root);
    await outbox.send(ticketMail({ messageId: "<one@admit>" }), AbortSignal.timeout(5_000));
    await outbox.send(ticketMail({ messageId: "<two@admit>" }), AbortSignal.timeout(5_000));
    expect((await readdir(root)).sort()).toEqual(["one@admit.eml", "two@admit.eml"]);
  });

  test("leaves no temporary files", async () => {
    const outbox = createOutboxTransport(root);
    await Promise.all(
      Array.from({ length: 5 }, () => outbox.send(ticketMail(), AbortSignal.timeout(5_000))),
    );
    expect(await readdir(root)).toEqual(["0b6d7c1e-8f1a-4f6e-9d7e-3c2a1b0f9e8d@admit.eml"]);
  });

  test("aborted signal writes nothing", async () => {
    const outbox = createOutboxTransport(root);
    const controller = new AbortController();
    controller.abort();
    let caught: unknown;
    try {
      await outbox.send(ticketMail(), controller.signal);
    } catch (error) {
      caught = error;
    }
    expect(classifySmtpError(caught).code).toBe("EABORT");
    expect(await readdir(root)).toEqual([]);
  });

  // Root ignores directory permissions, so this case can only run as another user.
  test.skipIf(process.getuid?.() === 0)("unwritable directory is a config failure", async () => {
    await chmod(root, 0o500);
    const outbox = createOutboxTransport(root);
    let caught: unknown;
    try {
      await outbox.send(ticketMail(), AbortSignal.timeout(5_000));
    } catch (error) {
      caught = error;
    }
    expect(classifySmtpError(caught).class).toBe("config");
  });

  test("path in place of directory fails typed", async () => {
    const blocker = join(root, "file");
    await writeFile(blocker, "not a directory");
    const outbox = createOutboxTransport(join(blocker, "outbox"));
    let caught: unknown;
    try {
      await outbox.send(ticketMail(), AbortSignal.timeout(5_000));
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).name).toBe("OutboxWriteError");
    expect(classifySmtpError(caught).class).toBe("config");
  });
});

describe("outboxFileStem", () => {
  test("keeps safe characters only", () => {
    expect(outboxFileStem("<abc-123@admit>")).toBe("abc-123@admit");
    expect(outboxFileStem("<../../etc/passwd@x>")).toBe("__.._etc_passwd@x");
    expect(outboxFileStem("<.hidden@x>")).toBe("_hidden@x");
    expect(outboxFileStem("<>")).toBe("_");
    expect(outboxFileStem(`<${"a".repeat(500)}@x>`)).toHaveLength(200);
  });
});
