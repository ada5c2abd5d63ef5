import type { Database } from "bun:sqlite";

export async function countActorStates(db: Database) {
  return db
    .query<{ kind: string; state: string; count: number }, []>(
      `SELECT kind, state, count(*) AS count FROM actors GROUP BY kind, state`,
    )
    .all();
}

export async function countAttemptOutcomes(db: Database) {
  return db
    .query<{ outcome: string; count: number }, []>(
      `SELECT coalesce(outcome, 'interrupted') AS outcome, count(*) AS count
       FROM delivery_attempts GROUP BY 1`,
    )
    .all();
}
