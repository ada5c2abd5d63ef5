/**
 * The embedded transport used when no SMTP server is configured: each mail becomes an
 * .eml file in the outbox directory, named after its Message-ID.
 */

import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { createAbortError, OutboxWriteError } from "./errors.ts";
import { buildMailOptions } from "./message.ts";
import type { MailTransport } from "./transport.ts";

const MAX_FILE_STEM_LENGTH = 200;

/**
 * Creates the outbox transport. A file is written to a temporary name, synced and
 * renamed, so a reader never sees half a message. The same Message-ID always maps
 * to the same file, so a repeated attempt overwrites the file instead of adding one.
 */
export function createOutboxTransport(dir: string): MailTransport {
  const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true });

  return {
    name: "outbox",

    async send(mail, signal) {
      const info = await transporter.sendMail({ ...buildMailOptions(mail), signal });
      if (!Buffer.isBuffer(info.message)) {
        throw new OutboxWriteError("Mail composer returned a stream instead of a buffer");
      }
      const fileName = `${outboxFileStem(info.messageId)}.eml`;
      await writeFileAtomically(dir, fileName, info.message, signal);
      return {
        messageId: info.messageId,
        accepted: [mail.to.address],
        rejected: [],
        response: `saved as ${fileName}`,
      };
    },

    close() {
      transporter.close();
    },
  };
}

/**
 * Returns a file name stem for a Message-ID: angle brackets dropped, every character
 * outside letters, digits, ".", "-", "_" and "@" replaced with "_", and no leading dot.
 * Different IDs can map to the same stem only if they differ in replaced characters.
 */
export function outboxFileStem(messageId: string): string {
  const stem = messageId
    .replace(/^\s*<|>\s*$/g, "")
    .replace(/[^A-Za-z0-9.@_-]/g, "_")
    .replace(/^\.+/, "_")
    .slice(0, MAX_FILE_STEM_LENGTH);
  return stem === "" ? "_" : stem;
}

async function writeFileAtomically(
  dir: string,
  fileName: string,
  content: Buffer,
  signal: AbortSignal,
): Promise<void> {
  const target = join(dir, fileName);
  const temporary = join(dir, `.${fileName}.${randomBytes(6).toString("hex")}.tmp`);

  try {
    await mkdir(dir, { recursive: true });
    throwIfAborted(signal);

    const handle = await open(temporary, "w", 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    throwIfAborted(signal);

    await rename(temporary, target);
    await syncDirectory(dir);
  } catch (error) {
    // The temporary file may not exist, or the directory may be unusable. Either way
    // the original error is the one to report.
    await rm(temporary, { force: true }).catch(() => {});
    if (isAbortError(error)) throw error;
    throw new OutboxWriteError(`Writing ${target} failed`, { cause: error });
  }
}

/** Syncs the directory so the rename survives a crash. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw createAbortError(signal);
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}
