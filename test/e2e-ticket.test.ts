/**
 * The whole life of a ticket over a real socket. An admin makes an organizer,
 * who makes an event. A student signs up and registers with a name in five
 * scripts, and the ticket arrives by mail as a PDF whose QR code verifies
 * with the published key.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { createPublicKey, type webcrypto } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { verifyTicketToken } from "../src/ticket/token.ts";
import {
  createWorld,
  jobsOf,
  login,
  register,
  waitForTicket,
  type User,
} from "./support/e2e-api.ts";
import {
  baseEnv,
  call,
  e2eDataDir,
  expectStatus,
  USER_PASSWORD,
} from "./support/e2e.ts";
import { decodeQrCodes, pdfText } from "./support/pdf.ts";
import { startServer, type ServerProcess } from "./support/process.ts";
import { startSmtpServer, type FakeSmtp } from "./support/smtp.ts";

const NAME = "Zoë Ωμέγα Дмитрий 王小明 محمد";
const TITLE = "Physics Open Day";
const VENUE = "Lecture Hall Boltzmann";
/** Per-test limit: server start, rendering with the CJK font and the PDF decoders. */
const TEST_TIMEOUT_MS = 30_000;
const TOKEN_SHAPE = /^ADM1\.([A-Za-z0-9-]{1,64})\.([A-Za-z0-9-]{1,64})\.([A-Za-z0-9_-]{86})$/;

let server: ServerProcess | undefined;
let smtp: FakeSmtp | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  await server?.kill();
  await smtp?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  server = undefined;
  smtp = undefined;
  dataDir = undefined;
});

/** Signs up a student over HTTP and logs them in. */
async function signUp(url: string, email: string): Promise<User> {
  const user = await expectStatus<{ id: string }>(201, url, "POST", "/auth/signup", {
    body: { email, name: "Zoe Student", password: USER_PASSWORD },
  });
  return { id: user.id, email, name: "Zoe Student", token: await login(url, email, USER_PASSWORD) };
}

async function ticketPublicKey(url: string) {
  const body = await expectStatus<{ keys: webcrypto.JsonWebKey[] }>(200, url, "GET", "/ticket-key");
  expect(body.keys.length).toBeGreaterThanOrEqual(1);
  const jwk = body.keys[0] as webcrypto.JsonWebKey;
  expect(jwk.kty).toBe("OKP");
  expect(jwk.crv).toBe("Ed25519");
  expect(jwk.d).toBeUndefined();
  return createPublicKey({ key: jwk, format: "jwk" });
}

describe("e2e ticket", () => {
  test("ticket mailed over SMTP", async () => {
    smtp = await startSmtpServer();
    dataDir = e2eDataDir();
    server = await startServer(dataDir, baseEnv({ SMTP_URL: smtp.url }));
    const { url } = server;

    const world = await createWorld(url, { title: TITLE, venue: VENUE, capacity: 10 });
    const student = await signUp(url, "zoe@example.com");

    const created = await register(url, student.token, world.event.id, "ticket-1", { name: NAME });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/registrations/${created.body.id}`);
    expect(created.body.attendee.name).toBe(NAME);
    expect(created.body.attendee.email).toBe(student.email);
    expect(created.body.ticket.status).toBe("pending");

    const sent = await waitForTicket(url, student.token, created.body.id, ["sent", "dead"], 20_000);
    expect(sent.ticket.status).toBe("sent");
    expect(sent.ticket.attempts).toBe(1);
    expect(sent.ticket.last_error).toBeNull();

    const [mail] = await smtp.waitForMessages(1, 10_000);
    if (mail === undefined) throw new Error("no mail arrived");
    expect(mail.envelope.to).toEqual([student.email]);
    expect(mail.to).toEqual([student.email]);
    expect(mail.subject).toContain(TITLE);
    expect(mail.text).toContain(NAME);
    expect(mail.messageId).toMatch(/^<[^<>@\s]+@[^<>@\s]+>$/);

    // The delivery job names the Message-ID the mail carried.
    const jobs = await jobsOf(url, world.adminToken, created.body.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.state).toBe("sent");
    expect(jobs[0]?.attempts).toBe(1);
    expect(jobs[0]?.message_id).toBe(mail.messageId ?? "");

    const pdfs = mail.attachments.filter((a) => a.contentType === "application/pdf");
    expect(pdfs).toHaveLength(1);
    const pdf = pdfs[0]?.content ?? Buffer.alloc(0);
    expect(pdf.subarray(0, 5).toString("latin1")).toBe("%PDF-");

    const codes = decodeQrCodes(pdf);
    expect(codes).toHaveLength(1);
    const token = codes[0] ?? "";
    const shape = TOKEN_SHAPE.exec(token);
    expect(shape).not.toBeNull();
    expect(shape?.[1]).toBe(created.body.ticket_id);
    expect(shape?.[2]).toBe(world.event.id);

    const publicKey = await ticketPublicKey(url);
    expect(verifyTicketToken(publicKey, token)).toEqual({
      ticketId: created.body.ticket_id,
      eventId: world.event.id,
    });
    const last = token.at(-2) === "A" ? "B" : "A";
    const forged = `${token.slice(0, -2)}${last}${token.slice(-1)}`;
    expect(verifyTicketToken(publicKey, forged)).toBeNull();

    // Arabic letters come out of pdftotext in visual order, so only the other
    // scripts are compared as whole words.
    const text = pdfText(pdf).normalize("NFC");
    for (const part of ["Zoë", "Ωμέγα", "Дмитрий", "王小明", TITLE, VENUE]) {
      expect(text).toContain(part);
    }
    const arabicLetters = text.normalize("NFKC");
    for (const letter of ["م", "ح", "د"]) expect(arabicLetters).toContain(letter);

    const download = await fetch(`${url}/registrations/${created.body.id}/ticket.pdf`, {
      headers: { authorization: `Bearer ${student.token}` },
    });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/pdf");
    const downloaded = Buffer.from(await download.arrayBuffer());
    expect(downloaded.equals(pdf)).toBe(true);
    expect(decodeQrCodes(downloaded)).toEqual([token]);

    // No other mail: one registration, one delivery, one message.
    await Bun.sleep(300);
    expect(smtp.messages).toHaveLength(1);
  }, TEST_TIMEOUT_MS);

  test("ticket hidden from other students", async () => {
    dataDir = e2eDataDir();
    server = await startServer(dataDir, baseEnv());
    const { url } = server;
    const world = await createWorld(url);
    const owner = await signUp(url, "owner@example.com");
    const other = await signUp(url, "other@example.com");

    const created = await register(url, owner.token, world.event.id, "hidden-1");
    expect(created.status).toBe(201);
    await waitForTicket(url, owner.token, created.body.id, ["sent"], 20_000);

    const asOther = await call(url, "GET", `/registrations/${created.body.id}/ticket.pdf`, {
      token: other.token,
    });
    expect(asOther.status).toBe(404);
    const anonymous = await call(url, "GET", `/registrations/${created.body.id}/ticket.pdf`);
    expect(anonymous.status).toBe(401);
  }, TEST_TIMEOUT_MS);

  test("outbox mode writes eml file", async () => {
    dataDir = e2eDataDir();
    server = await startServer(dataDir, baseEnv());
    const { url } = server;
    const world = await createWorld(url, { title: TITLE, venue: VENUE });
    const student = await signUp(url, "outbox@example.com");

    const created = await register(url, student.token, world.event.id, "outbox-1", { name: NAME });
    expect(created.status).toBe(201);
    await waitForTicket(url, student.token, created.body.id, ["sent"], 20_000);

    const outbox = join(dataDir, "outbox");
    const files = readdirSync(outbox).filter((name) => name.endsWith(".eml"));
    expect(files).toHaveLength(1);
    const file = files[0] ?? "";
    expect(file.startsWith(".")).toBe(false);

    const mail = await simpleParser(readFileSync(join(outbox, file)));
    expect(mail.messageId).toMatch(/^<.+@.+>$/);
    expect(file).toBe(`${(mail.messageId ?? "").replace(/^<|>$/g, "")}.eml`);
    const to = Array.isArray(mail.to) ? mail.to : [mail.to];
    expect(to.flatMap((group) => group?.value.map((entry) => entry.address))).toEqual([
      student.email,
    ]);
    expect(mail.subject).toContain(TITLE);

    const pdf = mail.attachments.find((a) => a.contentType === "application/pdf");
    expect(pdf).toBeDefined();
    const codes = decodeQrCodes(pdf?.content ?? Buffer.alloc(0));
    expect(codes).toHaveLength(1);
    expect(verifyTicketToken(await ticketPublicKey(url), codes[0] ?? "")).toEqual({
      ticketId: created.body.ticket_id,
      eventId: world.event.id,
    });
  }, TEST_TIMEOUT_MS);
});
