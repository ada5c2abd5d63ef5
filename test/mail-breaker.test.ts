import { describe, expect, test } from "bun:test";
import { type BreakerState, CircuitBreaker } from "../src/mail/breaker.ts";

function setup(options: { threshold?: number; cooldownMs?: number; probeTimeoutMs?: number } = {}) {
  const clock = { now: 1_000_000 };
  const changes: [BreakerState, BreakerState][] = [];
  const breaker = new CircuitBreaker({
    threshold: options.threshold ?? 3,
    cooldownMs: options.cooldownMs ?? 30_000,
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
    now: () => clock.now,
    onChange: (from, to) => changes.push([from, to]),
  });
  return { breaker, clock, changes };
}

function failTimes(breaker: CircuitBreaker, count: number): void {
  for (let i = 0; i < count; i++) breaker.recordTransientFailure();
}

describe("CircuitBreaker", () => {
  test("starts closed and lets sends through", () => {
    const { breaker } = setup();
    expect(breaker.state()).toBe("closed");
    expect(breaker.canSend()).toBe(true);
    expect(breaker.retryAt()).toBeNull();
  });

  test("opens after threshold failures", () => {
    const { breaker, clock, changes } = setup();
    failTimes(breaker, 2);
    expect(breaker.state()).toBe("closed");
    breaker.recordTransientFailure();
    expect(breaker.state()).toBe("open");
    expect(breaker.snapshot()).toEqual({
      state: "open",
      consecutiveFailures: 3,
      openedAt: clock.now,
      retryAt: clock.now + 30_000,
    });
    expect(changes).toEqual([["closed", "open"]]);
  });

  test("success resets the failure count", () => {
    const { breaker } = setup();
    failTimes(breaker, 2);
    breaker.recordSuccess();
    failTimes(breaker, 2);
    expect(breaker.state()).toBe("closed");
    expect(breaker.snapshot().consecutiveFailures).toBe(2);
  });

  test("permanent failures don't open", () => {
    const { breaker } = setup();
    for (let i = 0; i < 10; i++) breaker.recordPermanentFailure();
    expect(breaker.state()).toBe("closed");
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
  });

  test("rejects sends while open", () => {
    const { breaker, clock } = setup();
    failTimes(breaker, 3);
    expect(breaker.canSend()).toBe(false);
    clock.now += 29_999;
    expect(breaker.canSend()).toBe(false);
    expect(breaker.state()).toBe("open");
    expect(breaker.retryAt()).toBe(clock.now + 1);
  });

  test("lets exactly one probe through", () => {
    const { breaker, clock, changes } = setup();
    failTimes(breaker, 3);
    clock.now += 30_000;
    expect(breaker.canSend()).toBe(true);
    expect(breaker.state()).toBe("half_open");
    expect(breaker.canSend()).toBe(false);
    expect(breaker.canSend()).toBe(false);
    expect(changes).toEqual([
      ["closed", "open"],
      ["open", "half_open"],
    ]);
  });

  test("probe success closes", () => {
    const { breaker, clock, changes } = setup();
    failTimes(breaker, 3);
    clock.now += 30_000;
    expect(breaker.canSend()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state()).toBe("closed");
    expect(breaker.canSend()).toBe(true);
    expect(breaker.snapshot()).toEqual({
      state: "closed",
      consecutiveFailures: 0,
      openedAt: null,
      retryAt: null,
    });
    expect(changes.at(-1)).toEqual(["half_open", "closed"]);
  });

  test("probe failure reopens with new cooldown", () => {
    const { breaker, clock, changes } = setup();
    failTimes(breaker, 3);
    clock.now += 30_000;
    expect(breaker.canSend()).toBe(true);
    clock.now += 5_000;
    breaker.recordTransientFailure();
    expect(breaker.state()).toBe("open");
    expect(breaker.retryAt()).toBe(clock.now + 30_000);
    expect(breaker.canSend()).toBe(false);
    clock.now += 30_000;
    expect(breaker.canSend()).toBe(true);
    expect(changes).toEqual([
      ["closed", "open"],
      ["open", "half_open"],
      ["half_open", "open"],
      ["open", "half_open"],
    ]);
  });

  test("permanent probe result closes", () => {
    const { breaker, clock } = setup();
    failTimes(breaker, 3);
    clock.now += 30_000;
    expect(breaker.canSend()).toBe(true);
    breaker.recordPermanentFailure();
    expect(breaker.state()).toBe("closed");
  });

  test("lost probe frees the slot after probe timeout", () => {
    const { breaker, clock } = setup({ probeTimeoutMs: 60_000 });
    failTimes(breaker, 3);
    clock.now += 30_000;
    expect(breaker.canSend()).toBe(true);
    expect(breaker.retryAt()).toBe(clock.now + 60_000);
    clock.now += 59_999;
    expect(breaker.canSend()).toBe(false);
    clock.now += 1;
    expect(breaker.canSend()).toBe(true);
    expect(breaker.canSend()).toBe(false);
  });

  test("late failures keep the cooldown", () => {
    const { breaker, clock } = setup();
    failTimes(breaker, 3);
    const retryAt = breaker.retryAt();
    clock.now += 10_000;
    failTimes(breaker, 2);
    expect(breaker.retryAt()).toBe(retryAt);
    expect(breaker.snapshot().consecutiveFailures).toBe(5);
  });

  test("threshold one opens at first failure", () => {
    const { breaker } = setup({ threshold: 1 });
    breaker.recordTransientFailure();
    expect(breaker.state()).toBe("open");
  });

  test("invalid options are rejected", () => {
    const now = () => 0;
    expect(() => new CircuitBreaker({ threshold: 0, cooldownMs: 1, now })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ threshold: 2.5, cooldownMs: 1, now })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ threshold: 1, cooldownMs: -1, now })).toThrow(RangeError);
  });
});
