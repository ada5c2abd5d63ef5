/**
 * Signed ticket tokens, the text inside a ticket's QR code.
 *
 * Format: `ADM1.<ticketId>.<eventId>.<signature>`, where the signature is
 * Ed25519 over a domain-separated message (see signedMessage) and is encoded
 * as unpadded base64url. The token contains no personal data, so a door app
 * that holds only the public key can verify it offline.
 */

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
  type webcrypto,
} from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileExclusiveSync } from "./files.ts";

/** A public JWK with the key id that tokens are published under. */
export type TicketJwk = webcrypto.JsonWebKey & { kid: string };

export interface TicketKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Public key as an OKP JWK with `kid`, `alg` and `use` set. */
  publicJwk: TicketJwk;
  /** First 16 characters of the key's RFC 7638 JWK thumbprint. */
  kid: string;
}

export class TicketKeyError extends Error {
  override name = "TicketKeyError";
  readonly code = "TICKET_KEY_INVALID";
}

/** A ticket or event id that a token cannot carry, so retrying cannot help. */
export class TicketIdError extends Error {
  override name = "TicketIdError";
  readonly code = "INVALID_INPUT";
}

const TOKEN_VERSION = "ADM1";
/** Separates this signature from any other use of the same key. */
const SIGNATURE_DOMAIN = "admit-ticket";
const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const SIGNATURE_LENGTH = 64;
const SIGNATURE_BASE64_LENGTH = 86;
/** Maximum length of a well-formed token: version, two 64-character ids, signature. */
export const MAX_TOKEN_LENGTH =
  TOKEN_VERSION.length + 64 + 64 + SIGNATURE_BASE64_LENGTH + 3;
const TOKEN_PATTERN =
  /^ADM1\.([A-Za-z0-9-]{1,64})\.([A-Za-z0-9-]{1,64})\.([A-Za-z0-9_-]{86})$/;

const KEY_FILE = "ticket-ed25519.pem";

/**
 * Loads the ticket signing key from `${dataDir}/keys/ticket-ed25519.pem`, or
 * generates it there on first use.
 *
 * The new key is written to a temporary file, fsynced and hard-linked into
 * place, so a concurrent first start cannot replace a key that another
 * process already uses. The file is created with mode 0600.
 */
export function loadOrCreateTicketKeys(dataDir: string): TicketKeys {
  const path = join(dataDir, "keys", KEY_FILE);

  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" });
    // A concurrent process may have won the race: its key is then the one on disk.
    writeFileExclusiveSync(path, pem, 0o600);
  }

  return keysFromPem(readFileSync(path, "utf8"), path);
}

function keysFromPem(pem: string, path: string): TicketKeys {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new TicketKeyError(`Invalid ticket key file ${path}`, { cause: err });
  }

  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new TicketKeyError(
      `Ticket key file ${path} contains a ${privateKey.asymmetricKeyType} key, expected ed25519`,
    );
  }

  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: "jwk" });
  const kid = jwkThumbprint(jwk).slice(0, 16);

  return {
    privateKey,
    publicKey,
    publicJwk: { ...jwk, kid, alg: "EdDSA", use: "sig" },
    kid,
  };
}

/** Computes the RFC 7638 thumbprint (SHA-256, base64url) of an OKP key. */
function jwkThumbprint(jwk: webcrypto.JsonWebKey): string {
  // RFC 7638 fixes the members and their lexicographic order for OKP keys.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash("sha256").update(canonical).digest("base64url");
}

function signedMessage(ticketId: string, eventId: string): Buffer {
  return Buffer.from(
    `${SIGNATURE_DOMAIN}\0${TOKEN_VERSION}\0${ticketId}\0${eventId}`,
    "ascii",
  );
}

/**
 * Signs a ticket token for the ticket and event.
 * Throws TicketIdError unless both ids match [A-Za-z0-9-]{1,64}.
 */
export function signTicketToken(
  keys: TicketKeys,
  ticketId: string,
  eventId: string,
): string {
  for (const [field, id] of [
    ["ticketId", ticketId],
    ["eventId", eventId],
  ] as const) {
    if (!ID_PATTERN.test(id)) {
      throw new TicketIdError(
        `Invalid ${field}: expected 1-64 characters of [A-Za-z0-9-]`,
      );
    }
  }

  const signature = sign(null, signedMessage(ticketId, eventId), keys.privateKey);
  const encoded = signature.toString("base64url");
  return `${TOKEN_VERSION}.${ticketId}.${eventId}.${encoded}`;
}

/**
 * Verifies a ticket token and returns its ids, or null when the token is
 * malformed, too long, signed by another key or altered in any way.
 * Never throws.
 */
export function verifyTicketToken(
  publicKey: KeyObject,
  token: string,
): { ticketId: string; eventId: string } | null {
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) {
    return null;
  }

  const match = TOKEN_PATTERN.exec(token);
  if (match === null) return null;
  const [, ticketId, eventId, encoded] = match;
  if (ticketId === undefined || eventId === undefined || encoded === undefined) {
    return null;
  }

  const signature = Buffer.from(encoded, "base64url");
  // Base64 lets the last character carry unused bits, so several strings decode
  // to one signature. Accept only the canonical one, so a token has one spelling.
  if (
    signature.length !== SIGNATURE_LENGTH ||
    signature.toString("base64url") !== encoded
  ) {
    return null;
  }

  try {
    const valid = verify(null, signedMessage(ticketId, eventId), publicKey, signature);
    return valid ? { ticketId, eventId } : null;
  } catch {
    // A key of the wrong type makes verify throw, which counts as a failed check.
    return null;
  }
}
