import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  setDefaultTimeout,
  spyOn,
  test,
} from "bun:test";
import { spawn } from "bun";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH } from "../src/auth/passwords.ts";
import { startTestService, tempDir, TEST_PASSWORD, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

const ROOT = join(import.meta.dir, "..");

let service: TestService;
let admin: { id: string; email: string; token: string };
let counter = 0;

beforeAll(async () => {
  service = await startTestService();
  admin = await service.user("admin");
});

afterAll(async () => {
  await service.close();
});

const hashSpy = spyOn(Bun.password, "hash");

afterEach(() => {
  hashSpy.mockClear();
});

function nextEmail(): string {
  counter++;
  return `pw${counter}@example.com`;
}

const routes: [string, (password: string) => Promise<Response>][] = [
  [
    "signup",
    (password) =>
      service.request("POST", "/auth/signup", {
        body: { email: nextEmail(), name: "Pat", password },
      }),
  ],
  [
    "POST /users",
    (password) =>
      service.request("POST", "/users", {
        token: admin.token,
        body: { email: nextEmail(), name: "Pat", password, role: "organizer" },
      }),
  ],
];

describe.each(routes)("password on %s", (_route, send) => {
  test("minimum length is accepted", async () => {
    expect((await send("p".repeat(MIN_PASSWORD_LENGTH))).status).toBe(201);
  });

  test("one character short is 422", async () => {
    const response = await send("p".repeat(MIN_PASSWORD_LENGTH - 1));
    expect(response.status).toBe(422);
    const problem = (await response.json()) as { errors: { pointer: string; detail: string }[] };
    expect(problem.errors).toEqual([
      { pointer: "/password", detail: `must be at least ${MIN_PASSWORD_LENGTH} characters` },
    ]);
    expect(hashSpy).not.toHaveBeenCalled();
  });

  test("maximum bytes are accepted", async () => {
    expect((await send("p".repeat(MAX_PASSWORD_BYTES))).status).toBe(201);
  });

  test("one byte over is 422 before hashing", async () => {
    const response = await send("p".repeat(MAX_PASSWORD_BYTES + 1));
    expect(response.status).toBe(422);
    const problem = (await response.json()) as { errors: { pointer: string; detail: string }[] };
    expect(problem.errors).toEqual([
      { pointer: "/password", detail: `must be at most ${MAX_PASSWORD_BYTES} bytes` },
    ]);
    expect(hashSpy).not.toHaveBeenCalled();
  });

  test("limit counts bytes, not characters", async () => {
    // 129 two-byte characters: within any character limit, over the byte limit.
    const response = await send("é".repeat(129));
    expect(response.status).toBe(422);
    expect(hashSpy).not.toHaveBeenCalled();
  });

  test("huge password is 422 and not echoed", async () => {
    const password = `SECRET-VALUE-123${"x".repeat(5000)}`;
    const response = await send(password);
    expect(response.status).toBe(422);
    expect(await response.text()).not.toContain("SECRET-VALUE-123");
    expect(hashSpy).not.toHaveBeenCalled();
  });
});

describe("password at login", () => {
  test("over the limit fails like a wrong password", async () => {
    const user = await service.user("student");
    const response = await service.request("POST", "/auth/login", {
      body: { email: user.email, password: "p".repeat(MAX_PASSWORD_BYTES + 1) },
    });
    expect(response.status).toBe(401);
  });
});

describe("admit users add", () => {
  const dirs: string[] = [];

  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function usersAdd(dataDir: string, args: string[], stdin: string) {
    const proc = spawn({
      cmd: [process.execPath, join(ROOT, "src", "cli.ts"), "users", "add", ...args],
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATA_DIR: dataDir, LOG_LEVEL: "silent" },
      stdin: new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    const code = await proc.exited;
    clearTimeout(timer);
    const stdout = await new Response(proc.stdout).text();
    const stderr = await new Response(proc.stderr).text();
    return { code, stdout, stderr };
  }

  function dataDir(): string {
    const dir = tempDir("admit-cli-");
    dirs.push(dir);
    return dir;
  }

  test("reads the password from stdin", async () => {
    const dir = dataDir();
    const email = "org@example.com";
    const result = await usersAdd(
      dir,
      ["--email", email, "--role", "organizer", "--name", "Olga Organizer"],
      `${TEST_PASSWORD}\n`,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("created organizer org@example.com");
    expect(result.stdout + result.stderr).not.toContain(TEST_PASSWORD);

    const api = await startTestService({ DATA_DIR: dir });
    try {
      const token = await api.login(email);
      const me = (await (await api.request("GET", "/me", { token })).json()) as {
        role: string;
        name: string;
      };
      expect(me.role).toBe("organizer");
      expect(me.name).toBe("Olga Organizer");
    } finally {
      await api.close();
    }
  });

  test("short password fails without a user", async () => {
    const dir = dataDir();
    const result = await usersAdd(dir, ["--email", "s@example.com", "--role", "admin"], "short\n");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("password must be at least");

    const api = await startTestService({ DATA_DIR: dir });
    try {
      const response = await api.request("POST", "/auth/login", {
        body: { email: "s@example.com", password: "short" },
      });
      expect(response.status).toBe(401);
    } finally {
      await api.close();
    }
  });

  test("password option does not exist", async () => {
    const dir = dataDir();
    const result = await usersAdd(
      dir,
      ["--email", "p@example.com", "--role", "admin", "--password", TEST_PASSWORD],
      "",
    );
    expect(result.code).not.toBe(0);
  });

  test("unknown role fails", async () => {
    const result = await usersAdd(dataDir(), ["--email", "r@example.com", "--role", "root"], "");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--role must be one of student, organizer, admin");
  });
});
