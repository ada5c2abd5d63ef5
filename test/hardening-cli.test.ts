import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TEST_PASSWORD, tempDir } from "./support/harness.ts";

// Each case starts a Bun process; password hashing adds seconds on a loaded machine.
setDefaultTimeout(30_000);

const ROOT = join(import.meta.dir, "..");

let parent: string;
let dataDir: string;

beforeEach(() => {
  parent = tempDir("admit-cli-hardening-");
  // Not created yet: the commands under test decide whether it should be.
  dataDir = join(parent, "data");
});

afterEach(() => {
  rmSync(parent, { recursive: true, force: true });
});

async function runCli(args: string[], stdin = "") {
  const proc = Bun.spawn([process.execPath, join(ROOT, "src", "cli.ts"), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      DATA_DIR: dataDir,
      LOG_LEVEL: "silent",
    },
    stdin: new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

function databaseExists(): boolean {
  return existsSync(join(dataDir, "admit.sqlite"));
}

describe("admit users add", () => {
  const rejected: [string, string[], string][] = [
    ["invalid email", ["--email", "not-an-email", "--role", "student"],
      "--email must be an email address"],
    ["name with a control character", ["--email", "a@example.com", "--role", "student",
      "--name", "Ada\u0007"], "--name must not contain control characters"],
    ["blank name", ["--email", "a@example.com", "--role", "student", "--name", "   "],
      "--name must not be blank"],
    ["undrawable name", ["--email", "a@example.com", "--role", "student", "--name",
      "Ada \u{1F600}"], "--name contains U+1F600"],
    ["missing value", ["--role", "student", "--email"], "--email requires a value"],
    ["value taken from the next option", ["--email", "--role", "student"],
      "--email requires a value"],
    ["unknown role", ["--email", "a@example.com", "--role", "root"],
      "--role must be one of student, organizer, admin"],
  ];

  test.each(rejected)("%s exits 2", async (_case, args, message) => {
    const result = await runCli(["users", "add", ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`admit users add: ${message}`);
    expect(databaseExists()).toBe(false);
  });

  test("unknown option is named without its value", async () => {
    const result = await runCli([
      "users", "add", "--email", "a@example.com", "--role", "student", "--password=hunter22",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option --password");
    expect(result.stderr).not.toContain("hunter22");
  });

  test("stray argument is not repeated", async () => {
    const result = await runCli([
      "users", "add", "--email", "a@example.com", "--role", "student", "hunter22",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unexpected argument");
    expect(result.stderr).not.toContain("hunter22");
  });

  test("duplicate email is named", async () => {
    const args = ["users", "add", "--email", "ada@example.com", "--role", "organizer"];
    const first = await runCli(args, `${TEST_PASSWORD}\n`);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("created organizer ada@example.com");

    const again = await runCli(
      ["users", "add", "--email", "ADA@example.com", "--role", "student"],
      `${TEST_PASSWORD}\n`,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("a user with email ADA@example.com already exists");
  });
});

describe("admit jobs without a database", () => {
  test("exits 1 and creates nothing", async () => {
    const result = await runCli(["jobs", "list"]);

    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `admit jobs: no admit database at ${join(dataDir, "admit.sqlite")}; ` +
        "set DATA_DIR to the service's data directory",
    );
    expect(existsSync(dataDir)).toBe(false);
  });

  test("usage error still exits 2", async () => {
    const result = await runCli(["jobs", "list", "--state", "lost"]);
    expect(result.code).toBe(2);
    expect(existsSync(dataDir)).toBe(false);
  });

  test("migrate creates the database", async () => {
    const result = await runCli(["migrate"]);
    expect(result.code).toBe(0);
    expect(databaseExists()).toBe(true);

    const list = await runCli(["jobs", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe("");
  });
});
