import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../src/config.ts";
import { listenFailureReason } from "../src/server.ts";
import { tempDir } from "./support/harness.ts";
import { startServer, type ServerProcess } from "./support/process.ts";

// Child processes can take seconds to start on a loaded machine.
setDefaultTimeout(30_000);

const ROOT = join(import.meta.dir, "..");
const BODY_LIMIT = 1024;

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("loadConfig accepted the environment");
}

describe("SMTP_URL", () => {
  test.each(["smtp://", "smtps://", "smtp://:587", "smtp://user:pass@"])(
    "%s without a host is rejected",
    (url) => {
      expect(configError({ SMTP_URL: url })).toContain("SMTP_URL");
    },
  );

  test("URL with a host is accepted", () => {
    expect(loadConfig({ SMTP_URL: "smtp://user:pass@mail.example.com:587" }).smtpUrl)
      .toBe("smtp://user:pass@mail.example.com:587");
  });
});

describe("MAIL_FROM", () => {
  test.each([
    ["no at sign", "admit"],
    ["name without address", "admit <tickets>"],
    ["empty angle brackets", "admit <>"],
    ["empty local part", "@example.com"],
    ["space in address", "tickets @example.com"],
    ["line break", "tickets@example.com\r\nBcc: x@example.com"],
  ])("%s is rejected", (_case, value) => {
    expect(configError({ MAIL_FROM: value })).toContain("MAIL_FROM");
  });

  test.each([
    "tickets@example.com",
    "tickets@localhost",
    "admit <tickets@localhost>",
    '"Admit, Tickets" <tickets@example.com>',
  ])("%s is accepted", (value) => {
    expect(loadConfig({ MAIL_FROM: value }).mailFrom).toBe(value);
  });

  test("default is accepted", () => {
    expect(loadConfig({}).mailFrom).toBe("admit <tickets@localhost>");
  });
});

describe("listen failure", () => {
  test("reason is the system code", () => {
    expect(listenFailureReason(Object.assign(new Error("x"), { code: "EADDRINUSE" })))
      .toBe("EADDRINUSE");
    expect(listenFailureReason(new Error("x"))).toBe("unknown error");
    expect(listenFailureReason(null)).toBe("unknown error");
  });

  test("port in use exits 1 with one line", async () => {
    const blocker = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const dataDir = tempDir("admit-listen-");
    try {
      const proc = Bun.spawn([process.execPath, join(ROOT, "src", "cli.ts"), "serve"], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: process.env.HOME ?? "/tmp",
          DATA_DIR: dataDir,
          HOST: "127.0.0.1",
          PORT: String(blocker.port),
          LOG_LEVEL: "silent",
        },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);

      expect(code).toBe(1);
      const lines = stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`HOST=127.0.0.1 PORT=${blocker.port}`);
      expect(lines[0]).toContain("EADDRINUSE");
    } finally {
      await blocker.stop(true);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("body far over the limit", () => {
  let dataDir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    dataDir = tempDir("admit-body-");
    server = await startServer(dataDir, { BODY_LIMIT_BYTES: String(BODY_LIMIT) });
  });

  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test.each([
    ["4x the limit", BODY_LIMIT * 4 + 1],
    ["16x the limit", BODY_LIMIT * 16],
    ["1 MiB", 1024 * 1024],
  ])("%s gets the problem 413", async (_case, size) => {
    const response = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "a@example.com", password: "p".repeat(size) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { status: number; detail: string };
    expect(problem.status).toBe(413);
    expect(problem.detail).toContain(String(BODY_LIMIT));
  });
});
