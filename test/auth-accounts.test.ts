import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestService, TEST_PASSWORD, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

const INVALID_TOKEN = 'Bearer realm="admit", error="invalid_token"';

let service: TestService;
let admin: { id: string; email: string; token: string };

beforeEach(async () => {
  service = await startTestService();
  admin = await service.user("admin");
});

afterEach(async () => {
  await service.close();
});

async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

function signup(body: Record<string, unknown>) {
  return service.request("POST", "/auth/signup", { body });
}

function createUser(body: Record<string, unknown>, token = admin.token) {
  return service.request("POST", "/users", { token, body });
}

async function expectInvalidToken(token: string) {
  const response = await service.request("GET", "/me", { token });
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toBe(INVALID_TOKEN);
}

describe("signup", () => {
  test("makes a student", async () => {
    const response = await signup({
      email: "ada@example.com",
      name: "Ada Lovelace",
      password: TEST_PASSWORD,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe("/me");

    const user = await json(response);
    expect(user.role).toBe("student");
    expect(user.email).toBe("ada@example.com");
    expect(Object.keys(user)).not.toContain("password");
    expect(Object.keys(user)).not.toContain("password_hash");

    const token = await service.login("ada@example.com");
    const me = await json(await service.request("GET", "/me", { token }));
    expect(me.role).toBe("student");
  });

  test("role field is an unknown field", async () => {
    const response = await signup({
      email: "eve@example.com",
      name: "Eve",
      password: TEST_PASSWORD,
      role: "admin",
    });
    expect(response.status).toBe(422);

    const problem = await json<{ errors: { pointer: string; detail: string }[] }>(response);
    expect(problem.errors).toContainEqual({ pointer: "/role", detail: "is not an allowed field" });
    expect(JSON.stringify(problem)).not.toContain("admin");

    const login = await service.request("POST", "/auth/login", {
      body: { email: "eve@example.com", password: TEST_PASSWORD },
    });
    expect(login.status).toBe(401);
  });

  test("taken email is 409, in any case", async () => {
    const first = await signup({ email: "bob@example.com", name: "Bob", password: TEST_PASSWORD });
    expect(first.status).toBe(201);

    const again = await signup({ email: "BOB@example.com", name: "Bob", password: TEST_PASSWORD });
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("POST /users", () => {
  test.each(["student", "organizer", "admin"])("admin creates role %s", async (role) => {
    const email = `new-${role}@example.com`;
    const response = await createUser({ email, name: "New User", password: TEST_PASSWORD, role });
    expect(response.status).toBe(201);

    const user = await json<{ id: string; role: string }>(response);
    expect(user.role).toBe(role);
    expect(response.headers.get("location")).toBe(`/users/${user.id}`);

    const token = await service.login(email);
    const me = await json(await service.request("GET", "/me", { token }));
    expect(me.role).toBe(role);
  });

  test("taken email is 409", async () => {
    const body = { email: admin.email, name: "Copy", password: TEST_PASSWORD, role: "admin" };
    expect((await createUser(body)).status).toBe(409);
  });

  test("unknown role is 422", async () => {
    const body = { email: "r@example.com", name: "R", password: TEST_PASSWORD, role: "root" };
    const response = await createUser(body);
    expect(response.status).toBe(422);
    const problem = await json<{ errors: { pointer: string }[] }>(response);
    expect(problem.errors.map((e) => e.pointer)).toContain("/role");
    expect(JSON.stringify(problem)).not.toContain("root");
  });
});

describe("PATCH /users/:id", () => {
  test("role change revokes old tokens at once", async () => {
    const user = await service.user("student");
    const response = await service.request("PATCH", `/users/${user.id}`, {
      token: admin.token,
      body: { role: "organizer" },
    });
    expect(response.status).toBe(200);
    expect((await json(response)).role).toBe("organizer");

    await expectInvalidToken(user.token);
    const fresh = await service.login(user.email);
    expect((await json(await service.request("GET", "/me", { token: fresh }))).role)
      .toBe("organizer");
  });

  test("disabling revokes tokens and blocks login", async () => {
    const user = await service.user("organizer");
    const response = await service.request("PATCH", `/users/${user.id}`, {
      token: admin.token,
      body: { disabled: true },
    });
    expect(response.status).toBe(200);
    expect((await json(response)).disabled).toBe(true);

    await expectInvalidToken(user.token);
    const login = await service.request("POST", "/auth/login", {
      body: { email: user.email, password: TEST_PASSWORD },
    });
    expect(login.status).toBe(401);
  });

  test("enabling again allows login", async () => {
    const user = await service.user("student");
    for (const disabled of [true, false]) {
      const response = await service.request("PATCH", `/users/${user.id}`, {
        token: admin.token,
        body: { disabled },
      });
      expect(response.status).toBe(200);
    }
    expect(await service.login(user.email)).toBeString();
  });

  test("unknown user is 404", async () => {
    const response = await service.request("PATCH", `/users/${crypto.randomUUID()}`, {
      token: admin.token,
      body: { role: "admin" },
    });
    expect(response.status).toBe(404);
  });

  test("unknown field is 422", async () => {
    const user = await service.user("student");
    const response = await service.request("PATCH", `/users/${user.id}`, {
      token: admin.token,
      body: { email: "new@example.com" },
    });
    expect(response.status).toBe(422);
    expect(JSON.stringify(await json(response))).not.toContain("new@example.com");
  });
});

describe("logout", () => {
  test("revokes only the presented token", async () => {
    const user = await service.user("student");
    const other = await service.login(user.email);

    const response = await service.request("POST", "/auth/logout", { token: user.token });
    expect(response.status).toBe(204);

    await expectInvalidToken(user.token);
    expect((await service.request("GET", "/me", { token: other })).status).toBe(200);
  });

  test("revocation lasts until the token expires", async () => {
    const user = await service.user("student");
    await service.request("POST", "/auth/logout", { token: user.token });

    service.clock.advance(800_000);
    await expectInvalidToken(user.token);

    const row = service.services.db
      .query<{ expires_at: number }, []>("SELECT expires_at FROM revoked_tokens")
      .get();
    const payload = JSON.parse(atob(user.token.split(".")[1]!)) as { exp: number };
    expect(row?.expires_at).toBe(payload.exp);
  });

  test("second logout with the same token is 401", async () => {
    const user = await service.user("student");
    expect((await service.request("POST", "/auth/logout", { token: user.token })).status)
      .toBe(204);
    const again = await service.request("POST", "/auth/logout", { token: user.token });
    expect(again.status).toBe(401);
    expect(again.headers.get("www-authenticate")).toBe(INVALID_TOKEN);
  });
});
