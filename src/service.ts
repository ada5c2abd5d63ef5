import type { Database } from "bun:sqlite";
import { join } from "node:path";
import type { Logger } from "pino";
import { renderHandler, sendMailHandler } from "../actors/effects.ts";
import { loadOrCreateJwtSecret } from "./auth/secret.ts";
import type { TokenSettings } from "./auth/tokens.ts";
import type { Config } from "./config.ts";
import { CircuitBreaker } from "./mail/breaker.ts";
import { createOutboxTransport, createSmtpTransport, type MailTransport } from "./mail/transport.ts";
import { Dispatcher } from "./runtime/dispatcher.ts";
import { systemClock, type Clock, type Engine } from "./runtime/engine.ts";
import { createEngine } from "./runtime/machines.ts";
import { checkpoint, openDatabase } from "./store/db.ts";
import { sweepExpiredKeys } from "./store/idempotency.ts";
import { sweepFailures } from "./store/login-failures.ts";
import { sweepRevokedTokens } from "./store/tokens.ts";
import { LOGIN_FAILURE_WINDOW_MS } from "./http/rate-limit.ts";
import { RenderPool } from "./ticket/pool.ts";
import { loadOrCreateTicketKeys, type TicketKeys } from "./ticket/token.ts";
import { ensureAdmin } from "./users.ts";

/** Effects running at once, at most; SMTP connections are pooled below this. */
const EFFECT_CONCURRENCY = 8;

/**
 * How often expired idempotency keys, revoked tokens and login failures are
 * swept, and the WAL is checkpointed.
 */
const MAINTENANCE_INTERVAL_MS = 60_000;

/** Everything a running admit process holds, handed to the HTTP layer and the CLI. */
export interface Services {
  config: Config;
  db: Database;
  clock: Clock;
  log: Logger;
  engine: Engine;
  dispatcher: Dispatcher;
  tokens: TokenSettings;
  keys: TicketKeys;
  pool: RenderPool;
  transport: MailTransport;
  breaker: CircuitBreaker;
  /** True from the first shutdown signal on; readiness reports 503. */
  draining: boolean;
}

export interface ServiceOptions {
  clock?: Clock;
  random?: () => number;
}

/** Opens the store and builds every part of the service, without starting the loops. */
export async function createServices(
  config: Config,
  log: Logger,
  options: ServiceOptions = {},
): Promise<Services> {
  const clock = options.clock ?? systemClock;
  const db = openDatabase(config.dataDir);
  const engine = createEngine(db, config, options.random);

  const transport = config.smtpUrl === undefined
    ? createOutboxTransport(join(config.dataDir, "outbox"))
    : createSmtpTransport({ url: config.smtpUrl, timeoutMs: config.smtpTimeoutMs });
  const breaker = new CircuitBreaker({
    threshold: config.breakerThreshold,
    cooldownMs: config.breakerCooldownMs,
    // A probe that has not reported back by the effect deadline is lost.
    probeTimeoutMs: config.effectTimeoutMs,
    now: () => clock.now(),
    onChange: (from, to) =>
      log.warn({ transport: transport.name, from, to }, "mail breaker state changed"),
  });

  const keys = loadOrCreateTicketKeys(config.dataDir);
  const pool = new RenderPool(config.renderWorkers);
  const deps = {
    db,
    clock,
    dataDir: config.dataDir,
    mailFrom: config.mailFrom,
    pool,
    keys,
    transport,
    breaker,
  };
  const dispatcher = new Dispatcher({
    db,
    engine,
    clock,
    log: log.child({ component: "dispatcher" }),
    effectTimeoutMs: config.effectTimeoutMs,
    concurrency: EFFECT_CONCURRENCY,
    handlers: { render: renderHandler(deps), sendMail: sendMailHandler(deps) },
  });

  const services: Services = {
    config,
    db,
    clock,
    log,
    engine,
    dispatcher,
    tokens: {
      secret: loadOrCreateJwtSecret(config.dataDir, config.jwtSecret),
      previousSecrets: config.jwtPreviousSecrets,
      ttlS: config.accessTokenTtlS,
      clockSkewS: config.jwtClockSkewS,
    },
    keys,
    pool,
    transport,
    breaker,
    draining: false,
  };

  if (config.adminEmail !== undefined && config.adminPassword !== undefined) {
    await ensureAdmin(services, config.adminEmail, config.adminPassword);
  }
  return services;
}

/** Starts background work: the dispatcher and periodic maintenance. Returns a stopper. */
export function startBackground(services: Services): () => void {
  services.pool.warm();
  services.dispatcher.start();
  const timer = setInterval(() => {
    void maintain(services);
  }, MAINTENANCE_INTERVAL_MS);
  return () => clearInterval(timer);
}

async function maintain(services: Services): Promise<void> {
  try {
    const now = services.clock.now();
    const swept = await sweepExpiredKeys(services.db, now);
    if (swept > 0) services.log.info({ swept }, "expired idempotency keys swept");
    await sweepRevokedTokens(services.db, Math.floor(now / 1000));
    await sweepFailures(services.db, now - LOGIN_FAILURE_WINDOW_MS);
    checkpoint(services.db);
  } catch (err) {
    services.log.warn({ err }, "maintenance failed; will try again");
  }
}

/** Releases what the services hold once the dispatcher has stopped. */
export async function closeServices(services: Services): Promise<void> {
  services.transport.close();
  await services.pool.close();
  checkpoint(services.db);
  services.db.close();
}
