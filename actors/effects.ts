/**
 * The side effects the ticket and delivery machines ask for: render the PDF
 * and send the mail. Each runs after its transition committed, under a lease,
 * and reports back as an event. Both are safe to repeat: the PDF is written
 * atomically to a path keyed by registration, and the mail carries a
 * Message-ID fixed when the delivery was created.
 */
import type { Database } from "bun:sqlite";
import type { Clock } from "../src/runtime/engine.ts";
import type { EffectContext, EffectHandler } from "../src/runtime/dispatcher.ts";
import { loadTicketData, startAttempt, finishAttempt } from "../src/store/deliveries.ts";
import type { TicketData } from "../src/store/deliveries.ts";
import type { RenderPool } from "../src/ticket/pool.ts";
import { signTicketToken, type TicketKeys } from "../src/ticket/token.ts";
import { classifyFileError, ticketPdfPath, writeFileAtomic } from "../src/ticket/files.ts";
import { classifySmtpError } from "../src/mail/classify.ts";
import type { CircuitBreaker } from "../src/mail/breaker.ts";
import type { MailTransport } from "../src/mail/transport.ts";
import type { SendMailParams } from "./delivery.ts";
import type { Failure } from "./protocol.ts";
import type { RenderParams } from "./ticket.ts";

export interface EffectDeps {
  db: Database;
  clock: Clock;
  dataDir: string;
  mailFrom: string;
  pool: RenderPool;
  keys: TicketKeys;
  transport: MailTransport;
  breaker: CircuitBreaker;
}

/** Codes of render errors that repeat on every try: a bug or bad input. */
const PERMANENT_RENDER_CODES = new Set(["UNRENDERABLE_TEXT", "INVALID_INPUT"]);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Classifies a render or file failure: bad input is permanent, I/O trouble transient. */
export function classifyRenderError(err: unknown): Failure {
  const code = errorCode(err);
  if (code !== undefined && PERMANENT_RENDER_CODES.has(code)) {
    return { class: "permanent", code, message: "the ticket could not be rendered: " + code };
  }
  if (code !== undefined && code.startsWith("E")) {
    return {
      class: classifyFileError(err),
      code,
      message: `the ticket file could not be written (${code})`,
    };
  }
  const aborted = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
  return {
    class: "transient",
    code: code ?? (aborted ? "ETIMEDOUT" : undefined),
    message: aborted ? "rendering the ticket timed out" : "rendering the ticket failed",
  };
}

/** Renders the ticket PDF and stores it atomically, returning its bytes. */
async function renderAndStore(deps: EffectDeps, data: TicketData, signal: AbortSignal) {
  const pdf = await deps.pool.render(
    {
      ticketId: data.ticketId,
      eventTitle: data.eventTitle,
      startsAt: data.startsAt,
      timeZone: data.timeZone,
      venue: data.venue,
      attendeeName: data.attendeeName,
      token: signTicketToken(deps.keys, data.ticketId, data.eventId),
    },
    signal,
  );
  await writeFileAtomic(ticketPdfPath(deps.dataDir, data.registrationId), pdf);
  return pdf;
}

/** How often mail deferred behind an outstanding half-open probe looks again, in ms. */
export const HALF_OPEN_RECHECK_MS = 2000;

/**
 * Returns when deferred mail should try again. While open, that is the probe
 * time. While a half-open probe is out, it is soon, because the probe usually
 * finishes long before its timeout and closes the breaker.
 */
function deferUntil(deps: EffectDeps): number {
  const now = deps.clock.now();
  const retryAt = deps.breaker.retryAt() ?? now;
  if (deps.breaker.state() !== "half_open") return retryAt;
  return Math.min(retryAt, now + HALF_OPEN_RECHECK_MS);
}

const CANCELLED: Failure = { class: "cancelled", message: "the registration was cancelled" };

export function renderHandler(deps: EffectDeps): EffectHandler {
  return {
    async run(params, context) {
      const { registrationId } = params as RenderParams;
      const data = await loadTicketData(deps.db, registrationId);
      if (data === null || data.registrationStatus === "cancelled") {
        return { type: "RENDER.FAILED", failure: CANCELLED };
      }

      context.log.info({ registrationId, claims: context.claims }, "ticket render started");
      await renderAndStore(deps, data, context.signal);
      context.log.info({ registrationId }, "ticket rendered");
      return { type: "RENDERED" };
    },
    fail(err, params, context) {
      const failure = classifyRenderError(err);
      context.log.warn(
        { registrationId: (params as RenderParams).registrationId, failure },
        "ticket render failed",
      );
      return { type: "RENDER.FAILED", failure };
    },
  };
}

async function readTicketPdf(deps: EffectDeps, data: TicketData, signal: AbortSignal) {
  const file = Bun.file(ticketPdfPath(deps.dataDir, data.registrationId));
  // The file is gone only if someone removed it by hand; render it again.
  if (!(await file.exists())) return renderAndStore(deps, data, signal);
  return new Uint8Array(await file.arrayBuffer());
}

export function sendMailHandler(deps: EffectDeps): EffectHandler {
  return {
    async run(params, context) {
      const p = params as SendMailParams;
      const attempt = p.attempt + context.claims - 1;
      const log = context.log.child({
        registrationId: p.registrationId,
        deliveryId: p.deliveryId,
        attempt,
      });

      const data = await loadTicketData(deps.db, p.registrationId);
      if (data === null || data.registrationStatus === "cancelled") {
        log.info("mail not sent: registration cancelled");
        return mailFailed(deps, CANCELLED);
      }

      if (!deps.breaker.canSend()) {
        const retryAt = deferUntil(deps);
        log.info({ retryAt: new Date(retryAt).toISOString() }, "mail deferred: breaker open");
        return { type: "MAIL.DEFERRED", retryAt };
      }

      const attemptId = await startAttempt(deps.db, p.deliveryId, attempt, deps.clock.now());
      log.info({ transport: deps.transport.name }, "mail attempt started");
      try {
        const pdf = await readTicketPdf(deps, data, context.signal);
        const outcome = await deps.transport.send(
          {
            messageId: p.messageId,
            from: deps.mailFrom,
            to: { name: data.attendeeName, address: data.attendeeEmail },
            eventTitle: data.eventTitle,
            startsAt: data.startsAt,
            timeZone: data.timeZone,
            venue: data.venue,
            attendeeName: data.attendeeName,
            ticketId: data.ticketId,
            pdf,
          },
          context.signal,
        );
        deps.breaker.recordSuccess();
        await finishAttempt(
          deps.db,
          attemptId,
          { outcome: "sent", reply: outcome.response },
          deps.clock.now(),
        );
        log.info({ messageId: p.messageId }, "mail sent");
        return { type: "MAIL.SENT" };
      } catch (err) {
        const failure = classifySmtpError(err);
        if (failure.class === "transient") deps.breaker.recordTransientFailure();
        else deps.breaker.recordPermanentFailure();
        await finishAttempt(
          deps.db,
          attemptId,
          {
            outcome: "failed",
            failureClass: failure.class,
            replyCode: failure.replyCode,
            reply: failure.reply,
            errorCode: failure.code,
            message: failure.message,
          },
          deps.clock.now(),
        );
        log.warn(
          { failureClass: failure.class, code: failure.code, replyCode: failure.replyCode },
          "mail attempt failed",
        );
        return mailFailed(deps, failure);
      }
    },
    fail(err, _params, context: EffectContext) {
      const failure = classifySmtpError(err);
      context.log.warn({ failureClass: failure.class, code: failure.code }, "mail attempt failed");
      return mailFailed(deps, failure);
    },
  };
}

function mailFailed(deps: EffectDeps, failure: Failure) {
  const open = deps.breaker.state() === "open";
  return {
    type: "MAIL.FAILED",
    failure,
    breakerOpen: open,
    breakerRetryAt: open ? deps.breaker.retryAt() : null,
  };
}
