import type { Database } from "bun:sqlite";

/** Revokes a token by id until it would have expired anyway. */
export async function revokeToken(db: Database, jti: string, expiresAtS: number) {
  db.transaction(() => {
    db.query(`INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)`).run(
      jti,
      expiresAtS,
    );
  }).immediate();
}

export async function isRevoked(db: Database, jti: string): Promise<boolean> {
  return db.query(`SELECT 1 FROM revoked_tokens WHERE jti = ?`).get(jti) !== null;
}

/** Deletes revocations of tokens that expired, which no longer need remembering. */
export async function sweepRevokedTokens(db: Database, nowS: number): Promise<number> {
  return db
    .transaction(() => db.query(`DELETE FROM revoked_tokens WHERE expires_at < ?`).run(nowS).changes)
    .immediate();
}
