import { hashPassword, passwordProblem } from "./auth/passwords.ts";
import type { Services } from "./service.ts";
import {
  findUserByEmail,
  insertUser,
  updateUser,
  type NewUser,
  type Role,
  type UserRow,
} from "./store/users.ts";

export class InvalidPasswordError extends Error {
  readonly code = "INVALID_PASSWORD";
}

/**
 * Checks the password limits and hashes the password, giving the values of a
 * new user's row. Hashing is slow and async, so it runs before the insert's
 * transaction, never inside it.
 */
export async function prepareUser(
  input: { email: string; name: string; password: string; role: Role },
): Promise<NewUser> {
  const problem = passwordProblem(input.password);
  if (problem !== null) throw new InvalidPasswordError(`password ${problem}`);
  return {
    email: input.email,
    name: input.name,
    passwordHash: await hashPassword(input.password),
    role: input.role,
  };
}

/** Creates a user with a hashed password after checking the password limits. */
export async function createUser(
  services: Pick<Services, "db" | "clock">,
  input: { email: string; name: string; password: string; role: Role },
): Promise<UserRow> {
  return insertUser(services.db, await prepareUser(input), services.clock.now());
}

/**
 * Makes sure an admin account with this email exists and can log in with this
 * password: creates it, or promotes, enables and re-keys an existing account.
 */
export async function ensureAdmin(
  services: Pick<Services, "db" | "clock" | "log">,
  email: string,
  password: string,
): Promise<void> {
  const existing = await findUserByEmail(services.db, email);
  if (existing === null) {
    const user = await createUser(services, { email, name: "Administrator", password, role: "admin" });
    services.log.info({ userId: user.id }, "admin account created");
    return;
  }
  const same = await Bun.password.verify(password, existing.password_hash);
  if (existing.role === "admin" && existing.disabled === 0 && same) return;

  const problem = passwordProblem(password);
  if (problem !== null) throw new InvalidPasswordError(`ADMIN_PASSWORD ${problem}`);
  await updateUser(services.db, existing.id, {
    role: "admin",
    disabled: false,
    passwordHash: same ? undefined : await hashPassword(password),
  });
  services.log.info({ userId: existing.id }, "admin account updated");
}
