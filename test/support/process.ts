import { spawn, type Subprocess } from "bun";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

export interface ServerProcess {
  url: string;
  port: number;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Every log line printed so far, parsed. */
  logs: Record<string, unknown>[];
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** SIGKILL: no shutdown hooks run. */
  kill(): Promise<void>;
}

/**
 * Starts `admit serve` as a child process on a random loopback port and waits
 * until it logs that it listens. `env` adds to a minimal environment.
 */
export async function startServer(
  dataDir: string,
  env: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<ServerProcess> {
  const proc = spawn({
    cmd: [process.execPath, join(ROOT, "src", "cli.ts"), "serve"],
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      ...env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });

  const logs: Record<string, unknown>[] = [];
  let resolvePort: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });

  void (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of proc.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === "admit listening") resolvePort(entry.port as number);
        } catch {
          // Not a log line; ignore.
        }
      }
    }
  })();

  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error("server did not start in time")), timeoutMs),
  );
  const exited = proc.exited.then(async (code) => {
    const stderr = await new Response(proc.stderr).text();
    throw new Error(`server exited with ${code} before listening: ${stderr}`);
  });
  const port = await Promise.race([listening, timeout, exited]);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    logs,
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      return proc.exited;
    },
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}
