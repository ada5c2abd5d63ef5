import type { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { assign, sendTo, setup } from "xstate";
import { createLogger } from "../src/log.ts";
import {
  Dispatcher,
  LEASE_MARGIN_MS,
  type EffectHandler,
} from "../src/runtime/dispatcher.ts";
import { Engine, type MachineRegistry } from "../src/runtime/engine.ts";
import * as sql from "../src/store/actors.ts";
import { openDatabase } from "../src/store/db.ts";
import { FakeClock, seededRandom, tempDir } from "./support/harness.ts";

/**
 * The engine and dispatcher on a real SQLite file, with small machines made
 * for each runtime rule instead of the product's machines.
 */

const EFFECT_TIMEOUT_MS = 1000;
const LEASE_MS = EFFECT_TIMEOUT_MS + LEASE_MARGIN_MS;
const ARMED_TIMER = "xstate.after.10000.timer.armed";

/** Waits 10 s in `armed`, and SKIP leaves early for a state that is not final. */
const timerMachine = setup({
  types: {} as { events: { type: "SKIP" } | { type: "REARM" } | { type: "STOP" } },
}).createMachine({
  id: "timer",
  initial: "armed",
  on: { STOP: ".stopped" },
  states: {
    armed: { after: { 10_000: "fired" }, on: { SKIP: "skipped" } },
    skipped: { on: { REARM: "armed" } },
    fired: {},
    stopped: { type: "final" },
  },
});

/**
 * Asks for one `work` effect and counts the results it gets, with the lost
 * claims each reported. BROKEN enters a state whose entry action the runtime
 * does not know, so applying it throws.
 */
const workerMachine = setup({
  types: {} as {
    context: { results: number; lostClaims: number[] };
    events:
      | { type: "DONE"; lostClaims: number }
      | { type: "BROKEN" }
      | { type: "SEND_LIVE" }
      | { type: "AGAIN" };
  },
  actions: {
    work: () => {},
    mystery: () => {},
  },
}).createMachine({
  id: "worker",
  context: { results: 0, lostClaims: [] },
  initial: "working",
  states: {
    working: {
      entry: "work",
      on: {
        DONE: {
          target: "idle",
          actions: assign({
            results: ({ context }) => context.results + 1,
            lostClaims: ({ context, event }) => [...context.lostClaims, event.lostClaims],
          }),
        },
        BROKEN: "broken",
        // A live-actor built-in: its message would be lost on a restored snapshot.
        SEND_LIVE: { actions: sendTo(({ self }) => self, { type: "AGAIN" }) },
      },
    },
    idle: { on: { AGAIN: "working", BROKEN: "broken" } },
    broken: { entry: "mystery" },
  },
});

const REGISTRY: MachineRegistry = {
  timer: { machine: timerMachine, version: 1, effects: new Set() },
  worker: { machine: workerMachine, version: 1, effects: new Set(["work"]) },
};

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

let dir: string;
let db: Database;
let clock: FakeClock;
let engine: Engine;
let logs: { msg: string }[];
let runs: number;
let handler: EffectHandler;

beforeEach(() => {
  dir = tempDir();
  db = openDatabase(dir);
  clock = new FakeClock();
  engine = new Engine(db, REGISTRY, seededRandom(3));
  logs = [];
  runs = 0;
  handler = {
    async run() {
      runs++;
      return { type: "DONE" };
    },
    fail: () => ({ type: "DONE" }),
  };
  seedRegistration(db);
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Inserts the rows every actor points at through its foreign key. */
function seedRegistration(target: Database): void {
  target.run(
    `INSERT INTO users (id, email, name, password_hash, role, created_at)
     VALUES ('u', 'u@example.com', 'U', 'x', 'organizer', 0)`,
  );
  target.run(
    `INSERT INTO events (id, title, venue, starts_at, time_zone, capacity, organizer_id, created_at)
     VALUES ('e', 'E', 'V', '2027-03-01T18:00:00Z', 'UTC', 10, 'u', 0)`,
  );
  target.run(
    `INSERT INTO registrations (id, event_id, created_by, attendee_name, attendee_email,
       ticket_id, status, created_at)
     VALUES ('r', 'e', 'u', 'A', 'a@example.com', 't', 'confirmed', 0)`,
  );
}

function dispatcher(
  handlers: Record<string, EffectHandler> = { work: handler },
  options: { concurrency?: number; idleMs?: number } = {},
): Dispatcher {
  const log = createLogger("warn", {
    write(line: string) {
      logs.push(JSON.parse(line) as { msg: string });
    },
  });
  return new Dispatcher({
    db,
    engine,
    clock,
    handlers,
    log,
    effectTimeoutMs: EFFECT_TIMEOUT_MS,
    concurrency: options.concurrency ?? 4,
    ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
  });
}

function write<T>(fn: () => T): T {
  return db.transaction(fn).immediate();
}

function create(kind: string, id: string): void {
  write(() => engine.create(kind, id, "r", {}, clock.now()));
}

function enqueue(actorId: string, event: unknown): void {
  write(() => sql.insertInbox(db, actorId, event, clock.now(), null, clock.now()));
}

function actor(id: string) {
  const row = sql.selectActor(db, id)!;
  const snapshot = JSON.parse(row.snapshot) as {
    context: { results: number; lostClaims: number[] };
  };
  return { state: row.state, done: row.done, context: snapshot.context };
}

function inbox() {
  return db
    .query<{ actor_id: string; timer_id: string | null; due_at: number }, []>(
      `SELECT actor_id, timer_id, due_at FROM inbox ORDER BY id`,
    )
    .all();
}

function effectRows() {
  return db
    .query<{ actor_id: string; claims: number; lease_owner: string | null }, []>(
      `SELECT actor_id, claims, lease_owner FROM effects`,
    )
    .all();
}

describe("engine timers", () => {
  test("delayed transition becomes a due inbox row", () => {
    create("timer", "t1");

    expect(inbox()).toEqual([
      { actor_id: "t1", timer_id: ARMED_TIMER, due_at: clock.now() + 10_000 },
    ]);
  });

  test("timer fires once due", async () => {
    create("timer", "t1");
    const runtime = dispatcher();

    clock.advance(9_999);
    await runtime.runUntilIdle();
    expect(actor("t1").state).toBe("armed");

    clock.advance(1);
    await runtime.runUntilIdle();
    expect(actor("t1").state).toBe("fired");
    expect(inbox()).toEqual([]);
  });

  test("leaving a state early deletes its timer", async () => {
    create("timer", "t1");
    write(() => engine.deliver("t1", { type: "SKIP" }, clock.now()));

    expect(actor("t1")).toMatchObject({ state: "skipped", done: 0 });
    expect(inbox()).toEqual([]);

    clock.advance(20_000);
    await dispatcher().runUntilIdle();
    expect(actor("t1").state).toBe("skipped");
  });

  test("re-entering a state keeps one timer", () => {
    create("timer", "t1");
    write(() => engine.deliver("t1", { type: "SKIP" }, clock.now()));
    clock.advance(500);
    write(() => engine.deliver("t1", { type: "REARM" }, clock.now()));

    expect(inbox()).toEqual([
      { actor_id: "t1", timer_id: ARMED_TIMER, due_at: clock.now() + 10_000 },
    ]);
  });
});

describe("dispatcher poisoned work", () => {
  test("poisoned event is dropped and the queue moves on", async () => {
    create("worker", "w1");
    create("worker", "w2");
    enqueue("w1", { type: "BROKEN" });
    enqueue("w2", { type: "BROKEN" });
    create("timer", "t1");
    write(() => engine.deliver("t1", { type: "SKIP" }, clock.now()));
    enqueue("t1", { type: "REARM" });

    await dispatcher().runUntilIdle();

    expect(actor("w1").state).not.toBe("broken");
    expect(actor("w2").state).not.toBe("broken");
    expect(actor("t1").state).toBe("armed");
    expect(logs.filter((line) => line.msg === "event dropped: it could not be applied")).toHaveLength(2);
  });

  test("live-actor built-in is rejected, not ignored", async () => {
    create("worker", "w1");
    enqueue("w1", { type: "SEND_LIVE" });

    await dispatcher({}).runUntilIdle();

    expect(inbox()).toEqual([]);
    expect(logs.filter((line) => line.msg === "event dropped: it could not be applied"))
      .toHaveLength(1);
  });

  test("unparseable event and unknown kind are dropped", async () => {
    create("timer", "t1");
    write(() => {
      db.run(
        `INSERT INTO actors (id, kind, machine_version, registration_id, state, snapshot,
           created_at, updated_at)
         VALUES ('ghost', 'retired-kind', 1, 'r', 'x', '{}', 0, 0)`,
      );
      db.run(
        `INSERT INTO inbox (actor_id, event, due_at, created_at) VALUES ('t1', '{not json', 0, 0)`,
      );
    });
    enqueue("ghost", { type: "ANY" });
    enqueue("t1", { type: "SKIP" });

    await dispatcher().runUntilIdle();

    expect(actor("t1").state).toBe("skipped");
    expect(inbox()).toEqual([]);
    expect(logs.filter((line) => line.msg === "event dropped: it could not be applied")).toHaveLength(2);
  });

  test("event for a finished actor is consumed", async () => {
    create("timer", "t1");
    write(() => engine.deliver("t1", { type: "STOP" }, clock.now()));
    enqueue("t1", { type: "REARM" });

    await dispatcher().runUntilIdle();

    expect(actor("t1")).toMatchObject({ state: "stopped", done: 1 });
    expect(inbox()).toEqual([]);
    expect(logs).toEqual([]);
  });

  test("poisoned effect result is not run again", async () => {
    create("worker", "w1");
    create("worker", "w2");
    let broken = true;
    handler.run = async () => {
      runs++;
      const type = broken ? "BROKEN" : "DONE";
      broken = false;
      return { type };
    };
    const runtime = dispatcher();

    await runtime.runUntilIdle();
    clock.advance(LEASE_MS + 1);
    await runtime.runUntilIdle();

    expect(runs).toBe(2);
    expect(effectRows()).toEqual([]);
    expect(actor("w2").context.results + actor("w1").context.results).toBe(1);
    expect(logs.some((line) => line.msg === "effect result dropped: it could not be applied"))
      .toBe(true);
  });

  test("effect without a handler waits and blocks nothing", async () => {
    create("worker", "w1");
    create("timer", "t1");
    clock.advance(10_000);

    await dispatcher({}).runUntilIdle();

    expect(actor("t1").state).toBe("fired");
    expect(effectRows()).toMatchObject([{ actor_id: "w1", claims: 1 }]);
  });
});

describe("dispatcher leases", () => {
  test("expired lease is reclaimed and the lost claim counted", async () => {
    create("worker", "w1");
    const now = clock.now();
    write(() => sql.claimEffects(db, "crashed", now, now + LEASE_MS, 10));
    const runtime = dispatcher();

    clock.advance(LEASE_MS);
    await runtime.runUntilIdle();
    expect(runs).toBe(0);

    clock.advance(1);
    await runtime.runUntilIdle();
    expect(runs).toBe(1);
    expect(actor("w1").context).toEqual({ results: 1, lostClaims: [1] });
    expect(effectRows()).toEqual([]);
  });

  test("result from a stale lease is dropped", async () => {
    create("worker", "w1");
    const gates = [gate(), gate()];
    handler.run = async () => {
      const wait = gates[runs++]!;
      await wait.promise;
      return { type: "DONE" };
    };
    const first = dispatcher();
    const second = dispatcher();

    const firstRun = first.runUntilIdle();
    clock.advance(LEASE_MS + 1);
    const secondRun = second.runUntilIdle();
    expect(runs).toBe(2);

    gates[0]!.open();
    await firstRun;
    expect(actor("w1").context.results).toBe(0);
    expect(logs.some((line) => line.msg === "effect result dropped: its lease was taken over"))
      .toBe(true);

    gates[1]!.open();
    await secondRun;
    expect(actor("w1").context).toEqual({ results: 1, lostClaims: [1] });
  });

  test("effect cut off by shutdown is not counted", async () => {
    create("worker", "w1");
    const hang = gate();
    handler.run = async () => {
      runs++;
      if (runs === 1) await hang.promise;
      return { type: "DONE" };
    };
    const first = dispatcher();

    const firstRun = first.runUntilIdle();
    await first.stop(0);
    await firstRun;
    expect(effectRows()).toEqual([{ actor_id: "w1", claims: 0, lease_owner: null }]);

    await dispatcher().runUntilIdle();
    hang.open();

    expect(runs).toBe(2);
    expect(actor("w1").context).toEqual({ results: 1, lostClaims: [0] });
  });

  test("loop with every slot busy sleeps until woken", async () => {
    create("worker", "w1");
    create("worker", "w2");
    const release = gate();
    handler.run = async () => {
      runs++;
      await release.promise;
      return { type: "DONE" };
    };
    const runtime = dispatcher({ work: handler }, { concurrency: 1, idleMs: 5000 });

    // The loop runs synchronously up to its first sleep, so the delay it
    // requests is recorded by the time start() returns.
    const delays: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms?: number, ...args: unknown[]) => {
      delays.push(ms ?? 0);
      return realSetTimeout(fn, ms, ...args);
    }) as typeof setTimeout;
    try {
      runtime.start();
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }

    expect(runs).toBe(1);
    expect(delays).toEqual([5000]);

    release.open();
    await runtime.stop(1000);
  });
});
