/**
 * Ticket actor, one per registration: renders the PDF, then hands it to mail
 * delivery actors.
 *
 *   pending   --ISSUE-->            rendering
 *   rendering --RENDERED-->         delivering (spawns the first delivery)
 *   rendering --RENDER.FAILED-->    the failure ladder:
 *                                     cancelled          -> cancelled
 *                                     permanent          -> dead
 *                                     out of attempts    -> dead
 *                                     otherwise          -> retrying
 *   retrying  --after backoff-->    rendering
 *   delivering --RESEND-->          delivering (cancels the current delivery unless it
 *                                   finished, and spawns a new one with a new Message-ID)
 *   dead      --RESEND-->           rendering
 *   pending, rendering, retrying --RESEND--> same state, the coming delivery renamed
 *   any but cancelled --CANCEL-->   cancelled (final)
 *
 * The render effect writes the PDF keyed by registration id, so running it
 * twice after a crash overwrites the same file.
 */
import { assign, setup } from "xstate";
import type { BackoffPolicy } from "../src/retry/backoff.ts";
import {
  retryTiming,
  type Delivered,
  type EffectResult,
  type Failure,
  type SendParams,
  type SpawnParams,
} from "./protocol.ts";

export const TICKET_MACHINE_VERSION = 1;

export interface TicketInput {
  ticketId: string;
  registrationId: string;
  deliveryId: string;
  messageId: string;
}

export interface TicketContext extends TicketInput {
  renderAttempts: number;
  retryDelayMs: number;
  nextAttemptAt: number | null;
  lastError: string | null;
}

export interface RenderParams {
  registrationId: string;
}

export type TicketEvent =
  | ({ type: "ISSUE" } & Partial<Delivered>)
  | ({ type: "RENDERED" } & EffectResult)
  | ({ type: "RENDER.FAILED"; failure: Failure } & EffectResult)
  | ({ type: "RESEND"; deliveryId: string; messageId: string } & Partial<Delivered>)
  | { type: "CANCEL" };

type FailedEvent = Extract<TicketEvent, { type: "RENDER.FAILED" }>;

function attemptsAfter(context: TicketContext, event: FailedEvent) {
  return context.renderAttempts + 1 + event.lostClaims;
}

/** Builds the ticket machine for a retry policy. */
export function createTicketMachine(policy: BackoffPolicy) {
  const spawnDelivery = {
    type: "spawn" as const,
    params: ({ context }: { context: TicketContext }): SpawnParams => ({
      kind: "delivery",
      id: context.deliveryId,
      input: {
        deliveryId: context.deliveryId,
        registrationId: context.registrationId,
        messageId: context.messageId,
      },
    }),
  };

  return setup({
    types: {} as {
      context: TicketContext;
      input: TicketInput;
      events: TicketEvent;
    },
    actions: {
      render: (_, _params: RenderParams) => {},
      spawn: (_, _params: SpawnParams) => {},
      send: (_, _params: SendParams) => {},
      recordFailure: assign(({ context, event }) => {
        const failed = event as FailedEvent;
        return {
          renderAttempts: attemptsAfter(context, failed),
          lastError: failed.failure.message,
        };
      }),
      // Runs after recordFailure, so renderAttempts already counts this failure.
      scheduleRetry: assign(({ context, event }) =>
        retryTiming(context.renderAttempts, policy, event as FailedEvent),
      ),
    },
    guards: {
      // The ladder that decides a failed render's fate, checked in this order.
      cancelled: ({ event }) => (event as FailedEvent).failure.class === "cancelled",
      permanent: ({ event }) => (event as FailedEvent).failure.class !== "transient",
      outOfAttempts: ({ context, event }) =>
        attemptsAfter(context, event as FailedEvent) >= policy.maxAttempts,
    },
    delays: {
      retryDelay: ({ context }) => context.retryDelayMs,
    },
  }).createMachine({
    id: "ticket",
    context: ({ input }) => ({
      ...input,
      renderAttempts: 0,
      retryDelayMs: 0,
      nextAttemptAt: null,
      lastError: null,
    }),
    initial: "pending",
    on: {
      CANCEL: ".cancelled",
      // Before the first delivery exists, a resend only renames it.
      RESEND: {
        actions: assign({
          deliveryId: ({ event }) => event.deliveryId,
          messageId: ({ event }) => event.messageId,
        }),
      },
    },
    states: {
      pending: {
        on: { ISSUE: "rendering" },
      },
      rendering: {
        entry: [
          assign({ nextAttemptAt: null }),
          {
            type: "render",
            params: ({ context }) => ({ registrationId: context.registrationId }),
          },
        ],
        on: {
          RENDERED: {
            target: "delivering",
            actions: [
              assign({
                renderAttempts: ({ context, event }) =>
                  context.renderAttempts + 1 + event.lostClaims,
                lastError: null,
              }),
              spawnDelivery,
            ],
          },
          "RENDER.FAILED": [
            { guard: "cancelled", target: "cancelled" },
            { guard: "permanent", target: "dead", actions: "recordFailure" },
            { guard: "outOfAttempts", target: "dead", actions: "recordFailure" },
            { target: "retrying", actions: ["recordFailure", "scheduleRetry"] },
          ],
        },
      },
      retrying: {
        after: { retryDelay: "rendering" },
      },
      delivering: {
        on: {
          RESEND: {
            actions: [
              // The previous delivery stops unless it already finished, so the
              // attendee gets one copy per resend, not two.
              {
                type: "send",
                params: ({ context }) => ({
                  to: context.deliveryId,
                  event: { type: "CANCEL" },
                }),
              },
              assign({
                deliveryId: ({ event }) => event.deliveryId,
                messageId: ({ event }) => event.messageId,
              }),
              spawnDelivery,
            ],
          },
        },
      },
      dead: {
        on: {
          RESEND: {
            target: "rendering",
            actions: assign({
              renderAttempts: 0,
              deliveryId: ({ event }) => event.deliveryId,
              messageId: ({ event }) => event.messageId,
            }),
          },
        },
      },
      cancelled: { type: "final" },
    },
  });
}

export type TicketMachine = ReturnType<typeof createTicketMachine>;
