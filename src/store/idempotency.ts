import type { Database } from "bun:sqlite";

/** One idempotent request: who sent it, under which key, and what it asked. */
export interface IdempotencyScope {
  principal: string;
  key: string;
  fingerprint: string;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type BeginResult =
  | { kind: "new" }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "mismatch" }
  | { kind: "in_flight"; retryAfterS: number };

interface KeyRow {
  fingerprint: string;
  state: "in_flight" | "completed";
  locked_until: number | null;
  status: number | null;
  headers: string | null;
  body: string | null;
  expires_at: number;
}

/**
 * Claims a key for a request, or reports why it cannot run: a stored response
 * to replay, a different request under the same key, or a first request still
 * in flight. An in-flight claim whose lock expired (its process crashed) is
 * taken over, so a key is never blocked forever.
 */
export async function beginRequest(
  db: Database,
  scope: IdempotencyScope,
  now: number,
  lockMs: number,
  ttlMs: number,
): Promise<BeginResult> {
  return db
    .transaction((): BeginResult => {
      const row = db
        .query<KeyRow, [string, string]>(
          `SELECT fingerprint, state, locked_until, status, headers, body, expires_at
           FROM idempotency_keys WHERE principal = ? AND key = ?`,
        )
        .get(scope.principal, scope.key);

      if (row !== null && row.expires_at > now) {
        if (row.fingerprint !== scope.fingerprint) return { kind: "mismatch" };
        if (row.state === "completed") {
          return {
            kind: "replay",
            response: {
              status: row.status ?? 500,
              headers: JSON.parse(row.headers ?? "{}") as Record<string, string>,
              body: row.body ?? "",
            },
          };
        }
        if ((row.locked_until ?? 0) > now) {
          return {
            kind: "in_flight",
            retryAfterS: Math.max(1, Math.ceil(((row.locked_until ?? now) - now) / 1000)),
          };
        }
      }

      db.query(
        `INSERT INTO idempotency_keys
           (principal, key, fingerprint, state, locked_until, created_at, expires_at)
         VALUES (?, ?, ?, 'in_flight', ?, ?, ?)
         ON CONFLICT (principal, key) DO UPDATE SET
           fingerprint = excluded.fingerprint, state = 'in_flight',
           locked_until = excluded.locked_until, status = NULL, headers = NULL,
           body = NULL, created_at = excluded.created_at,
           expires_at = excluded.expires_at`,
      ).run(scope.principal, scope.key, scope.fingerprint, now + lockMs, now, now + ttlMs);
      return { kind: "new" };
    })
    .immediate();
}

/**
 * Stores the response for a claimed key. Call it inside the transaction that
 * makes the request's effect, so the two commit together.
 */
export function saveResponse(
  db: Database,
  scope: IdempotencyScope,
  response: StoredResponse,
  now: number,
  ttlMs: number,
): void {
  db.query(
    `INSERT INTO idempotency_keys
       (principal, key, fingerprint, state, locked_until, status, headers, body,
        created_at, expires_at)
     VALUES (?, ?, ?, 'completed', NULL, ?, ?, ?, ?, ?)
     ON CONFLICT (principal, key) DO UPDATE SET
       state = 'completed', locked_until = NULL, status = excluded.status,
       headers = excluded.headers, body = excluded.body,
       expires_at = excluded.expires_at`,
  ).run(
    scope.principal,
    scope.key,
    scope.fingerprint,
    response.status,
    JSON.stringify(response.headers),
    response.body,
    now,
    now + ttlMs,
  );
}

/** Frees a key whose request ended without a storable response, so a retry runs anew. */
export async function releaseKey(db: Database, scope: IdempotencyScope): Promise<void> {
  db.transaction(() => {
    db.query(
      `DELETE FROM idempotency_keys
       WHERE principal = ? AND key = ? AND state = 'in_flight'`,
    ).run(scope.principal, scope.key);
  }).immediate();
}

/** Deletes expired records; returns how many. */
export async function sweepExpiredKeys(db: Database, now: number): Promise<number> {
  return db
    .transaction(
      () => db.query(`DELETE FROM idempotency_keys WHERE expires_at <= ?`).run(now).changes,
    )
    .immediate();
}
