import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestService, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

interface Caller {
  id: string;
  email: string;
  token: string;
}

let service: TestService;
let admin: Caller;
let organizerA: Caller;
let organizerB: Caller;
let student1: Caller;
let student2: Caller;
let eventA: string;
let eventB: string;
/** student1 at event A, student2 at event B, student1 at event B. */
let reg1A: string;
let reg2B: string;
let reg1B: string;
let keyCounter = 0;

function register(token: string, eventId: string, body: Record<string, unknown> = {}) {
  keyCounter++;
  return service.request("POST", `/events/${eventId}/registrations`, {
    token,
    body,
    headers: { "idempotency-key": `ownership-${keyCounter}` },
  });
}

async function registered(token: string, eventId: string, body?: Record<string, unknown>) {
  const response = await register(token, eventId, body);
  if (response.status !== 201) throw new Error(`registration failed: ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}

function get(token: string, path: string) {
  return service.request("GET", path, { token });
}

async function ids(response: Response): Promise<string[]> {
  expect(response.status).toBe(200);
  const body = (await response.json()) as { items: { id: string }[] };
  return body.items.map((item) => item.id).sort();
}

beforeAll(async () => {
  service = await startTestService();
  admin = await service.user("admin");
  organizerA = await service.user("organizer");
  organizerB = await service.user("organizer");
  student1 = await service.user("student");
  student2 = await service.user("student");
  eventA = await service.event(organizerA.token);
  eventB = await service.event(organizerB.token);
  reg1A = await registered(student1.token, eventA);
  reg2B = await registered(student2.token, eventB);
  reg1B = await registered(student1.token, eventB);
  await service.services.dispatcher.runUntilIdle();
});

afterAll(async () => {
  await service.close();
});

/** Fetches the 404 body for an id that does not exist, to compare hidden ones against. */
async function missingBody(token: string): Promise<string> {
  return (await get(token, `/registrations/${crypto.randomUUID()}`)).text();
}

async function expectHidden(response: Response, token: string) {
  expect(response.status).toBe(404);
  expect(await response.text()).toBe(await missingBody(token));
}

describe("student", () => {
  test("reads own registration", async () => {
    const response = await get(student1.token, `/registrations/${reg1A}`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { id: string }).id).toBe(reg1A);
  });

  test("gets 404 for another's registration", async () => {
    await expectHidden(await get(student1.token, `/registrations/${reg2B}`), student1.token);
  });

  test("downloads own ticket only", async () => {
    const own = await get(student1.token, `/registrations/${reg1A}/ticket.pdf`);
    expect(own.status).toBe(200);
    expect(own.headers.get("content-type")).toBe("application/pdf");

    const other = await get(student1.token, `/registrations/${reg2B}/ticket.pdf`);
    expect(other.status).toBe(404);
  });

  test("lists own registrations only", async () => {
    expect(await ids(await get(student1.token, "/me/registrations")))
      .toEqual([reg1A, reg1B].sort());
  });

  test("cannot cancel or resend another's", async () => {
    const cancel = await service.request("DELETE", `/registrations/${reg2B}`, {
      token: student1.token,
    });
    expect(cancel.status).toBe(404);
    const resend = await service.request("POST", `/registrations/${reg2B}/resend`, {
      token: student1.token,
      headers: { "idempotency-key": "student-resend-other" },
    });
    expect(resend.status).toBe(404);

    const check = await get(admin.token, `/registrations/${reg2B}`);
    expect(((await check.json()) as { status: string }).status).toBe("confirmed");
  });

  test("registers only themselves", async () => {
    const response = await register(student2.token, eventA, { email: "friend@example.com" });
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });

  test("registers themselves with own email", async () => {
    const response = await register(student2.token, eventA, {
      email: student2.email.toUpperCase(),
    });
    expect(response.status).toBe(201);
  });

  test("cancels own registration", async () => {
    const id = await registered(student1.token, await service.event(organizerA.token));
    const response = await service.request("DELETE", `/registrations/${id}`, {
      token: student1.token,
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe("cancelled");
  });

  test("sees every event", async () => {
    const events = await ids(await get(student1.token, "/events"));
    expect(events).toContain(eventA);
    expect(events).toContain(eventB);
    expect((await get(student1.token, `/events/${eventB}`)).status).toBe(200);
  });
});

describe("organizer", () => {
  test("lists own events only", async () => {
    const events = await ids(await get(organizerA.token, "/events"));
    expect(events).toContain(eventA);
    expect(events).not.toContain(eventB);
  });

  test("gets 404 for another's event", async () => {
    await expectHidden(await get(organizerA.token, `/events/${eventB}`), organizerA.token);
  });

  test("gets 404 for another's attendee list", async () => {
    const response = await get(organizerA.token, `/events/${eventB}/registrations`);
    await expectHidden(response, organizerA.token);
  });

  test("gets 404 registering at another's event", async () => {
    const response = await register(organizerA.token, eventB, {
      name: "Walk In",
      email: "walkin@example.com",
    });
    await expectHidden(response, organizerA.token);
  });

  test("gets 404 for another event's registration", async () => {
    const token = organizerA.token;
    await expectHidden(await get(token, `/registrations/${reg2B}`), token);
    await expectHidden(await get(token, `/registrations/${reg2B}/ticket.pdf`), token);

    const cancel = await service.request("DELETE", `/registrations/${reg2B}`, { token });
    await expectHidden(cancel, token);
    const resend = await service.request("POST", `/registrations/${reg2B}/resend`, {
      token,
      headers: { "idempotency-key": "organizer-resend-other" },
    });
    await expectHidden(resend, token);
  });

  test("sees own event's attendees", async () => {
    expect(await ids(await get(organizerA.token, `/events/${eventA}/registrations`)))
      .toContain(reg1A);
    expect((await get(organizerA.token, `/registrations/${reg1A}`)).status).toBe(200);
    expect((await get(organizerA.token, `/registrations/${reg1A}/ticket.pdf`)).status).toBe(200);
  });

  test("registers anyone at own event", async () => {
    const response = await register(organizerA.token, eventA, {
      name: "Guest Speaker",
      email: "guest@example.com",
    });
    expect(response.status).toBe(201);
  });

  test("cancels an attendee of own event", async () => {
    const id = await registered(organizerA.token, eventA, {
      name: "Late Guest",
      email: "late@example.com",
    });
    const response = await service.request("DELETE", `/registrations/${id}`, {
      token: organizerA.token,
    });
    expect(response.status).toBe(200);
  });
});

describe("admin", () => {
  test("sees every event and attendee list", async () => {
    const events = await ids(await get(admin.token, "/events"));
    expect(events).toContain(eventA);
    expect(events).toContain(eventB);
    expect(await ids(await get(admin.token, `/events/${eventB}/registrations`)))
      .toEqual([reg1B, reg2B].sort());
  });

  test("reads and cancels any registration", async () => {
    expect((await get(admin.token, `/registrations/${reg1B}`)).status).toBe(200);
    expect((await get(admin.token, `/registrations/${reg1B}/ticket.pdf`)).status).toBe(200);

    const response = await service.request("DELETE", `/registrations/${reg1B}`, {
      token: admin.token,
    });
    expect(response.status).toBe(200);
  });
});
