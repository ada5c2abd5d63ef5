/**
 * Configuration read from the environment. Every variable has a named default,
 * and an invalid value stops the start with one message naming the variable.
 */

export const DEFAULTS = {
  port: 3000,
  host: "127.0.0.1",
  dataDir: "./data",
  mailFrom: "admit <tickets@localhost>",
  logLevel: "info",
  retryBaseMs: 1000,
  retryCapMs: 3_600_000,
  retryMaxAttempts: 8,
  smtpTimeoutMs: 30_000,
  /** Ceiling on one whole effect run (render, or one SMTP attempt). */
  effectTimeoutMs: 120_000,
  bodyLimitBytes: 64 * 1024,
  accessTokenTtlS: 15 * 60,
  jwtClockSkewS: 30,
  idempotencyTtlS: 86_400,
  /** How long an in-flight idempotency record blocks its key before takeover. */
  idempotencyLockS: 60,
  shutdownTimeoutMs: 10_000,
  renderWorkers: 2,
  /** Consecutive transient failures that open a mail transport's breaker. */
  breakerThreshold: 5,
  breakerCooldownMs: 30_000,
} as const;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  smtpUrl: string | undefined;
  mailFrom: string;
  jwtSecret: string | undefined;
  jwtPreviousSecrets: string[];
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  logLevel: string;
  retryBaseMs: number;
  retryCapMs: number;
  retryMaxAttempts: number;
  smtpTimeoutMs: number;
  effectTimeoutMs: number;
  bodyLimitBytes: number;
  accessTokenTtlS: number;
  jwtClockSkewS: number;
  idempotencyTtlS: number;
  idempotencyLockS: number;
  shutdownTimeoutMs: number;
  renderWorkers: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function readInt(env: Env, name: string, fallback: number, min: number, max: number) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  }
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function readString(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === "" ? undefined : raw;
}

function readSmtpUrl(env: Env): string | undefined {
  const raw = readString(env, "SMTP_URL");
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("SMTP_URL is not a valid URL; expected smtp://user:pass@host:587");
  }
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:") {
    throw new ConfigError("SMTP_URL must start with smtp:// or smtps://");
  }
  if (url.hostname === "") {
    throw new ConfigError("SMTP_URL has no host; expected smtp://user:pass@host:587");
  }
  return raw;
}

/** `addr@host` or `Name <addr@host>`; each side of the "@" is non-empty and has no spaces. */
const MAIL_FROM = /^(?:[^<>]*<[^<>\s@]+@[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+)$/;

/** Control characters would end the From header early or inject another one. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

function readMailFrom(env: Env): string {
  const raw = readString(env, "MAIL_FROM");
  if (raw === undefined) return DEFAULTS.mailFrom;
  const value = raw.trim();
  if (CONTROL_CHARACTERS.test(value) || !MAIL_FROM.test(value)) {
    throw new ConfigError(
      "MAIL_FROM must be an address such as tickets@example.com or " +
        "admit <tickets@example.com>",
    );
  }
  return value;
}

function readJwtSecret(env: Env, name: string): string | undefined {
  const secret = readString(env, name);
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    throw new ConfigError(
      `${name} must be at least 32 bytes; generate one with: openssl rand -base64 48`,
    );
  }
  return secret;
}

/** Reads and validates the configuration; throws ConfigError naming the variable. */
export function loadConfig(env: Env = process.env): Config {
  const logLevel = readString(env, "LOG_LEVEL") ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  }

  const previous = (readString(env, "JWT_PREVIOUS_SECRETS") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const secret of previous) {
    if (Buffer.byteLength(secret) < 32) {
      throw new ConfigError("JWT_PREVIOUS_SECRETS entries must each be at least 32 bytes");
    }
  }

  const adminEmail = readString(env, "ADMIN_EMAIL");
  const adminPassword = readString(env, "ADMIN_PASSWORD");
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError("ADMIN_EMAIL and ADMIN_PASSWORD must be set together");
  }

  const retryBaseMs = readInt(env, "RETRY_BASE_MS", DEFAULTS.retryBaseMs, 1, 86_400_000);
  const retryCapMs = readInt(env, "RETRY_CAP_MS", DEFAULTS.retryCapMs, 1, 7 * 86_400_000);
  if (retryCapMs < retryBaseMs) {
    throw new ConfigError("RETRY_CAP_MS must be at least RETRY_BASE_MS");
  }

  return {
    port: readInt(env, "PORT", DEFAULTS.port, 0, 65_535),
    host: readString(env, "HOST") ?? DEFAULTS.host,
    dataDir: readString(env, "DATA_DIR") ?? DEFAULTS.dataDir,
    smtpUrl: readSmtpUrl(env),
    mailFrom: readMailFrom(env),
    jwtSecret: readJwtSecret(env, "JWT_SECRET"),
    jwtPreviousSecrets: previous,
    adminEmail,
    adminPassword,
    logLevel,
    retryBaseMs,
    retryCapMs,
    retryMaxAttempts: readInt(env, "RETRY_MAX_ATTEMPTS", DEFAULTS.retryMaxAttempts, 1, 100),
    smtpTimeoutMs: readInt(env, "SMTP_TIMEOUT_MS", DEFAULTS.smtpTimeoutMs, 10, 600_000),
    effectTimeoutMs: readInt(env, "EFFECT_TIMEOUT_MS", DEFAULTS.effectTimeoutMs, 50, 3_600_000),
    bodyLimitBytes: readInt(env, "BODY_LIMIT_BYTES", DEFAULTS.bodyLimitBytes, 256, 16_777_216),
    accessTokenTtlS: readInt(env, "ACCESS_TOKEN_TTL_S", DEFAULTS.accessTokenTtlS, 10, 86_400),
    jwtClockSkewS: readInt(env, "JWT_CLOCK_SKEW_S", DEFAULTS.jwtClockSkewS, 0, 300),
    idempotencyTtlS: readInt(env, "IDEMPOTENCY_TTL_S", DEFAULTS.idempotencyTtlS, 1, 30 * 86_400),
    idempotencyLockS: readInt(env, "IDEMPOTENCY_LOCK_S", DEFAULTS.idempotencyLockS, 1, 3600),
    shutdownTimeoutMs: readInt(
      env,
      "SHUTDOWN_TIMEOUT_MS",
      DEFAULTS.shutdownTimeoutMs,
      0,
      600_000,
    ),
    renderWorkers: readInt(env, "RENDER_WORKERS", DEFAULTS.renderWorkers, 1, 32),
    breakerThreshold: readInt(env, "BREAKER_THRESHOLD", DEFAULTS.breakerThreshold, 1, 1000),
    breakerCooldownMs: readInt(
      env,
      "BREAKER_COOLDOWN_MS",
      DEFAULTS.breakerCooldownMs,
      10,
      3_600_000,
    ),
  };
}
