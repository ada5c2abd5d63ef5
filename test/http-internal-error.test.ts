import { afterEach, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { loadConfig } from "../src/config.ts";
import { createApp, type App } from "../src/http/app.ts";
import { createLogger } from "../src/log.ts";
import { createServices, type Services } from "../src/service.ts";
import { createUser } from "../src/users.ts";
import { FakeClock, tempDir, TEST_PASSWORD } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

interface LogEntry {
  level: number;
  msg: string;
  requestId?: string;
  [field: string]: unknown;
}

let dataDir: string;
let lines: string[];
let services: Services;
let app: App;
let token: string;

beforeEach(async () => {
  dataDir = tempDir("admit-500-");
  lines = [];
  const log = createLogger("info", { write: (line: string) => void lines.push(line) });
  services = await createServices(loadConfig({ DATA_DIR: dataDir }), log, {
    clock: new FakeClock(),
  });
  app = createApp(services);

  await createUser(services, {
    email: "ada@example.com",
    name: "Ada",
    password: TEST_PASSWORD,
    role: "student",
  });
  const login = await app.handle(
    new Request("http://localhost/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ada@example.com", password: TEST_PASSWORD }),
    }),
  );
  token = ((await login.json()) as { access_token: string }).access_token;

  // A closed store makes every query throw an error no handler expects.
  await services.dispatcher.stop(0);
  services.db.close();
});

afterEach(async () => {
  services.transport.close();
  await services.pool.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function me() {
  return app.handle(
    new Request("http://localhost/me", { headers: { authorization: `Bearer ${token}` } }),
  );
}

function logEntries(): LogEntry[] {
  return lines.map((line) => JSON.parse(line) as LogEntry);
}

test("unexpected error is a generic 500", async () => {
  const response = await me();
  expect(response.status).toBe(500);
  expect(response.headers.get("content-type")).toBe("application/problem+json");

  const body = (await response.json()) as Record<string, unknown>;
  expect(body.status).toBe(500);
  expect(body.title).toBe("Internal server error");
  expect(body.request_id).toBeString();
  expect(JSON.stringify(body)).not.toMatch(/database|sqlite|closed|stack|at \//i);
});

test("500 request id is in the log", async () => {
  const body = (await (await me()).json()) as { request_id: string };

  const failures = logEntries().filter((entry) => entry.msg === "request failed");
  expect(failures).toHaveLength(1);
  expect(failures[0]?.requestId).toBe(body.request_id);
  expect(failures[0]?.level).toBe(50);
  expect(JSON.stringify(failures[0])).toMatch(/closed/i);
});

test("each 500 has its own request id", async () => {
  const first = (await (await me()).json()) as { request_id: string };
  const second = (await (await me()).json()) as { request_id: string };
  expect(first.request_id).not.toBe(second.request_id);
});

test("log never carries the token or password", async () => {
  await me();
  const all = lines.join("\n");
  expect(all).not.toContain(token);
  expect(all).not.toContain(TEST_PASSWORD);
});
