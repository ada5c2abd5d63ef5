import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { TEST_PASSWORD, tempDir } from "./support/harness.ts";
import { startServer, type ServerProcess } from "./support/process.ts";

// Password hashing (argon2id) and child processes can take seconds on a loaded machine.
setDefaultTimeout(30_000);

const BODY_LIMIT = 1024;
/** Maximum time a raw exchange may take before the test gives up on it. */
const EXCHANGE_TIMEOUT_MS = 10_000;

let dataDir: string;
let server: ServerProcess;

beforeAll(async () => {
  dataDir = tempDir("admit-socket-");
  server = await startServer(dataDir, { BODY_LIMIT_BYTES: String(BODY_LIMIT) });
});

afterAll(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends a request with a chunked body over a plain socket, so the body has
 * no Content-Length, and reads the response until the server closes.
 */
function sendChunked(path: string, chunks: string[]): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete response within ${EXCHANGE_TIMEOUT_MS} ms`));
    }, EXCHANGE_TIMEOUT_MS);

    socket.on("connect", () => {
      let request =
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n" +
        "Connection: close\r\n\r\n";
      for (const chunk of chunks) {
        request += `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`;
      }
      socket.write(`${request}0\r\n\r\n`);
    });
    socket.on("data", (data) => {
      received += data.toString("utf8");
    });
    // The server may respond and close before reading the whole body.
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(received));
      } catch (err) {
        reject(err);
      }
    });
  });
}

function parseResponse(raw: string): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = "", ...headerLines] = raw.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(end + 4);
  if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

function dechunk(raw: string): string {
  let out = "";
  let rest = raw;
  for (;;) {
    const lineEnd = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

function chunksOf(text: string, size: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks;
}

function loginBody(padding: number): string {
  return JSON.stringify({ email: "nobody@example.com", password: "p".repeat(padding) });
}

describe("body limit over a socket", () => {
  test("Content-Length over the limit is 413", async () => {
    const response = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: loginBody(BODY_LIMIT * 2),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(((await response.json()) as { status: number }).status).toBe(413);
  });

  test("chunked body under the limit is read", async () => {
    const response = await sendChunked("/auth/login", chunksOf(loginBody(20), 16));
    expect(response.status).toBe(401);
    expect(response.headers["content-type"]).toBe("application/problem+json");
  });

  test("chunked body over the limit is 413", async () => {
    const response = await sendChunked("/auth/login", chunksOf(loginBody(BODY_LIMIT * 2), 256));
    expect(response.status).toBe(413);
    expect(response.headers["content-type"]).toBe("application/problem+json");
    expect((JSON.parse(response.body) as { status: number }).status).toBe(413);
  });

  test("chunked body far over the limit is 413", async () => {
    const response = await sendChunked("/auth/login", chunksOf(loginBody(BODY_LIMIT * 16), 1024));
    expect(response.status).toBe(413);
  });
});

describe("auth over a socket", () => {
  test("signup, login and a lower-case scheme", async () => {
    const signup = await fetch(`${server.url}/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "sock@example.com", name: "Sock", password: TEST_PASSWORD }),
    });
    expect(signup.status).toBe(201);

    const login = await fetch(`${server.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "sock@example.com", password: TEST_PASSWORD }),
    });
    const { access_token } = (await login.json()) as { access_token: string };

    const me = await fetch(`${server.url}/me`, {
      headers: { authorization: `bearer ${access_token}` },
    });
    expect(me.status).toBe(200);
  });

  test("missing token gets the challenge", async () => {
    const response = await fetch(`${server.url}/me`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="admit"');
  });
});
