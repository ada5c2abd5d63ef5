import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import {
  loadOrCreateTicketKeys,
  MAX_TOKEN_LENGTH,
  signTicketToken,
  TicketIdError,
  TicketKeyError,
  verifyTicketToken,
  type TicketKeys,
} from "../src/ticket/token.ts";

const TICKET_ID = "3f2a9c1e-7b40-4d2e-9a61-0c5b8e7d1f23";
const EVENT_ID = "9b1c2d3e-4f50-4a6b-8c7d-e8f9a0b1c2d3";

let dataDir: string;
let keys: TicketKeys;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "admit-token-"));
  keys = loadOrCreateTicketKeys(dataDir);
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** Replaces the character at `index` with a different one from the same alphabet. */
function flipChar(token: string, index: number): string {
  const char = token[index];
  const replacement = char === "A" ? "B" : "A";
  return token.slice(0, index) + replacement + token.slice(index + 1);
}

describe("ticket token", () => {
  test("round trip returns ids", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);

    expect(verifyTicketToken(keys.publicKey, token)).toEqual({
      ticketId: TICKET_ID,
      eventId: EVENT_ID,
    });
  });

  test("token is ASCII with version prefix", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);

    expect(token).toMatch(/^[\x21-\x7e]+$/);
    expect(token.startsWith(`ADM1.${TICKET_ID}.${EVENT_ID}.`)).toBe(true);
    expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
  });

  test("tampered ids are rejected", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const otherEvent = token.replace(EVENT_ID, EVENT_ID.replace("9b1c", "9b1d"));
    const otherTicket = token.replace(TICKET_ID, TICKET_ID.replace("3f2a", "3f2b"));

    expect(verifyTicketToken(keys.publicKey, otherEvent)).toBeNull();
    expect(verifyTicketToken(keys.publicKey, otherTicket)).toBeNull();
  });

  test("swapped ids are rejected", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const signature = token.split(".")[3];

    expect(
      verifyTicketToken(keys.publicKey, `ADM1.${EVENT_ID}.${TICKET_ID}.${signature}`),
    ).toBeNull();
  });

  test("every altered signature character is rejected", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const signatureStart = token.lastIndexOf(".") + 1;

    for (let index = signatureStart; index < token.length; index++) {
      expect(verifyTicketToken(keys.publicKey, flipChar(token, index))).toBeNull();
    }
  });

  test("non-canonical base64 is rejected", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    // The last of 86 base64url characters carries 4 unused bits. Setting one
    // still decodes to the same 64 bytes.
    const last = token.at(-1) ?? "A";
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const variant = alphabet[alphabet.indexOf(last) + 1] ?? "A";
    const altered = token.slice(0, -1) + variant;

    expect(Buffer.from(altered.split(".")[3] ?? "", "base64url")).toEqual(
      Buffer.from(token.split(".")[3] ?? "", "base64url"),
    );
    expect(verifyTicketToken(keys.publicKey, altered)).toBeNull();
  });

  test("wrong key is rejected", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const other = generateKeyPairSync("ed25519").publicKey;

    expect(verifyTicketToken(other, token)).toBeNull();
  });

  test("key of another type returns null", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey;

    expect(verifyTicketToken(rsa, token)).toBeNull();
  });

  test("garbage strings return null", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const garbage = [
      "",
      "ADM1",
      "ADM1...",
      "ADM1.a.b.c",
      "ADM2" + token.slice(4),
      token + "A",
      token.slice(0, -1),
      ` ${token}`,
      `${token}\n`,
      token.replaceAll(".", ":"),
      `ADM1.${TICKET_ID}.${EVENT_ID}.${"=".repeat(86)}`,
      `ADM1..${EVENT_ID}.${token.split(".")[3]}`,
      "\u0000".repeat(100),
      "x".repeat(100_000),
    ];

    for (const input of garbage) {
      expect(verifyTicketToken(keys.publicKey, input)).toBeNull();
    }
  });

  test("non-ASCII input returns null", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const inputs = [
      token.replace("3f2a", "3f2а"), // Cyrillic a
      token.replace("ADM1", "ＡDM1"),
      `${token}\u200b`,
      "ADM1.é.ü.ß",
      "\ud800",
    ];

    for (const input of inputs) {
      expect(verifyTicketToken(keys.publicKey, input)).toBeNull();
    }
  });

  test("over-long input returns null", () => {
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);
    const padded = token.replace(TICKET_ID, "a".repeat(MAX_TOKEN_LENGTH));

    expect(verifyTicketToken(keys.publicKey, padded)).toBeNull();
  });

  test("non-string input returns null", () => {
    const inputs: unknown[] = [undefined, null, 42, {}, ["ADM1"]];

    for (const input of inputs) {
      expect(verifyTicketToken(keys.publicKey, input as string)).toBeNull();
    }
  });

  test("random strings never throw", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (input) => {
        expect(verifyTicketToken(keys.publicKey, input)).toBeNull();
      }),
      { seed: 20250314, numRuns: 2000 },
    );
  });

  test("random token-shaped strings return null", () => {
    const part = fc.stringMatching(/^[A-Za-z0-9_-]{0,90}$/);
    fc.assert(
      fc.property(part, part, part, (a, b, c) => {
        expect(verifyTicketToken(keys.publicKey, `ADM1.${a}.${b}.${c}`)).toBeNull();
      }),
      { seed: 20250314, numRuns: 500 },
    );
  });

  test("sign rejects ids outside the alphabet", () => {
    const invalid = ["", "a.b", "a b", "ä", "x".repeat(65), "a/b"];

    for (const id of invalid) {
      expect(() => signTicketToken(keys, id, EVENT_ID)).toThrow(TicketIdError);
      expect(() => signTicketToken(keys, TICKET_ID, id)).toThrow(TicketIdError);
    }
  });
});

describe("ticket keys", () => {
  const keyPath = () => join(dataDir, "keys", "ticket-ed25519.pem");

  test("key file is private PKCS8 PEM", () => {
    const pem = readFileSync(keyPath(), "utf8");

    expect(pem.startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
    expect(statSync(keyPath()).mode & 0o777).toBe(0o600);
  });

  test("second load reuses the key", () => {
    const pemBefore = readFileSync(keyPath(), "utf8");
    const again = loadOrCreateTicketKeys(dataDir);
    const token = signTicketToken(keys, TICKET_ID, EVENT_ID);

    expect(readFileSync(keyPath(), "utf8")).toBe(pemBefore);
    expect(again.kid).toBe(keys.kid);
    expect(verifyTicketToken(again.publicKey, token)).not.toBeNull();
  });

  test("load leaves no temporary files", () => {
    expect(readdirSync(join(dataDir, "keys"))).toEqual(["ticket-ed25519.pem"]);
  });

  test("another data dir gets another key", () => {
    const otherDir = mkdtempSync(join(tmpdir(), "admit-token-"));
    try {
      const other = loadOrCreateTicketKeys(otherDir);

      expect(other.kid).not.toBe(keys.kid);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  test("public JWK carries kid and no private part", () => {
    expect(keys.publicJwk.kty).toBe("OKP");
    expect(keys.publicJwk.crv).toBe("Ed25519");
    expect(keys.publicJwk.alg).toBe("EdDSA");
    expect(keys.publicJwk.kid).toBe(keys.kid);
    expect(keys.publicJwk.d).toBeUndefined();
    expect(keys.kid).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  test("corrupt key file throws TicketKeyError", () => {
    const brokenDir = mkdtempSync(join(tmpdir(), "admit-token-"));
    try {
      mkdirSync(join(brokenDir, "keys"));
      writeFileSync(join(brokenDir, "keys", "ticket-ed25519.pem"), "not a key");

      expect(() => loadOrCreateTicketKeys(brokenDir)).toThrow(TicketKeyError);
    } finally {
      rmSync(brokenDir, { recursive: true, force: true });
    }
  });

  test("key of another type throws TicketKeyError", () => {
    const rsaDir = mkdtempSync(join(tmpdir(), "admit-token-"));
    try {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
      mkdirSync(join(rsaDir, "keys"));
      writeFileSync(
        join(rsaDir, "keys", "ticket-ed25519.pem"),
        privateKey.export({ type: "pkcs8", format: "pem" }),
      );

      expect(() => loadOrCreateTicketKeys(rsaDir)).toThrow(TicketKeyError);
    } finally {
      rmSync(rsaDir, { recursive: true, force: true });
    }
  });
});
