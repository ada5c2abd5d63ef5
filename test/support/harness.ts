import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EffectDeps } from "../../actors/effects.ts";
import { loadConfig } from "../../src/config.ts";
import { createApp, type App } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import type { Clock } from "../../src/runtime/engine.ts";
import { closeServices, createServices, type Services } from "../../src/service.ts";
import type { Role } from "../../src/store/users.ts";
import { createUser } from "../../src/users.ts";

/** A clock that moves only when a test advances it. */
export class FakeClock implements Clock {
  constructor(public current = Date.parse("2027-01-10T09:00:00Z")) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

/** Returns a seeded random source (mulberry32), so jittered delays repeat across runs. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns the dependencies the service's own effect handlers were built with. */
export function effectDeps(services: Services): EffectDeps {
  return {
    db: services.db,
    clock: services.clock,
    dataDir: services.config.dataDir,
    mailFrom: services.config.mailFrom,
    pool: services.pool,
    keys: services.keys,
    transport: services.transport,
    breaker: services.breaker,
  };
}

export function tempDir(prefix = "admit-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export const TEST_PASSWORD = "correct-horse-battery";

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as is instead of JSON-encoding `body`. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface TestService {
  services: Services;
  app: App;
  clock: FakeClock;
  dataDir: string;
  /** Sends a request through `app.handle`, without a socket. */
  request(method: string, path: string, options?: RequestOptions): Promise<Response>;
  /** Creates a user with TEST_PASSWORD and returns its id, email and a fresh token. */
  user(role: Role, email?: string): Promise<{ id: string; email: string; token: string }>;
  login(email: string, password?: string): Promise<string>;
  /** Creates an event as `token`'s user and returns its id. */
  event(token: string, capacity?: number): Promise<string>;
  close(): Promise<void>;
  /**
   * Closes the services the way a killed process leaves them: the dispatcher
   * is not stopped, so no lease is released, and the data directory stays for
   * a new service started with `{ dataDir }`.
   */
  crash(): Promise<void>;
}

export interface TestServiceOptions {
  random?: () => number;
  clock?: FakeClock;
  /** Opens this data directory, left by an earlier service, instead of a fresh one. */
  dataDir?: string;
}

let userCounter = 0;

/**
 * Builds the whole service in-process on a fresh data directory (or on
 * `options.dataDir`), with a fake clock, the outbox mail transport unless
 * `env` sets SMTP_URL, and the dispatcher not started: tests drive it with
 * `dispatcher.runUntilIdle()`.
 */
export async function startTestService(
  env: Record<string, string> = {},
  options: TestServiceOptions = {},
): Promise<TestService> {
  const dataDir = options.dataDir ?? tempDir();
  const clock = options.clock ?? new FakeClock();
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent", ...env });
  const services = await createServices(config, silentLogger(), {
    clock,
    random: options.random ?? seededRandom(7),
  });
  const app = createApp(services);

  const request = (method: string, path: string, opts: RequestOptions = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && headers["content-type"] === undefined) {
      headers["content-type"] = "application/json";
    }
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    return app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
  };

  const login = async (email: string, password = TEST_PASSWORD) => {
    const response = await request("POST", "/auth/login", { body: { email, password } });
    if (response.status !== 200) {
      throw new Error(`login as ${email} failed with status ${response.status}`);
    }
    return ((await response.json()) as { access_token: string }).access_token;
  };

  return {
    services,
    app,
    clock,
    dataDir,
    request,
    login,
    async user(role, email) {
      userCounter++;
      const address = email ?? `${role}${userCounter}@example.com`;
      const user = await createUser(services, {
        email: address,
        name: `Test ${role} ${userCounter}`,
        password: TEST_PASSWORD,
        role,
      });
      return { id: user.id, email: address, token: await login(address) };
    },
    async event(token, capacity = 50) {
      const response = await request("POST", "/events", {
        token,
        body: {
          title: "Open Day",
          venue: "Main Hall",
          starts_at: "2027-03-01T18:00:00+01:00",
          time_zone: "Europe/Vienna",
          capacity,
        },
      });
      if (response.status !== 201) throw new Error(`event creation failed: ${response.status}`);
      return ((await response.json()) as { id: string }).id;
    },
    async close() {
      await services.dispatcher.stop(0);
      await closeServices(services);
      rmSync(dataDir, { recursive: true, force: true });
    },
    async crash() {
      await closeServices(services);
    },
  };
}
