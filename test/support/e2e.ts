/**
 * Core helpers for end-to-end tests that talk to a real `admit serve` child
 * process over HTTP on 127.0.0.1: the environment, JSON requests, bounded
 * polling and bounded concurrency. Fixtures built on them are in e2e-api.ts.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ADMIN_EMAIL = "admin@example.com";
export const ADMIN_PASSWORD = "admin-password-e2e";
export const USER_PASSWORD = "student-password-e2e";
/** Fixed, so tests can mint tokens for seeded users. The server requires 32 bytes or more. */
export const JWT_SECRET = "e2e-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/** Environment every end-to-end server starts with. Tests add their own variables to it. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    JWT_SECRET,
    // Fast retries and short deadlines, so no test waits on production timings.
    RETRY_BASE_MS: "50",
    RETRY_CAP_MS: "400",
    SMTP_TIMEOUT_MS: "2000",
    EFFECT_TIMEOUT_MS: "5000",
    SHUTDOWN_TIMEOUT_MS: "3000",
    ...extra,
  };
}

export function e2eDataDir(prefix = "admit-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or null when the body is empty or not JSON. */
  body: T;
  text: string;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Whole-request deadline in milliseconds. */
  timeoutMs?: number;
}

/** Sends one JSON request and reads the whole response. Network errors reject. */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;

  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/** Like `call`, but throws unless the status is `expected`. */
export async function expectStatus<T = unknown>(
  expected: number,
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<T> {
  const response = await call<T>(baseUrl, method, path, options);
  if (response.status !== expected) {
    throw new Error(
      `${method} ${path}: expected ${expected}, got ${response.status}: ${response.text}`,
    );
  }
  return response.body;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Condition named in the timeout error. A function is called only when the wait times out. */
  condition: string | (() => string);
}

/**
 * Calls `probe` until it returns a value other than undefined, then returns
 * that value. Throws after `timeoutMs`, with the last probe error if any.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await Bun.sleep(interval);
  }
  const condition =
    typeof options.condition === "string" ? options.condition : options.condition();
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${condition}`, {
    cause: lastError,
  });
}

/** Maps `items` through `fn` with at most `concurrency` calls running, keeping order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Log lines whose message is `msg`. */
export function logsWith(logs: Record<string, unknown>[], msg: string) {
  return logs.filter((entry) => entry.msg === msg);
}
