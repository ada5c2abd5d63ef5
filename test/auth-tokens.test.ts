import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHmac } from "node:crypto";
import { SignJWT, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from "../src/auth/tokens.ts";
import { startTestService, type TestService } from "./support/harness.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

const SECRET = "current-secret-of-at-least-32-bytes-0123456789";
const PREVIOUS = "previous-secret-of-at-least-32-bytes-abcdefgh";
const OTHER = "unrelated-secret-of-at-least-32-bytes-zyxwvuts";
const SKEW_S = 30;
const INVALID_TOKEN = 'Bearer realm="admit", error="invalid_token"';

const encoder = new TextEncoder();

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** Builds a compact JWS by hand, so headers and signatures can be anything. */
function handMade(header: object, payload: object, secret: string | null): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  if (secret === null) return `${input}.`;
  const signature = createHmac("sha256", secret).update(input).digest("base64url");
  return `${input}.${signature}`;
}

let service: TestService;
let student: { id: string; email: string; token: string };

beforeEach(async () => {
  service = await startTestService({
    JWT_SECRET: SECRET,
    JWT_PREVIOUS_SECRETS: `${PREVIOUS}, ${"x".repeat(40)}`,
    JWT_CLOCK_SKEW_S: String(SKEW_S),
  });
  student = await service.user("student");
});

afterEach(async () => {
  await service.close();
});

function nowS(): number {
  return Math.floor(service.clock.now() / 1000);
}

/** Claims of a valid token for the test student, before a row changes them. */
function claims(): Record<string, unknown> {
  return {
    sub: student.id,
    role: "student",
    ver: 0,
    jti: crypto.randomUUID(),
    iss: TOKEN_ISSUER,
    aud: TOKEN_AUDIENCE,
    iat: nowS(),
    exp: nowS() + 900,
  };
}

async function sign(
  payload: Record<string, unknown>,
  options: { alg?: string; secret?: string } = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .sign(encoder.encode(options.secret ?? SECRET));
}

function without(payload: Record<string, unknown>, name: string) {
  const copy = { ...payload };
  delete copy[name];
  return copy;
}

describe("login token", () => {
  test("has the RFC 6750 response shape", async () => {
    const response = await service.request("POST", "/auth/login", {
      body: { email: student.email, password: "correct-horse-battery" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");

    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["access_token", "expires_in", "token_type"]);
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(900);
  });

  test("carries the standard claims", async () => {
    const token = await service.login(student.email);
    const header = decodeProtectedHeader(token);
    const payload = decodeJwt(token);

    expect(header.alg).toBe("HS256");
    expect(payload.sub).toBe(student.id);
    expect(payload.role).toBe("student");
    expect(payload.iss).toBe(TOKEN_ISSUER);
    expect(payload.aud).toBe(TOKEN_AUDIENCE);
    expect(payload.iat).toBe(nowS());
    expect(payload.exp).toBe(nowS() + 900);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("lifetime follows ACCESS_TOKEN_TTL_S", async () => {
    const short = await startTestService({ ACCESS_TOKEN_TTL_S: "60" });
    try {
      const user = await short.user("student");
      const response = await short.request("POST", "/auth/login", {
        body: { email: user.email, password: "correct-horse-battery" },
      });
      const body = (await response.json()) as { access_token: string; expires_in: number };
      expect(body.expires_in).toBe(60);

      const payload = decodeJwt(body.access_token);
      expect(payload.exp! - payload.iat!).toBe(60);
    } finally {
      await short.close();
    }
  });

  test("expires after its lifetime", async () => {
    expect((await service.request("GET", "/me", { token: student.token })).status).toBe(200);

    service.clock.advance((900 + SKEW_S + 1) * 1000);
    const response = await service.request("GET", "/me", { token: student.token });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(INVALID_TOKEN);
  });

  test("is signed with the current secret only", async () => {
    const token = await service.login(student.email);
    const options = { algorithms: ["HS256"], currentDate: new Date(service.clock.now()) };

    const verified = await jwtVerify(token, encoder.encode(SECRET), options);
    expect(verified.payload.sub).toBe(student.id);
    await expect(jwtVerify(token, encoder.encode(PREVIOUS), options)).rejects.toThrow();
  });
});

describe("token verification", () => {
  test("accepts a token signed with a previous secret", async () => {
    const token = await sign(claims(), { secret: PREVIOUS });
    const response = await service.request("GET", "/me", { token });
    expect(response.status).toBe(200);
  });

  test("tolerates expiry within the clock skew", async () => {
    const token = await sign({ ...claims(), exp: nowS() - SKEW_S + 1 });
    expect((await service.request("GET", "/me", { token })).status).toBe(200);
  });

  test("tolerates issue time within the clock skew", async () => {
    const token = await sign({ ...claims(), iat: nowS() + SKEW_S - 1 });
    expect((await service.request("GET", "/me", { token })).status).toBe(200);
  });

  // Each row is one kind of token the service must reject with the same
  // challenge and the same body, whatever the reason.
  const rejected: [string, () => Promise<string>][] = [
    ["alg none", async () => handMade({ alg: "none", typ: "JWT" }, claims(), null)],
    ["alg none with a signature", async () => handMade({ alg: "none" }, claims(), SECRET)],
    ["HS512 with the right secret", () => sign(claims(), { alg: "HS512" })],
    ["HS384 with the right secret", () => sign(claims(), { alg: "HS384" })],
    ["wrong secret", () => sign(claims(), { secret: OTHER })],
    ["signature stripped", async () => handMade({ alg: "HS256" }, claims(), null)],
    [
      "tampered payload",
      async () => {
        const [header, , signature] = (await sign(claims())).split(".");
        return `${header}.${base64url({ ...claims(), role: "admin" })}.${signature}`;
      },
    ],
    ["expired", () => sign({ ...claims(), exp: nowS() - SKEW_S - 1 })],
    ["nbf beyond the skew", () => sign({ ...claims(), nbf: nowS() + SKEW_S + 5 })],
    ["iat beyond the skew", () => sign({ ...claims(), iat: nowS() + SKEW_S + 5 })],
    ["missing exp", () => sign(without(claims(), "exp"))],
    ["missing jti", () => sign(without(claims(), "jti"))],
    ["foreign iss", () => sign({ ...claims(), iss: "https://issuer.invalid" })],
    ["foreign aud", () => sign({ ...claims(), aud: "another-api" })],
    ["role not the user's", () => sign({ ...claims(), role: "admin" })],
    ["unknown subject", () => sign({ ...claims(), sub: crypto.randomUUID() })],
    ["stale token version", () => sign({ ...claims(), ver: 7 })],
    ["not a JWT", async () => "not-a-jwt"],
    ["two segments", async () => (await sign(claims())).split(".").slice(0, 2).join(".")],
    ["characters outside b64token", async () => `${await sign(claims())} extra`],
  ];

  let firstBody: string | undefined;

  test.each(rejected)("rejects %s", async (_kind, make) => {
    const response = await service.request("GET", "/me", {
      headers: { authorization: `Bearer ${await make()}` },
    });

    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(INVALID_TOKEN);
    expect(response.headers.get("content-type")).toBe("application/problem+json");

    const body = await response.text();
    expect(body).not.toMatch(/signature|algorithm|HS\d|audience|issuer|claim|jws|jwt/i);
    firstBody ??= body;
    expect(body).toBe(firstBody);
  });
});
