import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestService, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) can take seconds on a loaded machine.
setDefaultTimeout(30_000);

let service: TestService;
let admin: { id: string; email: string; token: string };
let organizer: { id: string; email: string; token: string };
let student: { id: string; email: string; token: string };
let eventId: string;

beforeAll(async () => {
  service = await startTestService();
  admin = await service.user("admin");
  organizer = await service.user("organizer");
  student = await service.user("student");
  eventId = await service.event(organizer.token);
});

afterAll(async () => {
  await service.close();
});

interface QueryProblem {
  title: string;
  status: number;
  errors: { pointer: string; detail: string }[];
}

async function queryProblem(response: Response): Promise<QueryProblem> {
  expect(response.status).toBe(422);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as QueryProblem;
  expect(body.title).toBe("Invalid request");
  return body;
}

const invalid: [string, string, string][] = [
  ["fractional limit", "limit=1.5", "/limit"],
  ["zero limit", "limit=0", "/limit"],
  ["limit over 100", "limit=101", "/limit"],
  ["empty limit", "limit=", "/limit"],
  ["exponent limit", "limit=1e1", "/limit"],
  ["signed limit", "limit=%2B5", "/limit"],
  ["word limit", "limit=ten", "/limit"],
  ["huge offset", "offset=99999999999999999999", "/offset"],
  ["offset over a million", "offset=1000001", "/offset"],
  ["negative offset", "offset=-1", "/offset"],
  ["fractional offset", "offset=0.5", "/offset"],
];

const expected: Record<string, string> = {
  "/limit": "must be an integer from 1 to 100",
  "/offset": "must be an integer from 0 to 1000000",
};

describe("paging parameters", () => {
  const routes: [string, () => string, () => string][] = [
    ["GET /events", () => "/events", () => student.token],
    ["GET /me/registrations", () => "/me/registrations", () => student.token],
    [
      "GET /events/:id/registrations",
      () => `/events/${eventId}/registrations`,
      () => organizer.token,
    ],
  ];

  for (const [name, path, token] of routes) {
    test.each(invalid)(`${name}: %s is 422`, async (_case, query, pointer) => {
      const response = await service.request("GET", `${path()}?${query}`, { token: token() });
      const body = await queryProblem(response);
      expect(body.errors).toEqual([{ pointer, detail: expected[pointer]! }]);
    });

    test(`${name}: bounds are accepted`, async () => {
      for (const query of ["limit=1", "limit=100", "offset=0", "offset=1000000", ""]) {
        const response = await service.request("GET", `${path()}?${query}`, { token: token() });
        expect(response.status).toBe(200);
      }
    });
  }

  test("limit and offset page through events", async () => {
    const second = await service.event(organizer.token);
    const first = await service.request("GET", "/events?limit=1&offset=0", {
      token: student.token,
    });
    const next = await service.request("GET", "/events?limit=1&offset=1", {
      token: student.token,
    });

    const firstIds = ((await first.json()) as { items: { id: string }[] }).items.map((e) => e.id);
    const nextIds = ((await next.json()) as { items: { id: string }[] }).items.map((e) => e.id);
    expect(firstIds).toHaveLength(1);
    expect(nextIds).toHaveLength(1);
    expect([...firstIds, ...nextIds].sort()).toEqual([eventId, second].sort());
  });

  test("schema error in a query has the query title", async () => {
    const response = await service.request("GET", "/admin/jobs?state=lost", {
      token: admin.token,
    });
    const body = await queryProblem(response);
    expect(body.errors.map((e) => e.pointer)).toEqual(["/state"]);
  });

  test("anonymous caller gets 401 before the query check", async () => {
    const response = await service.request("GET", "/events?limit=1.5");
    expect(response.status).toBe(401);
  });
});

describe("paging in the OpenAPI document", () => {
  test("limit shows its range and no default", async () => {
    const response = await service.request("GET", "/openapi.json");
    const document = (await response.json()) as {
      paths: Record<string, { get?: { parameters?: { name: string; schema: unknown }[] } }>;
    };
    const parameters = document.paths["/events"]?.get?.parameters ?? [];
    const limit = parameters.find((p) => p.name === "limit");

    expect(limit).toBeDefined();
    expect(JSON.stringify(limit)).not.toContain('"default"');
    expect(JSON.stringify(limit)).toContain("an integer from 1 to 100");
  });
});

describe("admin job paging", () => {
  const limits = invalid.filter(([, , pointer]) => pointer === "/limit");

  test.each(limits)("GET /admin/jobs: %s is 422", async (_case, query, pointer) => {
    const response = await service.request("GET", `/admin/jobs?${query}`, { token: admin.token });
    const body = await queryProblem(response);
    expect(body.errors).toEqual([{ pointer, detail: expected[pointer]! }]);
  });
});
