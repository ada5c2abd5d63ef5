import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import type { Config } from "./config.ts";
import { jobView } from "./http/routes/admin.ts";
import { createLogger, type Logger } from "./log.ts";
import { systemClock, type Engine } from "./runtime/engine.ts";
import { createEngine } from "./runtime/machines.ts";
import { databasePath, openDatabase } from "./store/db.ts";
import {
  JOB_STATES,
  discardJob,
  isJobState,
  listJobs,
  redriveDeadJobs,
  redriveJob,
  type JobCommandOutcome,
  type JobCursor,
  type JobRow,
  type JobState,
} from "./store/jobs.ts";

/**
 * `admit jobs …`: list, redrive and discard mail deliveries straight in the
 * database. A running server picks up redriven work on its next dispatcher
 * poll, within its idle interval (1 s by default).
 */

export const EXIT_OK = 0;
/** The job does not exist or is not dead, or DATA_DIR contains no database. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Jobs read or redriven per transaction, so a long run never holds the writer lock for long. */
const BATCH_SIZE = 100;

/** Characters of the last error shown in the table. --json prints the whole text. */
const ERROR_COLUMN_WIDTH = 60;

const USAGE = `usage:
  admit jobs list [--state ${JOB_STATES.join("|")}] [--json]
      prints a table, or one JSON object per line with --json
  admit jobs retry ID | --all
      redrives one dead job, or every dead job, with a fresh attempt budget
  admit jobs discard ID
      discards one dead job; it is never sent`;

interface JobsContext {
  db: Database;
  engine: Engine;
  log: Logger;
}

/** A command line that cannot run as given; the message names the argument at fault. */
export class UsageError extends Error {
  readonly code = "USAGE";
}


/** Runs `admit jobs SUBCOMMAND …` and returns the exit code. */
export async function jobsCommand(argv: string[], config: Config): Promise<number> {
  const [sub, ...rest] = argv;
  let run: (context: JobsContext) => Promise<number>;
  try {
    run = parseSubcommand(sub, rest);
  } catch (err) {
    if (!(err instanceof UsageError) && !isParseArgsError(err)) throw err;
    console.error(`admit jobs: ${(err as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }

  // openDatabase would create an empty store, and the command would then
  // report no jobs instead of a wrong DATA_DIR.
  const file = resolve(databasePath(config.dataDir));
  if (!existsSync(file)) {
    console.error(
      `admit jobs: no admit database at ${file}; set DATA_DIR to the service's data directory`,
    );
    return EXIT_FAILED;
  }

  const db = openDatabase(config.dataDir);
  try {
    const engine = createEngine(db, config);
    // Standard output carries the command's result, so logs go to standard error.
    const log = createLogger(config.logLevel, pino.destination({ dest: 2, sync: true })).child({
      component: "jobs-cli",
    });
    return await run({ db, engine, log });
  } finally {
    db.close();
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

function parseSubcommand(
  sub: string | undefined,
  args: string[],
): (context: JobsContext) => Promise<number> {
  switch (sub) {
    case "list": {
      const { values } = parseArgs({
        args,
        options: { state: { type: "string" }, json: { type: "boolean" } },
        strict: true,
      });
      const state = values.state ?? null;
      if (state !== null && !isJobState(state)) {
        throw new UsageError(`--state must be one of ${JOB_STATES.join(", ")}`);
      }
      return (context) => listCommand(context, state, values.json === true);
    }
    case "retry": {
      const { values, positionals } = parseArgs({
        args,
        options: { all: { type: "boolean" } },
        allowPositionals: true,
        strict: true,
      });
      if (values.all === true) {
        if (positionals.length > 0) throw new UsageError("give either a job id or --all, not both");
        return (context) => retryAllCommand(context);
      }
      const id = singleId(positionals, "retry");
      return (context) => jobCommand(context, "retry", id);
    }
    case "discard": {
      const { positionals } = parseArgs({ args, allowPositionals: true, strict: true });
      const id = singleId(positionals, "discard");
      return (context) => jobCommand(context, "discard", id);
    }
    case undefined:
      throw new UsageError("missing subcommand");
    default:
      throw new UsageError(`unknown subcommand "${sub}"`);
  }
}

function singleId(positionals: string[], sub: string): string {
  const [id, ...extra] = positionals;
  if (id === undefined || id === "" || extra.length > 0) {
    throw new UsageError(`${sub} takes exactly one job id`);
  }
  return id;
}

async function listCommand(
  { db }: JobsContext,
  state: JobState | null,
  json: boolean,
): Promise<number> {
  if (!json) {
    console.log(tableRow(["ID", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "UPDATED", "LAST ERROR"]));
  }

  let after: JobCursor | null = null;
  do {
    const page = await listJobs(db, { state, after, limit: BATCH_SIZE }, systemClock.now());
    for (const job of page.items) console.log(json ? JSON.stringify(jobView(job)) : jobLine(job));
    after = page.next;
  } while (after !== null);
  return EXIT_OK;
}

function jobLine(job: JobRow): string {
  const view = jobView(job);
  const error = view.last_error ?? "";
  return tableRow([
    view.id,
    view.state,
    String(view.attempts),
    view.next_attempt_at ?? "-",
    view.updated_at ?? "-",
    error.length > ERROR_COLUMN_WIDTH ? `${error.slice(0, ERROR_COLUMN_WIDTH - 1)}…` : error,
  ]);
}

/** Column widths fit a UUID, the longest state name and an ISO 8601 timestamp. */
const WIDTHS = [36, 10, 8, 24, 24];

function tableRow(cells: string[]): string {
  return cells.map((cell, i) => cell.padEnd(WIDTHS[i] ?? 0)).join("  ").trimEnd();
}

async function jobCommand(
  { db, engine, log }: JobsContext,
  action: "retry" | "discard",
  id: string,
): Promise<number> {
  const now = systemClock.now();
  const { outcome } = action === "retry"
    ? await redriveJob(db, engine, id, now)
    : await discardJob(db, engine, id, now);
  return report(log, action, id, outcome);
}

function report(log: Logger, action: "retry" | "discard", id: string, outcome: JobCommandOutcome) {
  if (outcome.kind === "not_found") {
    console.error(`admit jobs ${action}: job ${id} not found. List jobs with: admit jobs list`);
    return EXIT_FAILED;
  }
  if (outcome.kind === "not_dead") {
    console.error(
      `admit jobs ${action}: job ${id} is ${outcome.job.state}, not dead. Only dead jobs can be ` +
        (action === "retry" ? "retried" : "discarded"),
    );
    return EXIT_FAILED;
  }

  logApplied(log, action, outcome.job);
  console.log(`${action === "retry" ? "redriven" : "discarded"} ${id}`);
  return EXIT_OK;
}

function logApplied(log: Logger, action: "retry" | "discard", job: JobRow): void {
  log.info(
    { jobId: job.id, registrationId: job.registration_id, messageId: job.message_id },
    action === "retry" ? "job redriven" : "job discarded",
  );
}

async function retryAllCommand({ db, engine, log }: JobsContext): Promise<number> {
  let count = 0;
  let after: JobCursor | null = null;
  do {
    const batch = await redriveDeadJobs(db, engine, after, BATCH_SIZE, systemClock.now());
    for (const job of batch.redriven) {
      logApplied(log, "retry", job);
      console.log(`redriven ${job.id}`);
    }
    count += batch.redriven.length;
    after = batch.next;
  } while (after !== null);

  console.log(`${count} dead ${count === 1 ? "job" : "jobs"} redriven`);
  return EXIT_OK;
}
