import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  FREE_ACCOUNT_FAILURES,
  FREE_ADDRESS_FAILURES,
  LOGIN_FAILURE_WINDOW_MS,
  SIGNUPS_PER_WINDOW,
  SIGNUP_WINDOW_MS,
} from "../src/http/rate-limit.ts";
import { startTestService, TEST_PASSWORD, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

let service: TestService;
let student: { id: string; email: string; token: string };

beforeEach(async () => {
  service = await startTestService();
  student = await service.user("student");
});

afterEach(async () => {
  await service.close();
});

function login(email: string, password: string) {
  return service.request("POST", "/auth/login", { body: { email, password } });
}

async function failTimes(email: string, count: number) {
  for (let i = 0; i < count; i++) {
    expect((await login(email, "wrong-password-123")).status).toBe(401);
  }
}

async function expectLocked(response: Response, retryAfterS: number) {
  expect(response.status).toBe(429);
  expect(response.headers.get("retry-after")).toBe(String(retryAfterS));
  expect(response.headers.get("content-type")).toBe("application/problem+json");
}

describe("login failure", () => {
  test("reads the same for unknown and known accounts", async () => {
    const known = await login(student.email, "wrong-password-123");
    const unknown = await login("nobody@example.com", "wrong-password-123");

    expect(known.status).toBe(401);
    expect(unknown.status).toBe(known.status);
    expect(unknown.headers.get("www-authenticate")).toBe('Bearer realm="admit"');
    expect(known.headers.get("www-authenticate")).toBe('Bearer realm="admit"');
    expect(await unknown.text()).toBe(await known.text());
  });

  test("reads the same for a disabled account", async () => {
    const admin = await service.user("admin");
    await service.request("PATCH", `/users/${student.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    const disabled = await login(student.email, TEST_PASSWORD);
    const unknown = await login("nobody@example.com", TEST_PASSWORD);

    expect(disabled.status).toBe(401);
    expect(await disabled.text()).toBe(await unknown.text());
  });

  test("email matches in any case", async () => {
    expect((await login(student.email.toUpperCase(), TEST_PASSWORD)).status).toBe(200);
  });
});

describe("account lock", () => {
  test("starts after the free failures", async () => {
    await failTimes(student.email, FREE_ACCOUNT_FAILURES);
    await expectLocked(await login(student.email, "wrong-password-123"), 30);
  });

  test("holds even for the right password", async () => {
    await failTimes(student.email, FREE_ACCOUNT_FAILURES);
    await expectLocked(await login(student.email, TEST_PASSWORD), 30);
  });

  test("grows with repeated failures", async () => {
    await failTimes(student.email, FREE_ACCOUNT_FAILURES);
    for (const seconds of [30, 60, 120, 240]) {
      await expectLocked(await login(student.email, "wrong-password-123"), seconds);
      service.clock.advance(seconds * 1000);
      expect((await login(student.email, "wrong-password-123")).status).toBe(401);
    }
    await expectLocked(await login(student.email, TEST_PASSWORD), 480);
  });

  test("counts down while waiting", async () => {
    await failTimes(student.email, FREE_ACCOUNT_FAILURES);
    service.clock.advance(20_000);
    await expectLocked(await login(student.email, TEST_PASSWORD), 10);
  });

  test("resets on success", async () => {
    await failTimes(student.email, FREE_ACCOUNT_FAILURES);
    service.clock.advance(30_000);
    expect((await login(student.email, TEST_PASSWORD)).status).toBe(200);

    await failTimes(student.email, FREE_ACCOUNT_FAILURES);
    await expectLocked(await login(student.email, TEST_PASSWORD), 30);
  });

  test("old failures lapse", async () => {
    await failTimes(student.email, FREE_ACCOUNT_FAILURES - 1);
    service.clock.advance(LOGIN_FAILURE_WINDOW_MS + 1);
    await failTimes(student.email, FREE_ACCOUNT_FAILURES - 1);
    expect((await login(student.email, TEST_PASSWORD)).status).toBe(200);
  });

  test("applies to unknown accounts alike", async () => {
    await failTimes("nobody@example.com", FREE_ACCOUNT_FAILURES);
    await expectLocked(await login("nobody@example.com", "wrong-password-123"), 30);
  });

  test("leaves other accounts alone", async () => {
    const other = await service.user("student");
    await failTimes(student.email, FREE_ACCOUNT_FAILURES);
    expect((await login(other.email, TEST_PASSWORD)).status).toBe(200);
  });
});

describe("address lock", () => {
  // In-process requests have no socket, so they all share one client address.
  test("starts after failures across accounts", async () => {
    for (let i = 0; i < FREE_ADDRESS_FAILURES; i++) {
      expect((await login(`guess${i}@example.com`, "wrong-password-123")).status).toBe(401);
    }
    await expectLocked(await login(student.email, TEST_PASSWORD), 30);

    service.clock.advance(30_000);
    expect((await login(student.email, TEST_PASSWORD)).status).toBe(200);
  });

  test("is not reset by a success", async () => {
    for (let i = 0; i < FREE_ADDRESS_FAILURES - 1; i++) {
      expect((await login(`guess${i}@example.com`, "wrong-password-123")).status).toBe(401);
    }
    expect((await login(student.email, TEST_PASSWORD)).status).toBe(200);
    expect((await login("one-more@example.com", "wrong-password-123")).status).toBe(401);
    await expectLocked(await login("another@example.com", "wrong-password-123"), 30);
  });
});

describe("signup limit", () => {
  function signup(i: number) {
    return service.request("POST", "/auth/signup", {
      body: { email: `signup${i}@example.com`, name: "Sam", password: TEST_PASSWORD },
    });
  }

  test("allows a window's worth, then 429", async () => {
    for (let i = 0; i < SIGNUPS_PER_WINDOW; i++) expect((await signup(i)).status).toBe(201);
    await expectLocked(await signup(100), SIGNUP_WINDOW_MS / 1000);
  });

  test("opens again after the window", async () => {
    for (let i = 0; i < SIGNUPS_PER_WINDOW; i++) expect((await signup(i)).status).toBe(201);
    service.clock.advance(SIGNUP_WINDOW_MS);
    expect((await signup(100)).status).toBe(201);
  });
});
