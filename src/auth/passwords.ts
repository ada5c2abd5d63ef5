/** Password limits, checked before hashing so a huge input cannot cost a hash. */
export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_BYTES = 256;

export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    return `must be at most ${MAX_PASSWORD_BYTES} bytes`;
  }
  return null;
}

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

let dummyHash: Promise<string> | null = null;

/**
 * Verifies a password against a stored hash. With no stored hash (unknown
 * account) it verifies against a dummy hash, so the response takes about as
 * long as for a real account and does not reveal which emails exist.
 */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  if (hash === null) {
    dummyHash ??= hashPassword("admit-dummy-password-for-timing");
    await Bun.password.verify(password, await dummyHash);
    return false;
  }
  return Bun.password.verify(password, hash);
}
