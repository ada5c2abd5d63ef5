/**
 * Versioned schema migrations, applied in order at start. Each entry runs once
 * in its own transaction and bumps `PRAGMA user_version`. Never edit a shipped
 * migration: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('student', 'organizer', 'admin')),
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE events (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    venue TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    seats_taken INTEGER NOT NULL DEFAULT 0
      CHECK (seats_taken >= 0 AND seats_taken <= capacity),
    organizer_id TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX events_by_organizer ON events (organizer_id);

  CREATE TABLE registrations (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events (id),
    user_id TEXT REFERENCES users (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    attendee_name TEXT NOT NULL,
    attendee_email TEXT NOT NULL,
    ticket_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
    created_at INTEGER NOT NULL,
    cancelled_at INTEGER
  ) STRICT;
  -- One confirmed registration per attendee email and event, case-insensitive.
  CREATE UNIQUE INDEX registrations_one_confirmed
    ON registrations (event_id, lower(attendee_email)) WHERE status = 'confirmed';
  CREATE INDEX registrations_by_user ON registrations (user_id);
  CREATE INDEX registrations_by_event ON registrations (event_id);

  -- One row per durable actor: its persisted XState snapshot and a summary of
  -- its state for queries.
  CREATE TABLE actors (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    machine_version INTEGER NOT NULL,
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    state TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    snapshot TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX actors_by_registration ON actors (registration_id, kind);
  CREATE INDEX actors_by_kind_state ON actors (kind, state);

  -- Events waiting for an actor. A row with a timer_id is a durable timer from
  -- an XState delayed transition; it is deleted when the machine cancels it.
  CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id TEXT NOT NULL REFERENCES actors (id),
    event TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    timer_id TEXT,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX inbox_due ON inbox (due_at, id);
  CREATE INDEX inbox_by_actor ON inbox (actor_id, timer_id);

  -- Side effects committed with the transition that asked for them and run
  -- after the commit under a lease. A row is deleted in the same transaction
  -- that delivers its result event, so a crash repeats it instead of losing it.
  CREATE TABLE effects (
    id TEXT PRIMARY KEY,
    actor_id TEXT NOT NULL REFERENCES actors (id),
    name TEXT NOT NULL,
    params TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    claims INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX effects_due ON effects (due_at);
  CREATE INDEX effects_by_actor ON effects (actor_id);

  CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL REFERENCES actors (id),
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    duration_ms INTEGER,
    outcome TEXT,
    failure_class TEXT,
    reply_code INTEGER,
    reply TEXT,
    error_code TEXT,
    message TEXT
  ) STRICT;
  CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);

  CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    locked_until INTEGER,
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at);

  CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE login_failures (
    scope TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE checkins (
    registration_id TEXT PRIMARY KEY REFERENCES registrations (id),
    checked_in_at INTEGER NOT NULL,
    checked_in_by TEXT NOT NULL REFERENCES users (id)
  ) STRICT, WITHOUT ROWID;
  `,
];
