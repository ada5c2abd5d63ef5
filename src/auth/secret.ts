import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync,
  renameSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

/** Shortest HS256 secret accepted, in bytes: the size of the hash output (RFC 7518 3.2). */
export const MIN_SECRET_BYTES = 32;

export class JwtSecretError extends Error {
  readonly code = "JWT_SECRET_INVALID";
}

/**
 * Returns the JWT signing secret: `configured` when set, otherwise a random
 * secret generated once into `DATA_DIR/keys/jwt-secret` with mode 0600 and
 * reused on every later start, so restarts do not log everyone out.
 * Throws JwtSecretError when a stored secret is shorter than MIN_SECRET_BYTES.
 */
export function loadOrCreateJwtSecret(dataDir: string, configured: string | undefined): string {
  if (configured !== undefined) return configured;

  const dir = join(dataDir, "keys");
  const path = join(dir, "jwt-secret");
  if (existsSync(path)) {
    const stored = readFileSync(path, "utf8").trim();
    if (Buffer.byteLength(stored) < MIN_SECRET_BYTES) {
      throw new JwtSecretError(
        `${path} contains a JWT secret shorter than ${MIN_SECRET_BYTES} bytes; ` +
          "delete the file to generate a new one, or set JWT_SECRET",
      );
    }
    return stored;
  }

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString("base64url");
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, secret + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temp, 0o600);
  renameSync(temp, path);
  return secret;
}
