import type { Database } from "bun:sqlite";

/**
 * SQL for the durable actor runtime: snapshots, the inbox, durable timers and
 * leased effects. Every function here runs inside a transaction its caller
 * opened; none of them opens one.
 */

export interface ActorRow {
  id: string;
  kind: string;
  machine_version: number;
  registration_id: string;
  state: string;
  done: number;
  snapshot: string;
}

export interface InboxRow {
  id: number;
  actor_id: string;
  event: string;
  due_at: number;
}

export interface EffectRow {
  id: string;
  actor_id: string;
  name: string;
  params: string;
  claims: number;
  lease_owner: string | null;
  lease_until: number | null;
}

export function selectActor(db: Database, id: string): ActorRow | null {
  return db
    .query<ActorRow, [string]>(
      `SELECT id, kind, machine_version, registration_id, state, done, snapshot
       FROM actors WHERE id = ?`,
    )
    .get(id);
}

export function insertActor(db: Database, row: ActorRow, now: number): void {
  db.query(
    `INSERT INTO actors
       (id, kind, machine_version, registration_id, state, done, snapshot,
        created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    row.id,
    row.kind,
    row.machine_version,
    row.registration_id,
    row.state,
    row.done,
    row.snapshot,
    now,
    now,
  );
}

export function updateActor(
  db: Database,
  id: string,
  state: string,
  done: boolean,
  snapshot: string,
  now: number,
): void {
  db.query(
    `UPDATE actors SET state = ?, done = ?, snapshot = ?, updated_at = ? WHERE id = ?`,
  ).run(state, done ? 1 : 0, snapshot, now, id);
}

export function insertInbox(
  db: Database,
  actorId: string,
  event: unknown,
  dueAt: number,
  timerId: string | null,
  now: number,
): void {
  db.query(
    `INSERT INTO inbox (actor_id, event, due_at, timer_id, created_at)
     VALUES (?, ?, ?, ?, ?)`,
  ).run(actorId, JSON.stringify(event), dueAt, timerId, now);
}

export function deleteTimer(db: Database, actorId: string, timerId: string): void {
  db.query(`DELETE FROM inbox WHERE actor_id = ? AND timer_id = ?`).run(actorId, timerId);
}

export function deleteInbox(db: Database, id: number): void {
  db.query(`DELETE FROM inbox WHERE id = ?`).run(id);
}

/** Returns the oldest due inbox row, or null when nothing is due. */
export function selectDueInbox(db: Database, now: number): InboxRow | null {
  return db
    .query<InboxRow, [number]>(
      `SELECT id, actor_id, event, due_at FROM inbox
       WHERE due_at <= ? ORDER BY due_at, id LIMIT 1`,
    )
    .get(now);
}

/** Drops the pending timers and unclaimed effects of an actor that reached a final state. */
export function deletePendingWork(db: Database, actorId: string, now: number): void {
  db.query(`DELETE FROM inbox WHERE actor_id = ?`).run(actorId);
  db.query(
    `DELETE FROM effects
     WHERE actor_id = ? AND (lease_until IS NULL OR lease_until < ?)`,
  ).run(actorId, now);
}

export function insertEffect(
  db: Database,
  id: string,
  actorId: string,
  name: string,
  params: unknown,
  now: number,
): void {
  db.query(
    `INSERT INTO effects (id, actor_id, name, params, due_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(id, actorId, name, JSON.stringify(params), now, now);
}

/**
 * Leases up to `limit` due effects that no process holds, or whose lease expired,
 * to `owner` until `leaseUntil`. Each claim counts, so a claim lost in a
 * crash is visible to the effect that finally completes.
 */
export function claimEffects(
  db: Database,
  owner: string,
  now: number,
  leaseUntil: number,
  limit: number,
): EffectRow[] {
  const rows = db
    .query<EffectRow, [number, number, number]>(
      `SELECT id, actor_id, name, params, claims, lease_owner, lease_until
       FROM effects
       WHERE due_at <= ? AND (lease_until IS NULL OR lease_until < ?)
       ORDER BY due_at LIMIT ?`,
    )
    .all(now, now, limit);

  const claim = db.query(
    `UPDATE effects SET lease_owner = ?, lease_until = ?, claims = claims + 1 WHERE id = ?`,
  );
  for (const row of rows) {
    claim.run(owner, leaseUntil, row.id);
    row.claims += 1;
    row.lease_owner = owner;
    row.lease_until = leaseUntil;
  }
  return rows;
}

/** True when `owner` still holds the effect's lease for the given claim. */
export function holdsLease(db: Database, effectId: string, owner: string, claims: number) {
  const row = db
    .query<{ lease_owner: string | null; claims: number }, [string]>(
      `SELECT lease_owner, claims FROM effects WHERE id = ?`,
    )
    .get(effectId);
  return row !== null && row.lease_owner === owner && row.claims === claims;
}

export function deleteEffect(db: Database, id: string): void {
  db.query(`DELETE FROM effects WHERE id = ?`).run(id);
}

/**
 * Releases every lease `owner` holds, so the next start runs those effects at
 * once. Each release gives its claim back: an effect cut off by shutdown was
 * not lost to a crash and does not count as a spent attempt.
 */
export function releaseLeases(db: Database, owner: string): number {
  return db
    .query(
      `UPDATE effects
       SET lease_owner = NULL, lease_until = NULL, claims = max(claims - 1, 0)
       WHERE lease_owner = ?`,
    )
    .run(owner).changes;
}

/**
 * Returns the earliest time an inbox row, or with `includeEffects` an effect,
 * becomes due, or null when nothing waits.
 */
export function nextDueAt(db: Database, includeEffects = true): number | null {
  const row = db
    .query<{ inbox: number | null; effects: number | null }, []>(
      `SELECT
         (SELECT min(due_at) FROM inbox) AS inbox,
         (SELECT min(CASE WHEN lease_until IS NULL THEN due_at
                          ELSE max(due_at, lease_until + 1) END)
          FROM effects) AS effects`,
    )
    .get();
  const candidates = includeEffects ? [row?.inbox, row?.effects] : [row?.inbox];
  const times = candidates.filter((t): t is number => typeof t === "number");
  return times.length === 0 ? null : Math.min(...times);
}
