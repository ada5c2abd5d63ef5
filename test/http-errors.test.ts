import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestService, TEST_PASSWORD, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

const BODY_LIMIT = 1024;
const SECRET = "SECRET-VALUE-123";

let service: TestService;
let admin: { id: string; email: string; token: string };
let organizer: { id: string; email: string; token: string };
let student: { id: string; email: string; token: string };
let eventId: string;
let counter = 0;

beforeAll(async () => {
  service = await startTestService({ BODY_LIMIT_BYTES: String(BODY_LIMIT) });
  admin = await service.user("admin");
  organizer = await service.user("organizer");
  student = await service.user("student");
  eventId = await service.event(organizer.token);
});

afterAll(async () => {
  await service.close();
});

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { pointer: string; detail: string }[];
}

async function problem(response: Response, status: number): Promise<ProblemBody> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as ProblemBody;
  expect(body.status).toBe(status);
  expect(body.type).toStartWith("https://");
  expect(body.title).toBeString();
  expect(body.detail).toBeString();
  return body;
}

function uniqueEmail(): string {
  counter++;
  return `http${counter}@example.com`;
}

describe("malformed body", () => {
  test("invalid JSON is 400", async () => {
    const response = await service.request("POST", "/auth/login", { rawBody: '{"email": ' });
    const body = await problem(response, 400);
    expect(body.type).toEndWith("/invalid-json");
  });

  test.each([["array", "[]"], ["string", '"text"'], ["number", "42"], ["null", "null"]])(
    "JSON %s is 422",
    async (_kind, rawBody) => {
      const response = await service.request("POST", "/auth/login", { rawBody });
      const body = await problem(response, 422);
      expect(body.errors).toEqual([{ pointer: "", detail: "must be a JSON object" }]);
    },
  );

  test("empty JSON body is 422", async () => {
    const response = await service.request("POST", "/auth/login", {
      rawBody: "",
      headers: { "content-type": "application/json" },
    });
    await problem(response, 422);
  });

  test.each(["text/plain", "application/x-www-form-urlencoded", "application/xml"])(
    "%s is 415",
    async (type) => {
      const response = await service.request("POST", "/auth/login", {
        rawBody: "email=a%40example.com&password=x",
        headers: { "content-type": type },
      });
      await problem(response, 415);
    },
  );

  test("JSON with a charset is accepted", async () => {
    const response = await service.request("POST", "/auth/login", {
      rawBody: JSON.stringify({ email: student.email, password: TEST_PASSWORD }),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(response.status).toBe(200);
  });

  test("body over the limit is 413", async () => {
    const response = await service.request("POST", "/auth/login", {
      rawBody: JSON.stringify({ email: "a@example.com", password: "p".repeat(BODY_LIMIT) }),
    });
    const body = await problem(response, 413);
    expect(body.detail).toContain(String(BODY_LIMIT));
  });
});

describe("schema errors", () => {
  // Each row puts the distinctive value where the schema rejects it.
  const cases: [string, string, string, () => Record<string, unknown>, string][] = [
    ["signup name", "POST", "/auth/signup",
      () => ({ email: uniqueEmail(), name: [SECRET], password: TEST_PASSWORD }), "/name"],
    ["signup email", "POST", "/auth/signup",
      () => ({ email: SECRET, name: "Ada", password: TEST_PASSWORD }), "/email"],
    ["user role", "POST", "/users",
      () => ({ email: uniqueEmail(), name: "Ada", password: TEST_PASSWORD, role: SECRET }),
      "/role"],
    ["user disabled", "PATCH", "/users/{student}", () => ({ disabled: SECRET }), "/disabled"],
    ["event capacity", "POST", "/events", () => ({
      title: "Open Day",
      venue: "Hall",
      starts_at: "2027-03-01T18:00:00+01:00",
      time_zone: "Europe/Vienna",
      capacity: SECRET,
    }), "/capacity"],
    ["login password", "POST", "/auth/login",
      () => ({ email: student.email, password: { value: SECRET } }), "/password"],
  ];

  test.each(cases)("%s is 422 without the value", async (_name, method, template, body, field) => {
    const path = template.replace("{student}", student.id);
    let token: string | undefined = admin.token;
    if (path.startsWith("/auth/")) token = undefined;
    if (path === "/events") token = organizer.token;
    const response = await service.request(method, path, { token, body: body() });

    const text = await response.clone().text();
    expect(text).not.toContain(SECRET);
    const result = await problem(response, 422);
    expect(result.errors?.map((e) => e.pointer)).toContain(field);
    for (const error of result.errors ?? []) {
      expect(Object.keys(error).sort()).toEqual(["detail", "pointer"]);
    }
  });

  test("unknown field is 422", async () => {
    const response = await service.request("POST", "/auth/login", {
      body: { email: student.email, password: TEST_PASSWORD, remember: SECRET },
    });
    const result = await problem(response, 422);
    expect(result.errors).toEqual([{ pointer: "/remember", detail: "is not an allowed field" }]);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  test("every invalid field is listed", async () => {
    const response = await service.request("POST", "/auth/signup", {
      body: { email: 7, password: TEST_PASSWORD },
    });
    const result = await problem(response, 422);
    const pointers = result.errors?.map((e) => e.pointer).sort();
    expect(pointers).toEqual(["/email", "/name"]);
  });
});

describe("control characters in names", () => {
  const names: [string, string][] = [
    ["NUL", "Ada\u0000Lovelace"],
    ["BEL", "Ada\u0007"],
    ["newline", "Ada\nBcc: x@example.com"],
    ["RIGHT-TO-LEFT OVERRIDE", "Ada\u202Eecalevol"],
  ];

  test.each(names)("%s is 422 on signup", async (_kind, name) => {
    const response = await service.request("POST", "/auth/signup", {
      body: { email: uniqueEmail(), name, password: TEST_PASSWORD },
    });
    const result = await problem(response, 422);
    expect(result.errors).toContainEqual({
      pointer: "/name",
      detail: "must not contain control characters",
    });
  });

  test.each(names)("%s is 422 on POST /users", async (_kind, name) => {
    const response = await service.request("POST", "/users", {
      token: admin.token,
      body: { email: uniqueEmail(), name, password: TEST_PASSWORD, role: "organizer" },
    });
    const result = await problem(response, 422);
    expect(result.errors?.map((e) => e.pointer)).toEqual(["/name"]);
  });

  test.each(names)("%s is 422 on registration", async (_kind, name) => {
    counter++;
    const response = await service.request("POST", `/events/${eventId}/registrations`, {
      token: organizer.token,
      body: { name, email: uniqueEmail() },
      headers: { "idempotency-key": `control-${counter}` },
    });
    const result = await problem(response, 422);
    expect(result.errors?.map((e) => e.pointer)).toEqual(["/name"]);
  });

  test("plain non-Latin name is accepted", async () => {
    const response = await service.request("POST", `/events/${eventId}/registrations`, {
      token: organizer.token,
      body: { name: "Zoë Ωμέγα 山田 عائشة", email: uniqueEmail() },
      headers: { "idempotency-key": "control-accepted" },
    });
    expect(response.status).toBe(201);
  });
});

describe("routing", () => {
  test("unknown route is 404", async () => {
    const body = await problem(await service.request("GET", "/no/such/route"), 404);
    expect(body.type).toEndWith("/not-found");
  });

  test("unknown method is 404", async () => {
    await problem(await service.request("PUT", "/auth/login", { body: {} }), 404);
  });
});
