import type { Database } from "bun:sqlite";
import type { DeliveryContext } from "../../actors/delivery.ts";
import type { TicketContext } from "../../actors/ticket.ts";

export type TicketStatus =
  | "pending"
  | "rendering"
  | "sending"
  | "retrying"
  | "sent"
  | "dead"
  | "cancelled";

export interface TicketView {
  status: TicketStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  delivery_id: string | null;
  message_id: string | null;
}

/** The ticket of a registration that was just created: nothing has run yet. */
export const PENDING_TICKET: Readonly<TicketView> = {
  status: "pending",
  attempts: 0,
  next_attempt_at: null,
  last_error: null,
  delivery_id: null,
  message_id: null,
};

interface ActorSummary {
  id: string;
  state: string;
  snapshot: string;
}

const TICKET_STATES: Record<string, TicketStatus> = {
  pending: "pending",
  rendering: "rendering",
  retrying: "retrying",
  dead: "dead",
  cancelled: "cancelled",
};

const DELIVERY_STATES: Record<string, TicketStatus> = {
  sending: "sending",
  waiting: "retrying",
  retrying: "retrying",
  sent: "sent",
  dead: "dead",
  discarded: "dead",
  cancelled: "cancelled",
};

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * Derives a ticket's public status from its ticket actor and, once rendered,
 * its current delivery actor.
 */
export async function ticketView(db: Database, ticketActorId: string): Promise<TicketView> {
  const pick = db.query<ActorSummary, [string]>(
    `SELECT id, state, snapshot FROM actors WHERE id = ?`,
  );
  const ticket = pick.get(ticketActorId);
  if (ticket === null) return PENDING_TICKET;

  const context = (JSON.parse(ticket.snapshot) as { context: TicketContext }).context;
  if (ticket.state !== "delivering") {
    return {
      status: TICKET_STATES[ticket.state] ?? "pending",
      attempts: context.renderAttempts,
      next_attempt_at: iso(context.nextAttemptAt),
      last_error: context.lastError,
      delivery_id: null,
      message_id: null,
    };
  }

  const delivery = pick.get(context.deliveryId);
  if (delivery === null) {
    return {
      status: "sending",
      attempts: 0,
      next_attempt_at: null,
      last_error: null,
      delivery_id: context.deliveryId,
      message_id: context.messageId,
    };
  }
  const mail = (JSON.parse(delivery.snapshot) as { context: DeliveryContext }).context;
  return {
    status: DELIVERY_STATES[delivery.state] ?? "sending",
    attempts: mail.attempts,
    next_attempt_at: iso(mail.nextAttemptAt),
    last_error: mail.lastError,
    delivery_id: mail.deliveryId,
    message_id: mail.messageId,
  };
}
