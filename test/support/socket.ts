import type { App } from "../../src/http/app.ts";

export interface Listening {
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves an in-process app on a real loopback socket, so a test talks HTTP
 * over TCP while keeping control of the service's fake clock.
 */
export function listen(app: App): Listening {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => app.handle(request),
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      await server.stop(true);
    },
  };
}
