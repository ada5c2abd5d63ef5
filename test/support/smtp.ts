/**
 * A fault-injecting SMTP server for tests, on smtp-server, bound to 127.0.0.1 on a
 * random port. It stores every accepted message, parsed with mailparser.
 *
 * Faults form a queue and each fault is used once. A "greeting" fault applies to the
 * next new connection. A "mail", "rcpt" or "data" fault applies to the next mail
 * transaction (MAIL FROM) on any connection, so pooled connections that were opened
 * before setFault() still get it.
 */

import type { Socket } from "node:net";
import { type AddressObject, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerSession } from "smtp-server";

export type FaultStage = "greeting" | "mail" | "rcpt" | "data";

export type Fault =
  | { stage: FaultStage; action: "reply"; code: number; message?: string }
  /** Never replies. The client's timeout or abort, or close(), ends the wait. */
  | { stage: FaultStage; action: "hang" }
  /** Destroys the socket without a reply. At "data", after the message was read. */
  | { stage: FaultStage; action: "drop" };

export interface ReceivedAttachment {
  filename: string | undefined;
  contentType: string;
  content: Buffer;
}

export interface ReceivedMail {
  raw: Buffer;
  envelope: { from: string; to: string[] };
  messageId: string | undefined;
  /** Addresses in the To header. */
  to: string[];
  subject: string | undefined;
  text: string | undefined;
  html: string | undefined;
  attachments: ReceivedAttachment[];
}

export interface FakeSmtp {
  port: number;
  /** smtp://127.0.0.1:PORT */
  url: string;
  messages: ReceivedMail[];
  /**
   * Messages whose content arrived but drew a "data" fault, parsed. Filled only
   * with the `recordRejected` option.
   */
  rejected: ReceivedMail[];
  /** Replaces the fault queue. */
  setFault(fault: Fault | Fault[]): void;
  /** Resolves once at least `n` messages arrived, or rejects after `timeoutMs`. */
  waitForMessages(n: number, timeoutMs: number): Promise<ReceivedMail[]>;
  /** Connections open right now. */
  connections(): number;
  /** Connections accepted since the start. */
  connectionsOpened(): number;
  /** Drops every connection, releases every hang and stops listening. */
  close(): Promise<void>;
}

interface Waiter {
  count: number;
  resolve: (messages: ReceivedMail[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type Callback = (err?: Error | null) => void;

export interface SmtpServerOptions {
  /**
   * Accepted AUTH PLAIN/LOGIN credentials, user to password. AUTH is offered over plain
   * loopback and any other login fails with 535. Sending without AUTH is always allowed.
   */
  users?: Record<string, string>;
  /** Keep every message that drew a "data" fault in `rejected`. */
  recordRejected?: boolean;
}

export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<FakeSmtp> {
  const messages: ReceivedMail[] = [];
  const rejected: ReceivedMail[] = [];
  const sockets = new Map<number, Socket>();
  const transactionFaults = new Map<string, Fault>();
  const waiters: Waiter[] = [];
  let faults: Fault[] = [];
  let opened = 0;

  function socketOf(session: SMTPServerSession): Socket | undefined {
    return sockets.get(session.remotePort);
  }

  /** Applies a fault. Returns without calling `callback` for hang and drop. */
  function applyFault(fault: Fault, session: SMTPServerSession, callback: Callback): void {
    if (fault.action === "reply") {
      const error = Object.assign(new Error(fault.message ?? `Fault ${fault.code}`), {
        responseCode: fault.code,
      });
      callback(error);
      return;
    }
    if (fault.action === "drop") {
      socketOf(session)?.destroy();
    }
    // A hang keeps the callback unreferenced, so the session waits until its socket closes.
  }

  function notifyWaiters(): void {
    for (const waiter of [...waiters]) {
      if (messages.length < waiter.count) continue;
      clearTimeout(waiter.timer);
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(messages.slice());
    }
  }

  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ["STARTTLS"],

    onAuth(auth, _session, callback) {
      const expected = auth.username === undefined ? undefined : options.users?.[auth.username];
      if (expected !== undefined && auth.password === expected) {
        return callback(null, { user: auth.username });
      }
      const error = Object.assign(new Error("Authentication credentials invalid"), {
        responseCode: 535,
      });
      callback(error);
    },

    onConnect(session, callback) {
      const fault = faults[0];
      if (fault?.stage !== "greeting") return callback();
      faults.shift();
      applyFault(fault, session, callback);
    },

    onMailFrom(_address, session, callback) {
      const fault = faults[0];
      transactionFaults.delete(session.id);
      if (fault !== undefined && fault.stage !== "greeting") {
        faults.shift();
        transactionFaults.set(session.id, fault);
      }
      takeFault(session, "mail", callback);
    },

    onRcptTo(_address, session, callback) {
      takeFault(session, "rcpt", callback);
    },

    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (error) => callback(error));
      stream.on("end", () => {
        const fault = transactionFaults.get(session.id);
        const raw = Buffer.concat(chunks);
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((recipient) => recipient.address),
        };
        if (fault?.stage === "data") {
          transactionFaults.delete(session.id);
          if (options.recordRejected === true) {
            // A message that fails to parse is only left out of `rejected`.
            parseMail(raw, envelope).then((mail) => rejected.push(mail), () => {});
          }
          applyFault(fault, session, callback);
          return;
        }
        parseMail(raw, envelope).then(
          (mail) => {
            messages.push(mail);
            notifyWaiters();
            callback();
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      });
    },
  });

  function takeFault(session: SMTPServerSession, stage: FaultStage, callback: Callback): void {
    const fault = transactionFaults.get(session.id);
    if (fault?.stage !== stage) return callback();
    transactionFaults.delete(session.id);
    applyFault(fault, session, callback);
  }

  // Clients that vanish mid-session raise socket errors here. They are expected.
  server.on("error", () => {});

  server.server.on("connection", (socket: Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    opened += 1;
    sockets.set(port, socket);
    socket.once("close", () => {
      if (sockets.get(port) === socket) sockets.delete(port);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.server.off("error", reject);
      resolve();
    });
  });
  const address = server.server.address();
  if (address === null || typeof address === "string") {
    throw new Error("SMTP test server has no TCP address");
  }
  const port = address.port;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    rejected,

    setFault(fault) {
      faults = Array.isArray(fault) ? [...fault] : [fault];
    },

    waitForMessages(count, timeoutMs) {
      if (messages.length >= count) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          const got = messages.length;
          reject(new Error(`expected ${count} messages within ${timeoutMs} ms, got ${got}`));
        }, timeoutMs);
        const waiter: Waiter = { count, resolve, reject, timer };
        waiters.push(waiter);
      });
    },

    connections() {
      return sockets.size;
    },

    connectionsOpened() {
      return opened;
    },

    async close() {
      faults = [];
      transactionFaults.clear();
      for (const waiter of waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("SMTP test server closed"));
      }
      // Destroying the sockets also ends every hang: a held callback is never called.
      for (const socket of sockets.values()) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function parseMail(
  raw: Buffer,
  envelope: { from: string; to: string[] },
): Promise<ReceivedMail> {
  const parsed = await simpleParser(raw);
  let toHeader: AddressObject[] = [];
  if (Array.isArray(parsed.to)) {
    toHeader = parsed.to;
  } else if (parsed.to !== undefined) {
    toHeader = [parsed.to];
  }
  const to = toHeader.flatMap((group) => group.value.map((entry) => entry.address ?? ""));
  return {
    raw,
    envelope,
    messageId: parsed.messageId,
    to,
    subject: parsed.subject,
    text: parsed.text,
    html: parsed.html === false ? undefined : parsed.html,
    attachments: parsed.attachments.map((attachment) => ({
      filename: attachment.filename,
      contentType: attachment.contentType,
      content: attachment.content,
    })),
  };
}
