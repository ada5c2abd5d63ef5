/**
 * Sorts a failed send into what happens next: retry later (transient), dead-letter at
 * once (permanent), or dead-letter with a reason an operator must fix (config).
 * The SMTP reply code decides first, then the error code. Unknown errors are transient,
 * so a surprise costs a retry rather than a lost ticket.
 */

import { OutboxWriteError } from "./errors.ts";

export type FailureClass = "transient" | "permanent" | "config";

export interface DeliveryFailure {
  class: FailureClass;
  /** Short text, safe to show and store: credentials in URLs are removed. */
  message: string;
  /** Error code, such as nodemailer's EENVELOPE or a system code like ECONNREFUSED. */
  code?: string;
  /** SMTP reply code, such as 451 or 550. */
  replyCode?: number;
  /** SMTP reply text, cleaned the same way as `message`. */
  reply?: string;
  /** Minimum wait in ms that the provider asked for before the next attempt. */
  retryAfterMs?: number;
}

const MAX_TEXT_LENGTH = 300;

/** Codes for a message that no server will take as it is, so a retry can't help. */
const PERMANENT_CODES = new Set(["EPARTIAL", "EENVELOPE", "EMAXRECIPIENTS"]);

/** Node.js TLS certificate verification codes. */
const CERTIFICATE_CODES = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Operator-facing messages for errors that only a configuration change fixes. */
const CONFIG_MESSAGES: Record<string, string> = {
  EAUTH: "SMTP authentication failed. Check the user and password in SMTP_URL.",
  ENOAUTH: "SMTP server requires authentication. Add a user and password to SMTP_URL.",
  EOAUTH2: "SMTP OAuth2 token request failed. Check the mail credentials.",
  ETLS:
    "TLS with the SMTP server failed. " +
    "Check the host, port and scheme (smtp or smtps) in SMTP_URL.",
  EREQUIRETLS: "SMTP server does not support the required TLS extension. Check SMTP_URL.",
  ECONFIG: "Mail transport configuration is invalid. Check SMTP_URL.",
};

const CERTIFICATE_MESSAGE =
  "SMTP server certificate was rejected. " +
  "Check the host name in SMTP_URL and the server's certificate.";

/**
 * Auth replies from RFC 4954: 530 authentication required, 534 mechanism too weak,
 * 535 invalid credentials, 538 encryption required. They reject the session's
 * credentials, not the message.
 */
const AUTH_REPLY_CODES = new Set([530, 534, 535, 538]);

const OUTBOX_CONFIG_CODES = new Set(["EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR"]);

const OUTBOX_CONFIG_MESSAGE =
  "Mail outbox directory is not writable. Check DATA_DIR and its permissions.";

interface ErrorFields {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  originalCode?: unknown;
  responseCode?: unknown;
  response?: unknown;
  retryAfterMs?: unknown;
  timeoutType?: unknown;
  cause?: unknown;
}

/** Classifies a failed send from whatever value it rejected with, Error or not. */
export function classifySmtpError(err: unknown): DeliveryFailure {
  const fields: ErrorFields = typeof err === "object" && err !== null ? err : {};
  const code = typeof fields.code === "string" ? fields.code : undefined;
  const originalCode = typeof fields.originalCode === "string" ? fields.originalCode : undefined;
  const replyCode = readReplyCode(fields);
  const base: Omit<DeliveryFailure, "class" | "message"> = {};
  if (code !== undefined) base.code = code;
  if (replyCode !== undefined) base.replyCode = replyCode;
  if (typeof fields.response === "string" && fields.response !== "") {
    base.reply = cleanText(fields.response);
  }
  const retryAfterMs = readRetryAfter(fields.retryAfterMs);
  if (retryAfterMs !== undefined) base.retryAfterMs = retryAfterMs;

  const detail = cleanText(describe(fields, err));

  if (isAbort(fields)) {
    const timedOut = fields.name === "TimeoutError" || isTimeoutReason(fields.cause);
    const message = timedOut ? "Mail send timed out" : "Mail send was aborted";
    return { ...base, class: "transient", code: code ?? "EABORT", message };
  }

  if (err instanceof OutboxWriteError) {
    if (OUTBOX_CONFIG_CODES.has(err.code)) {
      return { ...base, class: "config", message: OUTBOX_CONFIG_MESSAGE };
    }
    return { ...base, class: "transient", message: detail };
  }

  // A 4xx reply during AUTH or STARTTLS (454 temporary failure) may pass by itself.
  const isTransientReply = replyCode !== undefined && replyCode >= 400 && replyCode < 500;
  const configMessage = configMessageFor(code, originalCode, replyCode);
  if (configMessage !== undefined && !isTransientReply) {
    return { ...base, class: "config", message: configMessage };
  }

  if (replyCode !== undefined) {
    return { ...base, class: classifyReplyCode(replyCode), message: detail };
  }

  if (code !== undefined && PERMANENT_CODES.has(code)) {
    return { ...base, class: "permanent", message: detail };
  }
  // Connection, DNS, socket and timeout errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT,
  // EPIPE, ENOTFOUND, EAI_AGAIN, EDNS, ESOCKET, ECONNECTION) and unknown errors.
  return { ...base, class: "transient", message: detail };
}

/**
 * Returns the class of an SMTP reply code. 503 (bad sequence of commands) is transient
 * although it is a 5xx reply, because it rejects the session's state rather than the
 * message, and nodemailer 10 marks it not permanent for the same reason.
 */
export function classifyReplyCode(replyCode: number): FailureClass {
  if (AUTH_REPLY_CODES.has(replyCode)) return "config";
  if (replyCode >= 500 && replyCode < 600 && replyCode !== 503) return "permanent";
  // 4xx, 503 and any unexpected 2xx or 3xx reply.
  return "transient";
}

function configMessageFor(
  code: string | undefined,
  originalCode: string | undefined,
  replyCode: number | undefined,
): string | undefined {
  if (code !== undefined && CERTIFICATE_CODES.has(code)) return CERTIFICATE_MESSAGE;
  if (originalCode !== undefined && CERTIFICATE_CODES.has(originalCode)) return CERTIFICATE_MESSAGE;
  if (code !== undefined && CONFIG_MESSAGES[code] !== undefined) return CONFIG_MESSAGES[code];
  if (replyCode !== undefined && AUTH_REPLY_CODES.has(replyCode)) return CONFIG_MESSAGES.EAUTH;
  return undefined;
}

function readReplyCode(fields: ErrorFields): number | undefined {
  const value = fields.responseCode;
  if (typeof value === "number" && Number.isInteger(value) && value >= 200 && value < 600) {
    return value;
  }
  return undefined;
}

function readRetryAfter(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return Math.ceil(value);
  return undefined;
}

function isAbort(fields: ErrorFields): boolean {
  return fields.name === "AbortError" || fields.name === "TimeoutError" || fields.code === "EABORT";
}

/** Tells whether an abort's reason is a deadline (AbortSignal.timeout's TimeoutError). */
function isTimeoutReason(reason: unknown): boolean {
  return typeof reason === "object" && reason !== null && "name" in reason
    ? reason.name === "TimeoutError"
    : false;
}

function describe(fields: ErrorFields, err: unknown): string {
  const timeoutType = fields.timeoutType;
  if (fields.code === "ETIMEDOUT" && typeof timeoutType === "string") {
    return `SMTP server timed out (${timeoutType})`;
  }
  if (typeof fields.message === "string" && fields.message !== "") return fields.message;
  if (typeof err === "string" && err !== "") return err;
  return "Unknown mail delivery error";
}

/**
 * Removes userinfo from URLs, joins lines and caps the length, so the text is safe
 * to store in the attempt history and show on the dashboard.
 */
export function cleanText(text: string): string {
  const redacted = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1***@");
  const oneLine = redacted.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  if (oneLine.length <= MAX_TEXT_LENGTH) return oneLine;
  return `${oneLine.slice(0, MAX_TEXT_LENGTH - 1)}…`;
}
