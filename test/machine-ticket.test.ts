import { describe, expect, test } from "bun:test";
import { initialTransition, transition, type SnapshotFrom } from "xstate";
import type { Failure } from "../actors/protocol.ts";
import {
  createTicketMachine,
  type TicketEvent,
  type TicketMachine,
} from "../actors/ticket.ts";
import { backoffCeiling, type BackoffPolicy } from "../src/retry/backoff.ts";

const POLICY: BackoffPolicy = { baseMs: 1000, capMs: 60_000, maxAttempts: 3 };
const T0 = Date.parse("2027-01-10T09:00:00Z");
const INPUT = {
  ticketId: "t-1",
  registrationId: "r-1",
  deliveryId: "d-1",
  messageId: "<m-1@admit>",
};
const RETRY_TIMER = "xstate.after.retryDelay.ticket.retrying";

const machine = createTicketMachine(POLICY);
type Snapshot = SnapshotFrom<TicketMachine>;

const TRANSIENT: Failure = { class: "transient", message: "rendering the ticket timed out" };
const PERMANENT: Failure = { class: "permanent", message: "the ticket could not be rendered" };
const CANCELLED: Failure = { class: "cancelled", message: "the registration was cancelled" };

function plain(actions: readonly { type: string; params?: unknown }[]) {
  return actions.map((action) => ({ type: action.type, params: action.params }));
}

function step(snapshot: Snapshot, event: TicketEvent) {
  const [next, actions] = transition(machine, snapshot, event);
  return { next, actions: plain(actions) };
}

function failed(failure: Failure, jitter = 0.5, lostClaims = 0): TicketEvent {
  return { type: "RENDER.FAILED", failure, at: T0, jitter, lostClaims };
}

function rendered(lostClaims = 0): TicketEvent {
  return { type: "RENDERED", at: T0, jitter: 0.5, lostClaims };
}

function resend(n: number): TicketEvent {
  return { type: "RESEND", deliveryId: `d-${n}`, messageId: `<m-${n}@admit>` };
}

function timerFired(): TicketEvent {
  return { type: RETRY_TIMER } as unknown as TicketEvent;
}

const RENDER = { type: "render", params: { registrationId: INPUT.registrationId } };

function spawnDelivery(deliveryId: string, messageId: string) {
  return {
    type: "spawn",
    params: {
      kind: "delivery",
      id: deliveryId,
      input: { deliveryId, registrationId: INPUT.registrationId, messageId },
    },
  };
}

const reach = {
  pending: () => initialTransition(machine, INPUT)[0],
  rendering: () => step(reach.pending(), { type: "ISSUE" }).next,
  retrying: () => step(reach.rendering(), failed(TRANSIENT)).next,
  delivering: () => step(reach.rendering(), rendered()).next,
  dead: () => step(reach.rendering(), failed(PERMANENT)).next,
};

describe("ticket machine", () => {
  test("starts pending without actions", () => {
    const [snapshot, actions] = initialTransition(machine, INPUT);

    expect(snapshot.value).toBe("pending");
    expect(snapshot.context.renderAttempts).toBe(0);
    expect(plain(actions)).toEqual([]);
  });

  test("issue starts rendering", () => {
    const { next, actions } = step(reach.pending(), { type: "ISSUE" });

    expect(next.value).toBe("rendering");
    expect(actions).toEqual([RENDER]);
  });

  test("rendered spawns the first delivery", () => {
    const { next, actions } = step(reach.rendering(), rendered());

    expect(next.value).toBe("delivering");
    expect(next.context.renderAttempts).toBe(1);
    expect(actions).toEqual([spawnDelivery(INPUT.deliveryId, INPUT.messageId)]);
  });

  test("rendered counts lost claims", () => {
    const { next } = step(reach.rendering(), rendered(2));

    expect(next.context.renderAttempts).toBe(3);
  });
});

describe("ticket render failures", () => {
  test("cancelled failure ends the ticket", () => {
    const { next, actions } = step(reach.rendering(), failed(CANCELLED));

    expect(next.value).toBe("cancelled");
    expect(next.status).toBe("done");
    expect(actions).toEqual([]);
  });

  test("permanent failure dead-letters at once", () => {
    const { next, actions } = step(reach.rendering(), failed(PERMANENT));

    expect(next.value).toBe("dead");
    expect(next.status).toBe("active");
    expect(next.context.renderAttempts).toBe(1);
    expect(next.context.lastError).toBe(PERMANENT.message);
    expect(actions).toEqual([]);
  });

  test("transient failure retries after backoff", () => {
    const { next, actions } = step(reach.rendering(), failed(TRANSIENT, 0.75));
    const delay = Math.floor(0.75 * backoffCeiling(0, POLICY));

    expect(next.value).toBe("retrying");
    expect(next.context.retryDelayMs).toBe(delay);
    expect(next.context.nextAttemptAt).toBe(T0 + delay);
    expect(actions).toEqual([
      {
        type: "xstate.raise",
        params: { event: { type: RETRY_TIMER }, id: RETRY_TIMER, delay },
      },
    ]);
  });

  test("retry timer renders again", () => {
    const { next, actions } = step(reach.retrying(), timerFired());

    expect(next.value).toBe("rendering");
    expect(next.context.nextAttemptAt).toBeNull();
    expect(actions).toEqual([{ type: "xstate.cancel", params: { sendId: RETRY_TIMER } }, RENDER]);
  });

  test("out of attempts dead-letters", () => {
    let snapshot = reach.rendering();
    for (let i = 1; i < POLICY.maxAttempts; i++) {
      snapshot = step(snapshot, failed(TRANSIENT)).next;
      expect(snapshot.value).toBe("retrying");
      expect(snapshot.context.retryDelayMs).toBeLessThan(backoffCeiling(i - 1, POLICY));
      snapshot = step(snapshot, timerFired()).next;
    }
    const { next } = step(snapshot, failed(TRANSIENT));

    expect(next.value).toBe("dead");
    expect(next.context.renderAttempts).toBe(POLICY.maxAttempts);
  });

  test("lost claims count toward the budget", () => {
    const { next } = step(reach.rendering(), failed(TRANSIENT, 0.5, POLICY.maxAttempts - 1));

    expect(next.value).toBe("dead");
    expect(next.context.renderAttempts).toBe(POLICY.maxAttempts);
  });
});

describe("ticket resend", () => {
  test("resend in pending renames the coming delivery", () => {
    const { next, actions } = step(reach.pending(), resend(2));
    const issued = step(step(next, { type: "ISSUE" }).next, rendered());

    expect(next.value).toBe("pending");
    expect(actions).toEqual([]);
    expect(issued.actions).toEqual([spawnDelivery("d-2", "<m-2@admit>")]);
  });

  test("resend in rendering does not render twice", () => {
    const { next, actions } = step(reach.rendering(), resend(2));

    expect(next.value).toBe("rendering");
    expect(next.context.deliveryId).toBe("d-2");
    expect(actions).toEqual([]);
  });

  test("resend in retrying keeps the timer", () => {
    const { next, actions } = step(reach.retrying(), resend(2));
    const renderedAgain = step(step(next, timerFired()).next, rendered());

    expect(next.value).toBe("retrying");
    expect(actions).toEqual([]);
    expect(renderedAgain.actions).toEqual([spawnDelivery("d-2", "<m-2@admit>")]);
  });

  test("resend in delivering replaces the delivery", () => {
    const { next, actions } = step(reach.delivering(), resend(2));

    expect(next.value).toBe("delivering");
    expect(next.context.messageId).toBe("<m-2@admit>");
    expect(actions).toEqual([
      { type: "send", params: { to: "d-1", event: { type: "CANCEL" } } },
      spawnDelivery("d-2", "<m-2@admit>"),
    ]);
  });

  test("resend in dead renders with a fresh budget", () => {
    const { next, actions } = step(reach.dead(), resend(2));

    expect(next.value).toBe("rendering");
    expect(next.context.renderAttempts).toBe(0);
    expect(next.context.deliveryId).toBe("d-2");
    expect(actions).toEqual([RENDER]);
  });
});

describe("ticket cancel", () => {
  const timers: Record<keyof typeof reach, string[]> = {
    pending: [],
    rendering: [],
    retrying: [RETRY_TIMER],
    delivering: [],
    dead: [],
  };

  for (const name of Object.keys(reach) as (keyof typeof reach)[]) {
    test(`cancel from ${name}`, () => {
      const from = reach[name]();
      const { next, actions } = step(from, { type: "CANCEL" });

      expect(from.value).toBe(name);
      expect(next.value).toBe("cancelled");
      expect(next.status).toBe("done");
      expect(actions).toEqual(
        timers[name].map((sendId) => ({ type: "xstate.cancel", params: { sendId } })),
      );
    });
  }
});
