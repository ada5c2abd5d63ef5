import type { Config } from "./config.ts";
import { createApp } from "./http/app.ts";
import type { Logger } from "./log.ts";
import { closeServices, createServices, startBackground, type Services } from "./service.ts";

/**
 * Bun's own cap on a request body, a backstop against a client that streams
 * without end. The app stops reading at BODY_LIMIT_BYTES (at most 16 MiB) and
 * returns 413 with a problem body. Only a body larger than this cap gets
 * Bun's bare 413 instead.
 */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;

/** The listener could not bind HOST and PORT; `reason` is the system code, such as EADDRINUSE. */
export class ListenError extends Error {
  readonly code = "LISTEN_FAILED";

  constructor(
    readonly host: string,
    readonly port: number,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(
      `cannot listen on HOST=${host} PORT=${port}: ${reason}; ` +
        "set HOST and PORT to a local address and a free port",
      options,
    );
  }
}

/** Reads the system error code of a failed listen, such as EADDRINUSE or ENOTFOUND. */
export function listenFailureReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code !== "" ? code : "unknown error";
}

function listen(config: Config, services: Services) {
  const app = createApp(services);
  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
    fetch: (request) => app.handle(request),
  });
  // Elysia reads the server for requestIP(); handing it over keeps one listener.
  app.server = server as never;
  return server;
}

/**
 * Starts the service and wires graceful shutdown. A failed listen closes the
 * services and throws ListenError. On SIGTERM or SIGINT: readiness turns 503,
 * the listener stops accepting connections, requests in flight finish,
 * running effects get SHUTDOWN_TIMEOUT_MS and are then released for the next
 * start, and the process exits 0. A second signal exits at once with status 1.
 */
export async function serve(config: Config, log: Logger): Promise<void> {
  const services = await createServices(config, log);

  let server: ReturnType<typeof listen>;
  try {
    server = listen(config, services);
  } catch (err) {
    await closeServices(services);
    throw new ListenError(config.host, config.port, listenFailureReason(err), { cause: err });
  }
  const stopMaintenance = startBackground(services);
  log.info(
    { host: config.host, port: server.port, dataDir: config.dataDir, mail: services.transport.name },
    "admit listening",
  );

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) {
      log.warn({ signal }, "second signal; exiting now");
      process.exit(1);
    }
    shuttingDown = true;
    services.draining = true;
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, "shutting down");

    const started = Date.now();
    await server.stop(false);
    stopMaintenance();
    const left = Math.max(0, config.shutdownTimeoutMs - (Date.now() - started));
    await services.dispatcher.stop(left);
    await closeServices(services);
    log.info({ ms: Date.now() - started }, "shutdown complete");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
