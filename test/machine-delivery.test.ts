import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { initialTransition, transition, type SnapshotFrom } from "xstate";
import {
  BREAKER_WAIT_SPREAD_MS,
  createDeliveryMachine,
  type DeliveryEvent,
  type DeliveryMachine,
} from "../actors/delivery.ts";
import type { Failure } from "../actors/protocol.ts";
import { backoffCeiling, type BackoffPolicy } from "../src/retry/backoff.ts";

const POLICY: BackoffPolicy = { baseMs: 1000, capMs: 60_000, maxAttempts: 4 };
const T0 = Date.parse("2027-01-10T09:00:00Z");
const INPUT = { deliveryId: "d-1", registrationId: "r-1", messageId: "<m-1@admit>" };
const RETRY_TIMER = "xstate.after.retryDelay.delivery.retrying";
const WAIT_TIMER = "xstate.after.retryDelay.delivery.waiting";

const machine = createDeliveryMachine(POLICY);
type Snapshot = SnapshotFrom<DeliveryMachine>;

const TRANSIENT: Failure = { class: "transient", message: "451 try later", replyCode: 451 };
const PERMANENT: Failure = { class: "permanent", message: "550 no such user", replyCode: 550 };
const CONFIG: Failure = { class: "config", message: "SMTP authentication failed" };
const CANCELLED: Failure = { class: "cancelled", message: "the registration was cancelled" };

/** Reduces an action list to what the runtime reads: type and params. */
function plain(actions: readonly { type: string; params?: unknown }[]) {
  return actions.map((action) => ({ type: action.type, params: action.params }));
}

function start() {
  return initialTransition(machine, INPUT);
}

function step(snapshot: Snapshot, event: DeliveryEvent) {
  const [next, actions] = transition(machine, snapshot, event);
  return { next, actions: plain(actions) };
}

function failed(
  failure: Failure,
  extra: Partial<Extract<DeliveryEvent, { type: "MAIL.FAILED" }>> = {},
): DeliveryEvent {
  return {
    type: "MAIL.FAILED",
    failure,
    breakerOpen: false,
    breakerRetryAt: null,
    at: T0,
    jitter: 0.5,
    lostClaims: 0,
    ...extra,
  };
}

function sent(lostClaims = 0): DeliveryEvent {
  return { type: "MAIL.SENT", at: T0, jitter: 0.5, lostClaims };
}

function deferred(retryAt: number, jitter = 0.25, lostClaims = 0): DeliveryEvent {
  return { type: "MAIL.DEFERRED", retryAt, at: T0, jitter, lostClaims };
}

function timerFired(id: string): DeliveryEvent {
  // The runtime delivers a stored timer as XState's internal after-event,
  // which the machine's event type does not list.
  return { type: id } as unknown as DeliveryEvent;
}

function sendMail(attempt: number) {
  return { type: "sendMail", params: { ...INPUT, attempt } };
}

/** Builds a delivery in `sending` that has already spent `attempts`. */
function sendingAfter(attempts: number): Snapshot {
  return machine.resolveState({
    value: "sending",
    context: { ...start()[0].context, attempts },
  });
}

/** Fails transiently until the delivery is dead, returning the snapshot. */
function failUntilDead(): Snapshot {
  let snapshot = start()[0];
  for (let i = 0; i < POLICY.maxAttempts; i++) {
    snapshot = step(snapshot, failed(TRANSIENT)).next;
    if (snapshot.value === "retrying") snapshot = step(snapshot, timerFired(RETRY_TIMER)).next;
  }
  return snapshot;
}

describe("delivery machine", () => {
  test("starts sending attempt one", () => {
    const [snapshot, actions] = start();

    expect(snapshot.value).toBe("sending");
    expect(snapshot.context.attempts).toBe(0);
    expect(plain(actions)).toEqual([sendMail(1)]);
  });

  test("sent is final and counts the attempt", () => {
    const { next, actions } = step(start()[0], sent());

    expect(next.value).toBe("sent");
    expect(next.status).toBe("done");
    expect(next.context.attempts).toBe(1);
    expect(next.context.sentAt).toBe(T0);
    expect(actions).toEqual([]);
  });

  test("sent counts lost claims", () => {
    const { next } = step(start()[0], sent(2));

    expect(next.context.attempts).toBe(3);
  });
});

describe("delivery failure ladder", () => {
  test("cancelled wins over every other rung", () => {
    const { next, actions } = step(
      sendingAfter(POLICY.maxAttempts - 1),
      failed(CANCELLED, { breakerOpen: true, breakerRetryAt: T0 + 30_000 }),
    );

    expect(next.value).toBe("cancelled");
    expect(next.status).toBe("done");
    expect(next.context.attempts).toBe(POLICY.maxAttempts - 1);
    expect(actions).toEqual([]);
  });

  test("permanent dead-letters before out of attempts", () => {
    const { next, actions } = step(
      start()[0],
      failed(PERMANENT, { breakerOpen: true, breakerRetryAt: T0 + 30_000 }),
    );

    expect(next.value).toBe("dead");
    expect(next.context.attempts).toBe(1);
    expect(next.context.lastError).toBe(PERMANENT.message);
    expect(actions).toEqual([]);
  });

  test("config failure dead-letters at once", () => {
    const { next } = step(start()[0], failed(CONFIG));

    expect(next.value).toBe("dead");
    expect(next.context.lastError).toBe(CONFIG.message);
  });

  test("out of attempts dead-letters before breaker open", () => {
    const { next, actions } = step(
      sendingAfter(POLICY.maxAttempts - 1),
      failed(TRANSIENT, { breakerOpen: true, breakerRetryAt: T0 + 30_000 }),
    );

    expect(next.value).toBe("dead");
    expect(next.context.attempts).toBe(POLICY.maxAttempts);
    expect(actions).toEqual([]);
  });

  test("breaker open waits until the probe time", () => {
    const { next, actions } = step(
      start()[0],
      failed(TRANSIENT, { breakerOpen: true, breakerRetryAt: T0 + 30_000, jitter: 0.5 }),
    );
    const delay = 30_000 + Math.floor(0.5 * BREAKER_WAIT_SPREAD_MS);

    expect(next.value).toBe("waiting");
    expect(next.context.attempts).toBe(1);
    expect(next.context.retryDelayMs).toBe(delay);
    expect(next.context.nextAttemptAt).toBe(T0 + delay);
    expect(actions).toEqual([
      {
        type: "xstate.raise",
        params: { event: { type: WAIT_TIMER }, id: WAIT_TIMER, delay },
      },
    ]);
  });

  test("transient failure retries after backoff", () => {
    const { next, actions } = step(start()[0], failed(TRANSIENT, { jitter: 0.5 }));
    const delay = Math.floor(0.5 * backoffCeiling(0, POLICY));

    expect(next.value).toBe("retrying");
    expect(next.context.attempts).toBe(1);
    expect(next.context.lastError).toBe(TRANSIENT.message);
    expect(next.context.retryDelayMs).toBe(delay);
    expect(next.context.nextAttemptAt).toBe(T0 + delay);
    expect(actions).toEqual([
      {
        type: "xstate.raise",
        params: { event: { type: RETRY_TIMER }, id: RETRY_TIMER, delay },
      },
    ]);
  });

  test("lost claims count toward the budget", () => {
    const { next } = step(start()[0], failed(TRANSIENT, { lostClaims: 1 }));
    const out = step(start()[0], failed(TRANSIENT, { lostClaims: POLICY.maxAttempts - 1 }));

    expect(next.value).toBe("retrying");
    expect(next.context.attempts).toBe(2);
    expect(out.next.value).toBe("dead");
    expect(out.next.context.attempts).toBe(POLICY.maxAttempts);
  });

  test("Retry-After wins over a shorter backoff", () => {
    const failure = { ...TRANSIENT, retryAfterMs: 45_000 };
    const { next, actions } = step(start()[0], failed(failure, { jitter: 0.1 }));

    expect(next.context.retryDelayMs).toBe(45_000);
    expect(actions[0]?.params).toMatchObject({ delay: 45_000 });
  });
});

describe("delivery retries", () => {
  test("timer sends the next attempt", () => {
    const retrying = step(start()[0], failed(TRANSIENT)).next;
    const { next, actions } = step(retrying, timerFired(RETRY_TIMER));

    expect(next.value).toBe("sending");
    expect(next.context.nextAttemptAt).toBeNull();
    expect(actions).toEqual([
      { type: "xstate.cancel", params: { sendId: RETRY_TIMER } },
      sendMail(2),
    ]);
  });

  test("each retry delay stays below its ceiling", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: POLICY.maxAttempts,
          maxLength: POLICY.maxAttempts,
        }),
        (jitters) => {
          let snapshot = start()[0];
          for (const [i, jitter] of jitters.entries()) {
            snapshot = step(snapshot, failed(TRANSIENT, { jitter })).next;
            if (i === POLICY.maxAttempts - 1) {
              expect(snapshot.value).toBe("dead");
              break;
            }
            expect(snapshot.value).toBe("retrying");
            const delay = snapshot.context.retryDelayMs;
            expect(delay).toBeGreaterThanOrEqual(0);
            expect(delay).toBeLessThan(backoffCeiling(i, POLICY));
            expect(delay).toBe(Math.floor(jitter * backoffCeiling(i, POLICY)));
            snapshot = step(snapshot, timerFired(RETRY_TIMER)).next;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test("stale timer in sending is ignored", () => {
    const sending = start()[0];
    const { next, actions } = step(sending, timerFired(RETRY_TIMER));

    expect(next.value).toBe("sending");
    expect(actions).toEqual([]);
  });
});

describe("delivery deferral", () => {
  test("deferred waits without spending an attempt", () => {
    const { next, actions } = step(start()[0], deferred(T0 + 20_000, 0.25));
    const delay = 20_000 + Math.floor(0.25 * BREAKER_WAIT_SPREAD_MS);

    expect(next.value).toBe("waiting");
    expect(next.context.attempts).toBe(0);
    expect(next.context.nextAttemptAt).toBe(T0 + delay);
    expect(actions).toEqual([
      {
        type: "xstate.raise",
        params: { event: { type: WAIT_TIMER }, id: WAIT_TIMER, delay },
      },
    ]);
  });

  test("deferred in the past waits only the spread", () => {
    const { next } = step(start()[0], deferred(T0 - 5_000, 0));

    expect(next.context.retryDelayMs).toBe(0);
  });

  test("deferred still counts lost claims", () => {
    const { next } = step(start()[0], deferred(T0 + 20_000, 0, 1));

    expect(next.value).toBe("waiting");
    expect(next.context.attempts).toBe(1);
  });

  test("wait timer sends the same attempt number", () => {
    const waiting = step(start()[0], deferred(T0 + 20_000)).next;
    const { next, actions } = step(waiting, timerFired(WAIT_TIMER));

    expect(next.value).toBe("sending");
    expect(actions).toEqual([
      { type: "xstate.cancel", params: { sendId: WAIT_TIMER } },
      sendMail(1),
    ]);
  });
});

describe("delivery dead letters", () => {
  test("redrive resets the budget and keeps the Message-ID", () => {
    const dead = failUntilDead();
    const { next, actions } = step(dead, { type: "REDRIVE" });

    expect(dead.value).toBe("dead");
    expect(dead.context.attempts).toBe(POLICY.maxAttempts);
    expect(next.value).toBe("sending");
    expect(next.context.attempts).toBe(0);
    expect(next.context.messageId).toBe(INPUT.messageId);
    expect(actions).toEqual([sendMail(1)]);
  });

  test("redriven delivery gets a full budget", () => {
    let snapshot = step(failUntilDead(), { type: "REDRIVE" }).next;
    for (let i = 1; i < POLICY.maxAttempts; i++) {
      snapshot = step(snapshot, failed(TRANSIENT)).next;
      expect(snapshot.value).toBe("retrying");
      snapshot = step(snapshot, timerFired(RETRY_TIMER)).next;
    }

    expect(step(snapshot, failed(TRANSIENT)).next.value).toBe("dead");
  });

  test("discard is final", () => {
    const { next, actions } = step(failUntilDead(), { type: "DISCARD" });

    expect(next.value).toBe("discarded");
    expect(next.status).toBe("done");
    expect(actions).toEqual([]);
  });

  test("redrive and discard outside dead are ignored", () => {
    const retrying = step(start()[0], failed(TRANSIENT)).next;

    for (const type of ["REDRIVE", "DISCARD"] as const) {
      const { next, actions } = step(retrying, { type });
      expect(next.value).toBe("retrying");
      expect(actions).toEqual([]);
    }
  });
});

describe("delivery cancel", () => {
  const states: [Snapshot["value"], () => Snapshot, string[]][] = [
    ["sending", () => start()[0], []],
    ["retrying", () => step(start()[0], failed(TRANSIENT)).next, [RETRY_TIMER]],
    ["waiting", () => step(start()[0], deferred(T0 + 1000)).next, [WAIT_TIMER]],
    ["dead", failUntilDead, []],
  ];

  for (const [name, reach, timers] of states) {
    test(`cancel from ${name}`, () => {
      const from = reach();
      const { next, actions } = step(from, { type: "CANCEL" });

      expect(from.value).toBe(name);
      expect(next.value).toBe("cancelled");
      expect(next.status).toBe("done");
      expect(actions).toEqual(
        timers.map((sendId) => ({ type: "xstate.cancel", params: { sendId } })),
      );
    });
  }
});
