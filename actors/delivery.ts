/**
 * Mail delivery actor, one per mail sent for a ticket. Its Message-ID is fixed
 * at creation and reused on every attempt, so a duplicate after a crash is
 * recognisable as the same message.
 *
 *   sending  --MAIL.SENT-->      sent (final)
 *   sending  --MAIL.DEFERRED-->  waiting   (breaker open; this claim spends no
 *                                             attempt, earlier lost claims do)
 *   sending  --MAIL.FAILED-->    the failure ladder, checked in this order:
 *                                  cancelled        -> cancelled
 *                                  permanent        -> dead
 *                                  out of attempts  -> dead
 *                                  breaker open     -> waiting until the probe time
 *                                  otherwise        -> retrying after backoff
 *   waiting  --after delay-->    sending
 *   retrying --after backoff-->  sending
 *   dead     --REDRIVE-->        sending, with a fresh attempt budget
 *   dead     --DISCARD-->        discarded (final)
 *   any but final --CANCEL-->    cancelled (final)
 */
import { assign, setup } from "xstate";
import type { BackoffPolicy } from "../src/retry/backoff.ts";
import { retryTiming, type Delivered, type EffectResult, type Failure } from "./protocol.ts";

export const DELIVERY_MACHINE_VERSION = 1;

/** Upper bound on the extra spread added to a breaker wait, in milliseconds. */
export const BREAKER_WAIT_SPREAD_MS = 1000;

export interface DeliveryInput {
  deliveryId: string;
  registrationId: string;
  messageId: string;
}

export interface DeliveryContext extends DeliveryInput {
  attempts: number;
  retryDelayMs: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  sentAt: number | null;
}

export interface SendMailParams {
  deliveryId: string;
  registrationId: string;
  messageId: string;
  /** Number of this attempt, counting from 1. */
  attempt: number;
}

export type DeliveryEvent =
  | ({ type: "MAIL.SENT" } & EffectResult)
  | ({ type: "MAIL.DEFERRED"; retryAt: number } & EffectResult)
  | ({
      type: "MAIL.FAILED";
      failure: Failure;
      breakerOpen: boolean;
      breakerRetryAt: number | null;
    } & EffectResult)
  | ({ type: "REDRIVE" } & Partial<Delivered>)
  | ({ type: "DISCARD" } & Partial<Delivered>)
  | { type: "CANCEL" };

type FailedEvent = Extract<DeliveryEvent, { type: "MAIL.FAILED" }>;
type DeferredEvent = Extract<DeliveryEvent, { type: "MAIL.DEFERRED" }>;

function attemptsAfter(context: DeliveryContext, event: EffectResult) {
  return context.attempts + 1 + event.lostClaims;
}

/** Builds the delivery machine for a retry policy. */
export function createDeliveryMachine(policy: BackoffPolicy) {
  return setup({
    types: {} as {
      context: DeliveryContext;
      input: DeliveryInput;
      events: DeliveryEvent;
    },
    actions: {
      sendMail: (_, _params: SendMailParams) => {},
      recordFailure: assign(({ context, event }) => {
        const failed = event as FailedEvent;
        return {
          attempts: attemptsAfter(context, failed),
          lastError: failed.failure.message,
        };
      }),
      // Runs after recordFailure, so attempts already counts this failure.
      scheduleRetry: assign(({ context, event }) =>
        retryTiming(context.attempts, policy, event as FailedEvent),
      ),
      // Spreads the wake-ups of many waiting deliveries so the half-open
      // breaker is not met by all of them in the same millisecond.
      scheduleBreakerWait: assign(({ event }) => {
        const waiting = event as FailedEvent | DeferredEvent;
        const retryAt = waiting.type === "MAIL.DEFERRED"
          ? waiting.retryAt
          : (waiting.breakerRetryAt ?? waiting.at);
        const delay = Math.max(0, retryAt - waiting.at) +
          Math.floor(waiting.jitter * BREAKER_WAIT_SPREAD_MS);
        return { retryDelayMs: delay, nextAttemptAt: waiting.at + delay };
      }),
    },
    guards: {
      cancelled: ({ event }) => (event as FailedEvent).failure.class === "cancelled",
      permanent: ({ event }) => (event as FailedEvent).failure.class !== "transient",
      outOfAttempts: ({ context, event }) =>
        attemptsAfter(context, event as FailedEvent) >= policy.maxAttempts,
      breakerOpen: ({ event }) => (event as FailedEvent).breakerOpen,
    },
    delays: {
      retryDelay: ({ context }) => context.retryDelayMs,
    },
  }).createMachine({
    id: "delivery",
    context: ({ input }) => ({
      ...input,
      attempts: 0,
      retryDelayMs: 0,
      nextAttemptAt: null,
      lastError: null,
      sentAt: null,
    }),
    initial: "sending",
    states: {
      sending: {
        entry: [
          assign({ nextAttemptAt: null }),
          {
            type: "sendMail",
            params: ({ context }) => ({
              deliveryId: context.deliveryId,
              registrationId: context.registrationId,
              messageId: context.messageId,
              attempt: context.attempts + 1,
            }),
          },
        ],
        on: {
          "MAIL.SENT": {
            target: "sent",
            actions: assign({
              attempts: ({ context, event }) => attemptsAfter(context, event),
              lastError: null,
              sentAt: ({ event }) => event.at,
            }),
          },
          "MAIL.DEFERRED": {
            target: "waiting",
            actions: [
              // The breaker stopped this claim before it sent anything, but
              // earlier claims lost in a crash may have reached the server.
              assign({
                attempts: ({ context, event }) => context.attempts + event.lostClaims,
              }),
              "scheduleBreakerWait",
            ],
          },
          "MAIL.FAILED": [
            { guard: "cancelled", target: "cancelled" },
            { guard: "permanent", target: "dead", actions: "recordFailure" },
            { guard: "outOfAttempts", target: "dead", actions: "recordFailure" },
            {
              guard: "breakerOpen",
              target: "waiting",
              actions: ["recordFailure", "scheduleBreakerWait"],
            },
            { target: "retrying", actions: ["recordFailure", "scheduleRetry"] },
          ],
          CANCEL: "cancelled",
        },
      },
      waiting: {
        after: { retryDelay: "sending" },
        on: { CANCEL: "cancelled" },
      },
      retrying: {
        after: { retryDelay: "sending" },
        on: { CANCEL: "cancelled" },
      },
      dead: {
        on: {
          REDRIVE: { target: "sending", actions: assign({ attempts: 0 }) },
          DISCARD: "discarded",
          CANCEL: "cancelled",
        },
      },
      sent: { type: "final" },
      discarded: { type: "final" },
      cancelled: { type: "final" },
    },
  });
}

export type DeliveryMachine = ReturnType<typeof createDeliveryMachine>;
