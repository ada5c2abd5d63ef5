import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { openMemoryDatabase } from "../src/store/db.ts";
import { insertUserWithResponse } from "../src/store/users.ts";
import { startTestService, TEST_PASSWORD, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) can take seconds on a loaded machine.
setDefaultTimeout(30_000);

let service: TestService;
let admin: { id: string; email: string; token: string };
let counter = 0;

beforeEach(async () => {
  service = await startTestService();
  admin = await service.user("admin");
});

afterEach(async () => {
  await service.close();
});

function uniqueEmail(): string {
  counter++;
  return `hardening${counter}@example.com`;
}

function createUser(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return service.request("POST", "/users", { token: admin.token, body, headers });
}

function userCount(): number {
  const row = service.services.db.query<{ n: number }, []>("SELECT count(*) AS n FROM users").get();
  return row?.n ?? 0;
}

const badNames: [string, string, string][] = [
  ["spaces only", "   ", "must not be blank"],
  ["control character", "Ada\u0007", "must not contain control characters"],
  ["undrawable character", "Ada \u{1F600}", "contains U+1F600, which the ticket fonts cannot draw"],
];

describe("account names", () => {
  test.each(badNames)("signup with %s is 422", async (_case, name, detail) => {
    const response = await service.request("POST", "/auth/signup", {
      body: { email: uniqueEmail(), name, password: TEST_PASSWORD },
    });
    expect(response.status).toBe(422);
    const problem = (await response.json()) as { errors: { pointer: string; detail: string }[] };
    expect(problem.errors).toEqual([{ pointer: "/name", detail }]);
  });

  test.each(badNames)("POST /users with %s is 422", async (_case, name, detail) => {
    const before = userCount();
    const response = await createUser({
      email: uniqueEmail(),
      name,
      password: TEST_PASSWORD,
      role: "student",
    });
    expect(response.status).toBe(422);
    const problem = (await response.json()) as { errors: { pointer: string; detail: string }[] };
    expect(problem.errors).toEqual([{ pointer: "/name", detail }]);
    expect(userCount()).toBe(before);
  });
});

describe("idempotent user creation", () => {
  const body = () => ({
    email: "grace@example.com",
    name: "Grace Hopper",
    password: TEST_PASSWORD,
    role: "organizer",
  });

  test("replay returns the stored 201 and one user", async () => {
    const before = userCount();
    const first = await createUser(body(), { "idempotency-key": "user-1" });
    expect(first.status).toBe(201);
    const firstBody = await first.text();

    const again = await createUser(body(), { "idempotency-key": "user-1" });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(await again.text()).toBe(firstBody);
    expect(userCount()).toBe(before + 1);
  });

  test("same key with another body is 422", async () => {
    expect((await createUser(body(), { "idempotency-key": "user-2" })).status).toBe(201);

    const changed = await createUser({ ...body(), role: "admin" }, {
      "idempotency-key": "user-2",
    });
    expect(changed.status).toBe(422);
    expect(((await changed.json()) as { type: string }).type).toEndWith(
      "/idempotency-key-reused",
    );
  });

  test("taken email is 409 and stored", async () => {
    const duplicate = { ...body(), email: admin.email };
    const first = await createUser(duplicate, { "idempotency-key": "user-3" });
    expect(first.status).toBe(409);
    expect(((await first.json()) as { type: string }).type).toEndWith("/email-taken");

    const again = await createUser(duplicate, { "idempotency-key": "user-3" });
    expect(again.status).toBe(409);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
  });

  test("fingerprint leaves out the password", async () => {
    expect((await createUser(body(), { "idempotency-key": "user-4" })).status).toBe(201);

    const rows = service.services.db
      .query<{ fingerprint: string; body: string }, []>(
        "SELECT fingerprint, body FROM idempotency_keys",
      )
      .all();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body).not.toContain(TEST_PASSWORD);
    // A retry that changes only the password matches the stored fingerprint.
    const retry = await createUser({ ...body(), password: `${TEST_PASSWORD}-2` }, {
      "idempotency-key": "user-4",
    });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
  });

  test("failed response rolls back the user", async () => {
    const db = openMemoryDatabase();
    const user = { email: "x@example.com", name: "X", passwordHash: "x", role: "student" as const };
    const failing = () => {
      throw new Error("responder failed");
    };

    await expect(insertUserWithResponse(db, user, 1, failing, null)).rejects.toThrow(
      "responder failed",
    );
    const row = db.query<{ n: number }, []>("SELECT count(*) AS n FROM users").get();
    expect(row?.n).toBe(0);
    db.close();
  });
});

describe("admin changing own account", () => {
  function patchSelf(body: Record<string, unknown>) {
    return service.request("PATCH", `/users/${admin.id}`, { token: admin.token, body });
  }

  test.each([
    ["disable", { disabled: true }],
    ["demote to organizer", { role: "organizer" }],
    ["demote to student", { role: "student", disabled: false }],
  ])("%s is 409", async (_case, body) => {
    const response = await patchSelf(body);
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(((await response.json()) as { type: string }).type).toEndWith("/cannot-change-self");

    const me = (await (await service.request("GET", "/me", { token: admin.token })).json()) as {
      role: string;
      disabled: boolean;
    };
    expect(me.role).toBe("admin");
    expect(me.disabled).toBe(false);
  });

  test("keeping role admin is allowed", async () => {
    const response = await patchSelf({ role: "admin", disabled: false });
    expect(response.status).toBe(200);
  });

  test("another admin may disable this one", async () => {
    const other = await service.user("admin");
    const response = await service.request("PATCH", `/users/${admin.id}`, {
      token: other.token,
      body: { disabled: true },
    });
    expect(response.status).toBe(200);
  });
});
