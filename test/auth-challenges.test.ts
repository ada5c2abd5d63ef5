import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestService, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

const BARE = 'Bearer realm="admit"';
const INVALID_TOKEN = 'Bearer realm="admit", error="invalid_token"';
const INSUFFICIENT_SCOPE = 'Bearer realm="admit", error="insufficient_scope"';

let service: TestService;
let student: { id: string; email: string; token: string };
let organizer: { id: string; email: string; token: string };

beforeAll(async () => {
  service = await startTestService();
  student = await service.user("student");
  organizer = await service.user("organizer");
});

afterAll(async () => {
  await service.close();
});

function me(authorization?: string, path = "/me") {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  return service.request("GET", path, { headers });
}

async function expectChallenge(response: Response, challenge: string) {
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toBe(challenge);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as { status: number; type: string };
  expect(body.status).toBe(401);
  expect(body.type).toEndWith("/unauthorized");
}

describe("authentication challenge", () => {
  test("no credentials get the bare challenge", async () => {
    await expectChallenge(await me(), BARE);
  });

  test("bad token gets invalid_token", async () => {
    await expectChallenge(await me("Bearer abc.def.ghi"), INVALID_TOKEN);
  });

  test("empty Bearer token gets invalid_token", async () => {
    await expectChallenge(await me("Bearer"), INVALID_TOKEN);
  });

  test.each(["bearer", "BEARER", "BeArEr"])("scheme %s is accepted", async (scheme) => {
    expect((await me(`${scheme} ${student.token}`)).status).toBe(200);
  });

  // Rows build their header lazily because the student exists only once the tests run.
  const otherSchemes: [string, () => string][] = [
    ["Basic", () => `Basic ${btoa(`${student.email}:correct-horse-battery`)}`],
    ["Digest", () => 'Digest username="x", realm="admit"'],
    ["token without scheme", () => student.token],
    ["Bearer glued to token", () => `Bearer${student.token}`],
  ];

  test.each(otherSchemes)("%s gets the bare challenge", async (_kind, header) => {
    await expectChallenge(await me(header()), BARE);
  });

  test("token in the query string is ignored", async () => {
    const path = `/me?access_token=${encodeURIComponent(student.token)}`;
    await expectChallenge(await me(undefined, path), BARE);
  });

  test("body problems wait until after authentication", async () => {
    const response = await service.request("POST", "/events", { rawBody: "{not json" });
    await expectChallenge(response, BARE);
  });
});

describe("protected routes", () => {
  const routes: [string, string][] = [
    ["GET", "/me"],
    ["GET", "/me/registrations"],
    ["POST", "/auth/logout"],
    ["POST", "/users"],
    ["PATCH", "/users/:id"],
    ["GET", "/events"],
    ["POST", "/events"],
    ["GET", "/events/:id"],
    ["GET", "/events/:id/registrations"],
    ["POST", "/events/:id/registrations"],
    ["GET", "/registrations/:id"],
    ["GET", "/registrations/:id/ticket.pdf"],
    ["DELETE", "/registrations/:id"],
    ["POST", "/registrations/:id/resend"],
    ["POST", "/checkins"],
    ["GET", "/admin/jobs"],
    ["GET", "/admin/jobs/:id"],
    ["POST", "/admin/jobs/:id/retry"],
    ["DELETE", "/admin/jobs/:id"],
  ];

  test.each(routes)("%s %s needs a token", async (method, template) => {
    const body = method === "POST" || method === "PATCH" ? {} : undefined;
    const path = template.replace(":id", crypto.randomUUID());
    const response = await service.request(method, path, { body });
    await expectChallenge(response, BARE);
  });
});

describe("authorization", () => {
  const forbidden: [string, string, string, unknown][] = [
    ["student", "POST", "/users", { email: "x@example.com" }],
    ["student", "PATCH", "/users/{self}", { role: "admin" }],
    ["student", "POST", "/events", { title: "x" }],
    ["student", "GET", "/events/{any}/registrations", undefined],
    ["organizer", "POST", "/users", { role: "admin" }],
    ["organizer", "PATCH", "/users/{self}", { role: "admin" }],
    ["student", "POST", "/checkins", { code: "x" }],
    ["student", "GET", "/admin/jobs", undefined],
    ["organizer", "GET", "/admin/jobs", undefined],
    ["organizer", "DELETE", "/admin/jobs/{any}", undefined],
  ];

  test.each(forbidden)("%s gets 403 on %s %s", async (role, method, template, body) => {
    const caller = role === "student" ? student : organizer;
    const path = template.replace("{self}", caller.id).replace("{any}", crypto.randomUUID());
    const response = await service.request(method, path, { token: caller.token, body });

    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toBe(INSUFFICIENT_SCOPE);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await response.json()) as { status: number; errors?: unknown };
    expect(problem.status).toBe(403);
    // The role check runs before the body is validated, so no schema errors leak.
    expect(problem.errors).toBeUndefined();
  });

  test("role change through PATCH was refused", async () => {
    const response = await service.request("GET", "/me", { token: student.token });
    expect(((await response.json()) as { role: string }).role).toBe("student");
  });
});
