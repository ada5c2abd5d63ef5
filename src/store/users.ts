import type { Database } from "bun:sqlite";
import type { StoredResponse } from "./idempotency.ts";
import { storeResponse, type Idempotent, type Responder } from "./registrations.ts";

export type Role = "student" | "organizer" | "admin";
export const ROLES: readonly Role[] = ["student", "organizer", "admin"];

export interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  role: Role;
  disabled: number;
  token_version: number;
  created_at: number;
}

export class EmailTakenError extends Error {
  readonly code = "EMAIL_TAKEN";
}

const COLUMNS = "id, email, name, password_hash, role, disabled, token_version, created_at";

export async function findUserByEmail(db: Database, email: string): Promise<UserRow | null> {
  return db.query<UserRow, [string]>(`SELECT ${COLUMNS} FROM users WHERE email = ?`).get(email);
}

export async function findUserById(db: Database, id: string): Promise<UserRow | null> {
  return db.query<UserRow, [string]>(`SELECT ${COLUMNS} FROM users WHERE id = ?`).get(id);
}

export interface NewUser {
  email: string;
  name: string;
  passwordHash: string;
  role: Role;
}

function newUserRow(user: NewUser, now: number): UserRow {
  return {
    id: crypto.randomUUID(),
    email: user.email,
    name: user.name,
    password_hash: user.passwordHash,
    role: user.role,
    disabled: 0,
    token_version: 0,
    created_at: now,
  };
}

/** Inserts the row unless its email exists in any letter case, and returns whether it did. */
function insertRow(db: Database, row: UserRow): boolean {
  const result = db
    .query(
      `INSERT INTO users (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (email) DO NOTHING`,
    )
    .run(
      row.id,
      row.email,
      row.name,
      row.password_hash,
      row.role,
      row.disabled,
      row.token_version,
      row.created_at,
    );
  return result.changes === 1;
}

/** Inserts a user; throws EmailTakenError when the email (case-insensitive) exists. */
export async function insertUser(db: Database, user: NewUser, now: number): Promise<UserRow> {
  const row = newUserRow(user, now);
  const inserted = db.transaction(() => insertRow(db, row)).immediate();
  if (!inserted) throw new EmailTakenError(`a user with email ${user.email} already exists`);
  return row;
}

export type NewUserOutcome = { kind: "created"; user: UserRow } | { kind: "email_taken" };

/**
 * Inserts a user and, in the same transaction, builds the HTTP response to it
 * and stores that under the idempotency key, if any. A taken email is an
 * outcome here, so its response is stored like any other.
 */
export async function insertUserWithResponse(
  db: Database,
  user: NewUser,
  now: number,
  respond: Responder<NewUserOutcome>,
  idempotent: Idempotent | null,
): Promise<{ outcome: NewUserOutcome; response: StoredResponse }> {
  const row = newUserRow(user, now);
  return db
    .transaction(() => {
      const outcome: NewUserOutcome = insertRow(db, row)
        ? { kind: "created", user: row }
        : { kind: "email_taken" };
      return { outcome, response: storeResponse(db, outcome, now, respond, idempotent) };
    })
    .immediate();
}

export interface UserChange {
  role?: Role;
  disabled?: boolean;
  passwordHash?: string;
}

/**
 * Changes a user's role, disabled flag or password. Any change bumps the
 * token version, so tokens issued before it stop working at once.
 */
export async function updateUser(
  db: Database,
  id: string,
  change: UserChange,
): Promise<UserRow | null> {
  return db
    .transaction(() => {
      const current = db
        .query<UserRow, [string]>(`SELECT ${COLUMNS} FROM users WHERE id = ?`)
        .get(id);
      if (current === null) return null;

      let disabled = current.disabled;
      if (change.disabled !== undefined) disabled = change.disabled ? 1 : 0;

      const next: UserRow = {
        ...current,
        role: change.role ?? current.role,
        disabled,
        password_hash: change.passwordHash ?? current.password_hash,
        token_version: current.token_version + 1,
      };
      db.query(
        `UPDATE users SET role = ?, disabled = ?, password_hash = ?, token_version = ?
         WHERE id = ?`,
      ).run(next.role, next.disabled, next.password_hash, next.token_version, id);
      return next;
    })
    .immediate();
}

export async function listUsers(db: Database, limit: number, offset: number) {
  return db
    .query<UserRow, [number, number]>(
      `SELECT ${COLUMNS} FROM users ORDER BY created_at, id LIMIT ? OFFSET ?`,
    )
    .all(limit, offset);
}
