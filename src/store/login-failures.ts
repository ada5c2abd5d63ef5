import type { Database } from "bun:sqlite";

export interface FailureRow {
  scope: string;
  failures: number;
  locked_until: number;
}

export async function findFailures(db: Database, scope: string): Promise<FailureRow | null> {
  return db
    .query<FailureRow, [string]>(
      `SELECT scope, failures, locked_until FROM login_failures WHERE scope = ?`,
    )
    .get(scope);
}

/**
 * Counts one more failure and sets the lock the caller computed from the new
 * count. A count whose last failure is more than `windowMs` old starts again
 * from one, so old failures stop counting without a success to clear them.
 */
export async function addFailure(
  db: Database,
  scope: string,
  lockFor: (failures: number) => number,
  now: number,
  windowMs: number,
): Promise<FailureRow> {
  return db
    .transaction(() => {
      const current = db
        .query<{ failures: number; updated_at: number }, [string]>(
          `SELECT failures, updated_at FROM login_failures WHERE scope = ?`,
        )
        .get(scope);
      const recent = current !== null && now - current.updated_at <= windowMs;
      const failures = (recent ? current.failures : 0) + 1;
      const lockedUntil = now + lockFor(failures);
      db.query(
        `INSERT INTO login_failures (scope, failures, locked_until, updated_at)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (scope) DO UPDATE SET
           failures = excluded.failures, locked_until = excluded.locked_until,
           updated_at = excluded.updated_at`,
      ).run(scope, failures, lockedUntil, now);
      return { scope, failures, locked_until: lockedUntil };
    })
    .immediate();
}

export async function clearFailures(db: Database, scopes: readonly string[]): Promise<void> {
  db.transaction(() => {
    const remove = db.query(`DELETE FROM login_failures WHERE scope = ?`);
    for (const scope of scopes) remove.run(scope);
  }).immediate();
}

/** Forgets failures older than `before`, so the table does not grow without bound. */
export async function sweepFailures(db: Database, before: number): Promise<number> {
  return db
    .transaction(
      () =>
        db.query(`DELETE FROM login_failures WHERE updated_at < ? AND locked_until < ?`)
          .run(before, before).changes,
    )
    .immediate();
}
