import type { Services } from "../service.ts";
import { addFailure, clearFailures, findFailures } from "../store/login-failures.ts";
import { ProblemError } from "./problem.ts";

/** Failed logins allowed for one account before it is locked. */
export const FREE_ACCOUNT_FAILURES = 5;
/** Failed logins allowed from one client address, which may serve many people. */
export const FREE_ADDRESS_FAILURES = 20;
/** First lock after the free failures, doubled for each further failure. */
export const LOGIN_LOCK_BASE_MS = 30_000;
export const LOGIN_LOCK_MAX_MS = 15 * 60_000;
/**
 * Failures are forgotten after this long without another one. It exceeds the
 * longest lock, so waiting out a lock does not reset the count.
 */
export const LOGIN_FAILURE_WINDOW_MS = 60 * 60_000;

/** Signups one client address may make per window. */
export const SIGNUPS_PER_WINDOW = 10;
export const SIGNUP_WINDOW_MS = 10 * 60_000;

/**
 * Lock length after `failures` recent failures: none while fewer than `free`
 * failed, 30 s from the `free`-th failure on, doubling with each further
 * failure up to 15 min.
 */
export function loginLockMs(failures: number, free: number): number {
  if (failures < free) return 0;
  const doublings = Math.min(failures - free, 20);
  return Math.min(LOGIN_LOCK_MAX_MS, LOGIN_LOCK_BASE_MS * 2 ** doublings);
}

interface ServerLike {
  requestIP(request: Request): { address: string } | null;
}

/** Returns the peer address of the connection. Forwarded headers are not trusted. */
export function clientAddress(request: Request, server: ServerLike | null): string {
  return server?.requestIP(request)?.address ?? "unknown";
}

function tooMany(retryAfterMs: number) {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new ProblemError(
    429,
    "too-many-requests",
    "Too many requests",
    `Too many attempts; retry in ${seconds} seconds.`,
    { headers: { "retry-after": String(seconds) } },
  );
}

/**
 * Limits failed logins per account and per client address, with a lock that
 * grows with each failure, and limits signups per address. A successful login
 * resets its account's count. The address count is not reset by a success,
 * because an attacker could then log in to their own account between guesses
 * at others. It lapses after LOGIN_FAILURE_WINDOW_MS without failures instead.
 * Login state lives in the store so it survives restarts; the signup window is
 * kept in memory.
 */
export class LoginLimiter {
  private readonly signups = new Map<string, { count: number; windowStart: number }>();

  constructor(private readonly services: Pick<Services, "db" | "clock">) {}

  async checkLogin(email: string, address: string): Promise<void> {
    const now = this.services.clock.now();
    for (const scope of [`account:${email}`, `address:${address}`]) {
      const row = await findFailures(this.services.db, scope);
      if (row !== null && row.locked_until > now) throw tooMany(row.locked_until - now);
    }
  }

  async recordFailure(email: string, address: string): Promise<void> {
    const now = this.services.clock.now();
    await addFailure(
      this.services.db,
      `account:${email}`,
      (n) => loginLockMs(n, FREE_ACCOUNT_FAILURES),
      now,
      LOGIN_FAILURE_WINDOW_MS,
    );
    await addFailure(
      this.services.db,
      `address:${address}`,
      (n) => loginLockMs(n, FREE_ADDRESS_FAILURES),
      now,
      LOGIN_FAILURE_WINDOW_MS,
    );
  }

  async recordSuccess(email: string): Promise<void> {
    await clearFailures(this.services.db, [`account:${email}`]);
  }

  async checkSignup(address: string): Promise<void> {
    const now = this.services.clock.now();
    const entry = this.signups.get(address);
    if (entry === undefined || now - entry.windowStart >= SIGNUP_WINDOW_MS) {
      this.signups.set(address, { count: 1, windowStart: now });
      this.pruneSignups(now);
      return;
    }
    if (entry.count >= SIGNUPS_PER_WINDOW) {
      throw tooMany(entry.windowStart + SIGNUP_WINDOW_MS - now);
    }
    entry.count++;
  }

  private pruneSignups(now: number): void {
    if (this.signups.size < 10_000) return;
    for (const [address, entry] of this.signups) {
      if (now - entry.windowStart >= SIGNUP_WINDOW_MS) this.signups.delete(address);
    }
  }
}
