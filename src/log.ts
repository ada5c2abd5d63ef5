import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Creates the service logger: JSON lines on stdout with fixed messages and ids
 * as fields. Secrets never reach it because the redact list masks the fields
 * that could carry them if a caller logs a request or config object by mistake.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "admit" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "password",
          "*.password",
          "token",
          "*.token",
          "authorization",
          "*.authorization",
          "headers.authorization",
          "jwtSecret",
          "*.jwtSecret",
          "smtpUrl",
          "*.smtpUrl",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}

/** Creates a logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
