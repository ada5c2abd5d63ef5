/**
 * Crash-safe file writes for ticket PDFs and keys, and the classification of
 * file system errors into transient and permanent ones.
 */

import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A registration id that cannot name a ticket file, so retrying cannot help. */
export class TicketPathError extends Error {
  override name = "TicketPathError";
  readonly code = "INVALID_INPUT";
}

const REGISTRATION_ID_PATTERN = /^[A-Za-z0-9-]{1,128}$/;

/** Error codes that can clear up on their own, so a retry may succeed. */
const TRANSIENT_CODES = new Set([
  "ENOSPC",
  "EDQUOT",
  "EIO",
  "EMFILE",
  "ENFILE",
  "EAGAIN",
  "EBUSY",
]);

function tempPathFor(path: string): string {
  const suffix = `${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  return join(dirname(path), `.${basename(path)}.${suffix}`);
}

/**
 * Writes `bytes` to `path` so that readers see either the old file or the
 * whole new one, also after a crash or power loss.
 *
 * Writes a temporary file in the same directory, fsyncs it, renames it over
 * `path` and fsyncs the directory. Creates the directory if it is missing.
 * `mode` defaults to 0600 because ticket PDFs contain attendee names.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  mode = 0o600,
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });

  const tempPath = tempPathFor(path);
  try {
    const file = await open(tempPath, "wx", mode);
    try {
      // chmod because open() applies the umask to `mode`.
      await file.chmod(mode);
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tempPath, path);
  } catch (err) {
    await rm(tempPath, { force: true });
    throw err;
  }

  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/**
 * Creates `path` with `contents` unless it already exists, in which case the
 * existing file is kept and the call returns without error.
 *
 * The file appears complete or not at all: the contents go to a fsynced
 * temporary file that is then hard-linked to `path`. Unlike rename, link does
 * not replace a file that a concurrent writer created first. A missing
 * directory is created with mode 0700, because it contains secret keys.
 */
export function writeFileExclusiveSync(
  path: string,
  contents: string,
  mode: number,
): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const tempPath = tempPathFor(path);
  const fd = openSync(tempPath, "wx", mode);
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }

  try {
    linkSync(tempPath, path);
  } catch (err) {
    if (errorCode(err) !== "EEXIST") throw err;
  } finally {
    unlinkSync(tempPath);
  }

  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Returns `${dataDir}/tickets/${registrationId}.pdf`.
 * Throws TicketPathError unless the id is 1-128 characters of [A-Za-z0-9-],
 * so an id can never name a path outside the tickets directory.
 */
export function ticketPdfPath(dataDir: string, registrationId: string): string {
  if (!REGISTRATION_ID_PATTERN.test(registrationId)) {
    throw new TicketPathError(
      "Invalid registration id for a ticket path: expected 1-128 characters of [A-Za-z0-9-]",
    );
  }
  return join(dataDir, "tickets", `${registrationId}.pdf`);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) {
    return undefined;
  }
  return typeof err.code === "string" ? err.code : undefined;
}

/**
 * Classifies a file system error: a full disk, an I/O error, too many open
 * files or a busy resource is transient, and anything else is permanent.
 * Follows the `cause` chain, so a wrapped error keeps its class.
 */
export function classifyFileError(err: unknown): "transient" | "permanent" {
  let current: unknown = err;
  // Bounded so that a cyclic cause chain cannot loop forever.
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    const code = errorCode(current);
    if (code !== undefined && TRANSIENT_CODES.has(code)) return "transient";
    current = current instanceof Error ? current.cause : undefined;
  }
  return "permanent";
}
