import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  backoffCeiling,
  backoffDelay,
  type BackoffPolicy,
  retryDelay,
} from "../src/retry/backoff.ts";

const policy: BackoffPolicy = { baseMs: 1000, capMs: 3_600_000, maxAttempts: 8 };

const JUST_BELOW_ONE = 1 - Number.EPSILON / 2;

/** Deterministic random source (mulberry32), so failures reproduce. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("backoffDelay", () => {
  test("zero random gives zero for every attempt", () => {
    for (let attempt = 0; attempt <= 40; attempt++) {
      expect(backoffDelay(attempt, policy, () => 0)).toBe(0);
    }
  });

  test("random near one gives just under the ceiling", () => {
    for (let attempt = 0; attempt <= 40; attempt++) {
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
      const delay = backoffDelay(attempt, policy, () => JUST_BELOW_ONE);
      expect(delay).toBeLessThan(ceiling);
      expect(delay).toBe(ceiling - 1);
    }
  });

  test("seeded random stays within bounds", () => {
    const random = seededRandom(42);
    for (let attempt = 0; attempt <= 40; attempt++) {
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
      for (let draw = 0; draw < 50; draw++) {
        const delay = backoffDelay(attempt, policy, random);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
      }
    }
  });

  test("first retries double the bound", () => {
    expect(backoffCeiling(0, policy)).toBe(1000);
    expect(backoffCeiling(1, policy)).toBe(2000);
    expect(backoffCeiling(2, policy)).toBe(4000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(4000);
  });

  test("upper bound is monotonic and capped", () => {
    let previous = 0;
    for (let attempt = 0; attempt <= 40; attempt++) {
      const ceiling = backoffCeiling(attempt, policy);
      expect(ceiling).toBeGreaterThanOrEqual(previous);
      expect(ceiling).toBeLessThanOrEqual(policy.capMs);
      previous = ceiling;
    }
    expect(backoffCeiling(40, policy)).toBe(policy.capMs);
  });

  test("huge attempt numbers stay finite", () => {
    for (const attempt of [1023, 1024, 5000, Number.MAX_SAFE_INTEGER, Infinity, NaN, -3]) {
      const delay = backoffDelay(attempt, policy, () => JUST_BELOW_ONE);
      expect(Number.isFinite(delay)).toBe(true);
      expect(delay).toBeLessThan(policy.capMs);
    }
    const zeroBase = { baseMs: 0, capMs: 10, maxAttempts: 3 };
    expect(backoffDelay(5000, zeroBase, () => 0.5)).toBe(0);
  });

  test("random outside [0, 1) counts as zero", () => {
    for (const value of [1, 1.5, -0.1, NaN]) {
      expect(backoffDelay(10, policy, () => value)).toBe(0);
    }
  });

  test("property: delay within [0, ceiling)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.integer({ min: 1, max: 7 * 86_400_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, capMs, fraction) => {
          const custom = { baseMs, capMs, maxAttempts: 8 };
          const delay = backoffDelay(attempt, custom, () => fraction);
          const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 1023));
          return Number.isInteger(delay) && delay >= 0 && (delay < ceiling || ceiling === 0);
        },
      ),
    );
  });
});

describe("retryDelay", () => {
  test("Retry-After wins when later", () => {
    expect(retryDelay(0, policy, () => 0.5, 60_000)).toBe(60_000);
  });

  test("backoff wins when Retry-After is earlier", () => {
    expect(retryDelay(10, policy, () => 0.5, 5)).toBe(512_000);
  });

  test("missing or invalid Retry-After is ignored", () => {
    expect(retryDelay(2, policy, () => 0.5)).toBe(2000);
    expect(retryDelay(2, policy, () => 0.5, -1)).toBe(2000);
    expect(retryDelay(2, policy, () => 0.5, NaN)).toBe(2000);
    expect(retryDelay(2, policy, () => 0.5, Infinity)).toBe(2000);
  });

  test("Retry-After may exceed the cap", () => {
    const small = { baseMs: 10, capMs: 100, maxAttempts: 3 };
    expect(retryDelay(0, small, () => 0, 250)).toBe(250);
  });
});
