import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS } from "./migrations.ts";

/** Milliseconds a statement waits on a lock held by another connection. */
export const BUSY_TIMEOUT_MS = 5000;

/** WAL bytes kept after a checkpoint; bounds the file between checkpoints. */
export const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Returns the path of the SQLite file inside a data directory. */
export function databasePath(dataDir: string): string {
  return join(dataDir, "admit.sqlite");
}

/**
 * Opens the store's single connection and applies pending migrations.
 * The process writes through this one connection only, so SQLite's writer lock
 * is not contended inside the process. `busy_timeout` covers other processes,
 * such as the CLI.
 */
export function openDatabase(dataDir: string): Database {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(databasePath(dataDir), { create: true, strict: true });
  configure(db);
  migrate(db);
  return db;
}

/** Opens an in-memory store, for tests of pure store logic. */
export function openMemoryDatabase(): Database {
  const db = new Database(":memory:", { strict: true });
  configure(db);
  migrate(db);
  return db;
}

function configure(db: Database): void {
  db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA foreign_keys = ON");
  db.run(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
}

/** Applies every migration newer than `PRAGMA user_version`, each in one transaction. */
export function migrate(db: Database): number {
  const row = db.query("PRAGMA user_version").get() as { user_version: number };
  let version = row.user_version;

  for (let i = version; i < MIGRATIONS.length; i++) {
    const sql = MIGRATIONS[i]!;
    db.transaction(() => {
      db.run(sql);
      db.run(`PRAGMA user_version = ${i + 1}`);
    }).immediate();
    version = i + 1;
  }

  return version;
}

/** Runs a passive WAL checkpoint so the log does not grow between restarts. */
export function checkpoint(db: Database): void {
  db.run("PRAGMA wal_checkpoint(PASSIVE)");
}

/** True when an error is SQLite reporting a lock it could not take in time. */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" ||
    (typeof code === "string" && code.startsWith("SQLITE_BUSY"));
}
