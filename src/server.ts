import type { Config } from "./config.ts";
import { createApp } from "./http/app.ts";
import type { Logger } from "./log.ts";
import { closeServices, createServices, startBackground } from "./service.ts";

/**
 * Starts the service and wires graceful shutdown. On SIGTERM or SIGINT:
 * readiness turns 503, the listener stops accepting connections, requests in
 * flight finish, running effects get SHUTDOWN_TIMEOUT_MS and are then
 * released for the next start, and the process exits 0. A second signal exits
 * at once with status 1.
 */
export async function serve(config: Config, log: Logger): Promise<void> {
  const services = await createServices(config, log);
  const stopMaintenance = startBackground(services);
  const app = createApp(services);

  const server = Bun.serve({
    hostname: config.host,
    port: config.port,
    // A backstop far above the configured limit: the app answers 413 itself
    // with a problem body; this stops a client streaming without end.
    maxRequestBodySize: config.bodyLimitBytes * 4,
    fetch: (request, srv) => app.handle(request),
  });
  // Elysia reads the server for requestIP(); handing it over keeps one listener.
  app.server = server as never;
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
