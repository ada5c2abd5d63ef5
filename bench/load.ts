/**
 * Load generator for admit's registration endpoint. Run it against a running
 * server started with ADMIN_EMAIL and ADMIN_PASSWORD set:
 *
 *   bun bench/load.ts --url http://127.0.0.1:3000 --mode hot --requests 2000 --concurrency 32
 *
 * Each run first sends --warmup unmeasured registrations to a separate event.
 *
 * Modes:
 *   hot     every request registers a new attendee for one event; with
 *           --capacity below --requests, the rest race for the last seats and get 409
 *   many    requests spread over --events events
 *   replay  first registers --requests attendees, then repeats every request
 *           with its Idempotency-Key and measures only the replays
 *
 * The admin registers attendees by email, so no per-attendee login is needed.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:3000" },
    mode: { type: "string", default: "hot" },
    requests: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "32" },
    events: { type: "string", default: "50" },
    capacity: { type: "string" },
    warmup: { type: "string", default: "200" },
    email: { type: "string", default: process.env.ADMIN_EMAIL ?? "admin@example.com" },
    password: { type: "string", default: process.env.ADMIN_PASSWORD ?? "" },
  },
});

const base = values.url!;
const total = Number(values.requests);
const concurrency = Number(values.concurrency);
const mode = values.mode!;
const runId = crypto.randomUUID().slice(0, 8);

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function login(): Promise<string> {
  const response = await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: values.email, password: values.password }),
  });
  if (response.status !== 200) throw new Error(`admin login failed: ${response.status}`);
  return (await json(response)).access_token as string;
}

async function createEvent(token: string, capacity: number): Promise<string> {
  const response = await fetch(`${base}/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({
      title: `Load test ${runId}`,
      venue: "Bench Hall",
      starts_at: new Date(Date.now() + 90 * 86_400_000).toISOString(),
      time_zone: "Europe/Vienna",
      capacity,
    }),
  });
  if (response.status !== 201) throw new Error(`event creation failed: ${response.status}`);
  return (await json(response)).id as string;
}

interface Job {
  eventId: string;
  key: string;
  email: string;
}

interface Result {
  ms: number[];
  statuses: Map<number, number>;
  seconds: number;
}

async function run(token: string, jobs: Job[]): Promise<Result> {
  const ms: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;

  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const started = performance.now();
      const response = await fetch(`${base}/events/${job.eventId}/registrations`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "idempotency-key": job.key,
        },
        body: JSON.stringify({ name: "Load Tester", email: job.email }),
      });
      await response.arrayBuffer();
      ms.push(performance.now() - started);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  };

  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms, statuses, seconds: (performance.now() - started) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

function report(label: string, result: Result): void {
  const sorted = [...result.ms].sort((a, b) => a - b);
  const line = {
    label,
    requests: result.ms.length,
    concurrency,
    seconds: Number(result.seconds.toFixed(2)),
    per_second: Math.round(result.ms.length / result.seconds),
    p50_ms: Number(percentile(sorted, 50).toFixed(2)),
    p99_ms: Number(percentile(sorted, 99).toFixed(2)),
    max_ms: Number((sorted.at(-1) ?? 0).toFixed(2)),
    statuses: Object.fromEntries(result.statuses),
  };
  console.log(JSON.stringify(line));
}

const token = await login();

// Unmeasured requests first, so JIT warm-up and worker start-up are not in the numbers.
const warmup = Number(values.warmup);
if (warmup > 0) {
  const eventId = await createEvent(token, warmup);
  await run(
    token,
    Array.from({ length: warmup }, (_, i) => ({
      eventId,
      key: `${runId}-warm-${i}`,
      email: `warm-${runId}-${i}@example.com`,
    })),
  );
}

if (mode === "hot") {
  const eventId = await createEvent(token, Number(values.capacity ?? total));
  const jobs = Array.from({ length: total }, (_, i) => ({
    eventId,
    key: `${runId}-${i}`,
    email: `hot-${runId}-${i}@example.com`,
  }));
  report("hot event", await run(token, jobs));
} else if (mode === "many") {
  const count = Number(values.events);
  const events: string[] = [];
  for (let i = 0; i < count; i++) events.push(await createEvent(token, total));
  const jobs = Array.from({ length: total }, (_, i) => ({
    eventId: events[i % count]!,
    key: `${runId}-${i}`,
    email: `many-${runId}-${i}@example.com`,
  }));
  report(`${count} events`, await run(token, jobs));
} else if (mode === "replay") {
  const eventId = await createEvent(token, total);
  const jobs = Array.from({ length: total }, (_, i) => ({
    eventId,
    key: `${runId}-${i}`,
    email: `replay-${runId}-${i}@example.com`,
  }));
  report("first requests", await run(token, jobs));
  report("replays", await run(token, jobs));
} else {
  console.error(`unknown --mode ${mode}; use hot, many or replay`);
  process.exit(2);
}
