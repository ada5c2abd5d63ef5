import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "bun";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jwtVerify } from "jose";
import { JwtSecretError, loadOrCreateJwtSecret } from "../src/auth/secret.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { startTestService, tempDir, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

const ROOT = join(import.meta.dir, "..");
const OLD_SECRET = "old-secret-of-at-least-thirty-two-bytes-1234";
const NEW_SECRET = "new-secret-of-at-least-thirty-two-bytes-5678";

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function dataDir(): string {
  const dir = tempDir("admit-secret-");
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(env: Record<string, string>): Promise<TestService> {
  const service = await startTestService(env);
  cleanup.push(() => service.close());
  return service;
}

describe("JWT_SECRET config", () => {
  test("rejects a secret of 31 bytes", () => {
    expect(() => loadConfig({ JWT_SECRET: "s".repeat(31) })).toThrow(ConfigError);
    expect(() => loadConfig({ JWT_SECRET: "s".repeat(31) })).toThrow(/JWT_SECRET/);
  });

  test("accepts a secret of 32 bytes", () => {
    expect(loadConfig({ JWT_SECRET: "s".repeat(32) }).jwtSecret).toBe("s".repeat(32));
  });

  test("counts bytes, not characters", () => {
    // 16 two-byte characters are 32 bytes; 15 are 30.
    expect(loadConfig({ JWT_SECRET: "é".repeat(16) }).jwtSecret).toBe("é".repeat(16));
    expect(() => loadConfig({ JWT_SECRET: "é".repeat(15) })).toThrow(/JWT_SECRET/);
  });

  test("rejects a short previous secret", () => {
    const env = { JWT_PREVIOUS_SECRETS: `${OLD_SECRET},short` };
    expect(() => loadConfig(env)).toThrow(/JWT_PREVIOUS_SECRETS/);
  });

  test("splits previous secrets on commas", () => {
    const config = loadConfig({ JWT_PREVIOUS_SECRETS: ` ${OLD_SECRET} , ${NEW_SECRET},` });
    expect(config.jwtPreviousSecrets).toEqual([OLD_SECRET, NEW_SECRET]);
  });

  test("short secret stops the CLI", async () => {
    const dir = dataDir();
    const proc = spawn({
      cmd: [process.execPath, join(ROOT, "src", "cli.ts"), "serve"],
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATA_DIR: dir, PORT: "0",
        JWT_SECRET: "too-short" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    const code = await proc.exited;
    clearTimeout(timer);
    const stderr = await new Response(proc.stderr).text();

    expect(code).not.toBe(0);
    expect(stderr).toContain("JWT_SECRET");
    expect(stderr).toContain("at least 32 bytes");
    expect(stderr).not.toContain("too-short");
  });
});

describe("generated secret", () => {
  test("is written with mode 0600", async () => {
    const dir = dataDir();
    await start({ DATA_DIR: dir });
    const path = join(dir, "keys", "jwt-secret");

    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.byteLength(readFileSync(path, "utf8").trim())).toBeGreaterThanOrEqual(32);
  });

  test("signs the issued tokens", async () => {
    const dir = dataDir();
    const service = await start({ DATA_DIR: dir });
    const { token } = await service.user("student");
    const secret = readFileSync(join(dir, "keys", "jwt-secret"), "utf8").trim();

    const verified = await jwtVerify(token, new TextEncoder().encode(secret), {
      currentDate: new Date(service.clock.now()),
    });
    expect(verified.protectedHeader.alg).toBe("HS256");
  });

  test("survives a restart with its tokens", async () => {
    const dir = dataDir();
    const first = await startTestService({ DATA_DIR: dir });
    const { token } = await first.user("student");
    const secret = readFileSync(join(dir, "keys", "jwt-secret"), "utf8");
    await first.close();

    const second = await start({ DATA_DIR: dir });
    second.clock.current = first.clock.current;
    expect(readFileSync(join(dir, "keys", "jwt-secret"), "utf8")).toBe(secret);
    expect((await second.request("GET", "/me", { token })).status).toBe(200);
  });

  test("is not written when JWT_SECRET is set", async () => {
    const dir = dataDir();
    await start({ DATA_DIR: dir, JWT_SECRET: NEW_SECRET });
    expect(existsSync(join(dir, "keys", "jwt-secret"))).toBe(false);
  });

  test("stored short secret is rejected", () => {
    const dir = dataDir();
    mkdirSync(join(dir, "keys"));
    writeFileSync(join(dir, "keys", "jwt-secret"), "short\n");
    expect(() => loadOrCreateJwtSecret(dir, undefined)).toThrow(JwtSecretError);
  });
});

describe("secret rotation", () => {
  test("old tokens verify, new tokens use the new secret", async () => {
    const dir = dataDir();
    const before = await startTestService({ DATA_DIR: dir, JWT_SECRET: OLD_SECRET });
    const user = await before.user("student");
    await before.close();

    const after = await start({
      DATA_DIR: dir,
      JWT_SECRET: NEW_SECRET,
      JWT_PREVIOUS_SECRETS: OLD_SECRET,
    });
    after.clock.current = before.clock.current;
    expect((await after.request("GET", "/me", { token: user.token })).status).toBe(200);

    const fresh = await after.login(user.email);
    const options = { currentDate: new Date(after.clock.now()) };
    const encoder = new TextEncoder();
    await expect(jwtVerify(fresh, encoder.encode(NEW_SECRET), options)).resolves.toBeDefined();
    await expect(jwtVerify(fresh, encoder.encode(OLD_SECRET), options)).rejects.toThrow();
  });

  test("old tokens fail once the secret is dropped", async () => {
    const dir = dataDir();
    const before = await startTestService({ DATA_DIR: dir, JWT_SECRET: OLD_SECRET });
    const user = await before.user("student");
    await before.close();

    const after = await start({ DATA_DIR: dir, JWT_SECRET: NEW_SECRET });
    const response = await after.request("GET", "/me", { token: user.token });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="admit", error="invalid_token"',
    );
  });
});
