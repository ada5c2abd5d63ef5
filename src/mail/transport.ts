/**
 * Mail transports: SMTP through a small nodemailer connection pool, or the outbox
 * directory when no SMTP server is configured.
 */

import nodemailer from "nodemailer";
import { MailConfigError, PartialDeliveryError } from "./errors.ts";
import { buildMailOptions, type TicketMail } from "./message.ts";

export { createOutboxTransport } from "./outbox.ts";
export { MailConfigError, PartialDeliveryError } from "./errors.ts";

export interface SendOutcome {
  messageId: string;
  accepted: string[];
  rejected: string[];
  /** Final server reply, such as "250 OK: queued as 1A2B". */
  response: string;
}

export interface MailTransport {
  /** Name for logs and metrics, without credentials, such as "smtp:mail.example.com:587". */
  readonly name: string;
  /**
   * Sends one ticket mail. Rejects with nodemailer's error (see classifySmtpError),
   * with PartialDeliveryError when some recipients were rejected, or with an
   * AbortError as soon as `signal` aborts.
   */
  send(mail: TicketMail, signal: AbortSignal): Promise<SendOutcome>;
  /** Closes idle connections. A send in progress still finishes. */
  close(): void;
}

export interface SmtpTransportOptions {
  /** smtp:// or smtps:// URL, with credentials if the server needs them. */
  url: string;
  /**
   * Connect, greeting, DNS and idle-socket timeout for one attempt, in ms. A server
   * that trickles bytes keeps resetting the idle timer, so the AbortSignal passed to
   * send() must carry the whole-attempt deadline.
   */
  timeoutMs: number;
  /** Maximum number of open connections. Defaults to 3. */
  maxConnections?: number;
}

const DEFAULT_MAX_CONNECTIONS = 3;

/** Messages per connection before the pool replaces it, so no session lives forever. */
const MAX_MESSAGES_PER_CONNECTION = 100;

/**
 * Creates an SMTP transport on a pooled nodemailer transport.
 *
 * Cancellation: nodemailer 10 accepts an AbortSignal per message. On abort it rejects
 * the send at once, removes a queued message from the pool's queue, and closes the
 * connection that was delivering it. The pool never opens more than `maxConnections`
 * connections, so hung servers and aborted sends can't make open connections grow.
 */
export function createSmtpTransport(opts: SmtpTransportOptions): MailTransport {
  const name = describeSmtpUrl(opts.url);
  const transporter = nodemailer.createTransport({
    url: opts.url,
    pool: true,
    maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxMessages: MAX_MESSAGES_PER_CONNECTION,
    // The pool sends a message again on a new connection when the old one closed before
    // a byte of it went out, as with a server that dropped an idle pooled connection.
    // One such resend is enough, because the retry policy handles anything more.
    maxRequeues: 1,
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs,
    dnsTimeout: opts.timeoutMs,
    // Destroy the socket on close instead of waiting for a hung server to end its side.
    socketCloseTimeout: 0,
  });
  // Each failing send rejects with its own error, so transport-level error events
  // carry nothing new. They must have a listener, or EventEmitter throws them.
  transporter.on("error", () => {});

  return {
    name,

    async send(mail, signal) {
      const info = await transporter.sendMail({ ...buildMailOptions(mail), signal });
      const { accepted, rejected } = info;
      if (rejected.length > 0) {
        throw new PartialDeliveryError(accepted, rejected, info.response);
      }
      return { messageId: info.messageId, accepted, rejected, response: info.response };
    },

    close() {
      transporter.close();
    },
  };
}

/**
 * Returns "smtp:<host>:<port>" for an SMTP URL, leaving out credentials. The port
 * defaults as in nodemailer: 465 for smtps, 587 for smtp.
 */
export function describeSmtpUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // No cause: the URL parser's message repeats the input, password included.
    throw new MailConfigError("SMTP_URL is not a valid URL");
  }
  let port = Number(parsed.port);
  if (parsed.port === "") {
    port = parsed.protocol === "smtps:" ? 465 : 587;
  }
  return `smtp:${parsed.hostname}:${port}`;
}
