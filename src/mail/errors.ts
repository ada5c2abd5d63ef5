/** Typed errors raised by the mail transports. Each carries a `code` for classification. */

/** Raised when the server accepted the message for some recipients but rejected others. */
export class PartialDeliveryError extends Error {
  override name = "PartialDeliveryError";
  readonly code = "EPARTIAL";
  readonly accepted: string[];
  readonly rejected: string[];
  readonly response: string;

  constructor(accepted: string[], rejected: string[], response: string) {
    const total = accepted.length + rejected.length;
    super(`SMTP server rejected ${rejected.length} of ${total} recipients`);
    this.accepted = accepted;
    this.rejected = rejected;
    this.response = response;
  }
}

/** Raised when a transport's settings are invalid, such as an unparsable SMTP_URL. */
export class MailConfigError extends Error {
  override name = "MailConfigError";
  readonly code = "ECONFIG";
}

/** Raised when the outbox can't store a message file. `code` is the file system's code. */
export class OutboxWriteError extends Error {
  override name = "OutboxWriteError";
  readonly code: string;

  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    const causeCode = (options?.cause as { code?: unknown } | null | undefined)?.code;
    this.code = typeof causeCode === "string" ? causeCode : "EOUTBOX";
  }
}

/**
 * Returns the error a cancelled send rejects with. It has the same name and code as
 * nodemailer's own abort error, so both classify the same way.
 */
export function createAbortError(signal: AbortSignal): Error & { code: string } {
  const error = new Error("Message sending aborted", { cause: signal.reason }) as Error & {
    code: string;
  };
  error.name = "AbortError";
  error.code = "EABORT";
  return error;
}
