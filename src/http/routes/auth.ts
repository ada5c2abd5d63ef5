import { Elysia, t } from "elysia";
import { passwordProblem, verifyPassword } from "../../auth/passwords.ts";
import { issueToken } from "../../auth/tokens.ts";
import type { Services } from "../../service.ts";
import {
  EmailTakenError,
  findUserByEmail,
  findUserById,
  insertUserWithResponse,
  updateUser,
  type NewUserOutcome,
} from "../../store/users.ts";
import { revokeToken } from "../../store/tokens.ts";
import { createUser, prepareUser } from "../../users.ts";
import { PUBLIC, gate, principalOf } from "../context.ts";
import { jsonStored, problemStored, runIdempotent } from "../idempotency.ts";
import { ProblemError, conflict, notFound, validationProblem } from "../problem.ts";
import { CreateUserBody, LoginBody, SignupBody, UpdateUserBody } from "../schemas.ts";
import { ticketTextProblem } from "../validation.ts";
import { userView } from "../views.ts";
import { LoginLimiter, clientAddress } from "../rate-limit.ts";

/** Checks a new account's name, which is its default ticket name, and password. */
function checkNewUser(body: { name: string; password: string }) {
  const errors = [];
  const nameProblem = ticketTextProblem(body.name);
  if (nameProblem !== null) errors.push({ pointer: "/name", detail: nameProblem });
  const problem = passwordProblem(body.password);
  if (problem !== null) errors.push({ pointer: "/password", detail: problem });
  if (errors.length > 0) throw validationProblem(errors);
}

const emailTaken = () =>
  conflict("email-taken", "Email taken", "An account with this email already exists.");

function respondToNewUser(outcome: NewUserOutcome) {
  if (outcome.kind === "email_taken") return problemStored(emailTaken());
  return jsonStored(201, userView(outcome.user), { location: `/users/${outcome.user.id}` });
}

/** Returns whether a change to one's own account would lock an admin out. */
function demotesOrDisables(change: typeof UpdateUserBody.static): boolean {
  return change.disabled === true || (change.role !== undefined && change.role !== "admin");
}

/**
 * The same 401 for an unknown email, a wrong password and a disabled account,
 * so the response does not reveal which accounts exist. RFC 9110 requires a
 * challenge on every 401.
 */
const invalidCredentials = () =>
  new ProblemError(
    401,
    "invalid-credentials",
    "Unauthorized",
    "The email or password is wrong.",
    { headers: { "www-authenticate": 'Bearer realm="admit"' } },
  );

export function authRoutes(services: Services) {
  const limiter = new LoginLimiter(services);

  return new Elysia()
    .post(
      "/auth/signup",
      async ({ body, request, server, set }) => {
        await limiter.checkSignup(clientAddress(request, server));
        checkNewUser(body);
        try {
          const user = await createUser(services, { ...body, role: "student" });
          set.status = 201;
          set.headers.location = "/me";
          return userView(user);
        } catch (err) {
          if (err instanceof EmailTakenError) throw emailTaken();
          throw err;
        }
      },
      {
        ...PUBLIC,
        transform: gate(services, { auth: false, body: true }),
        // Documents the body as JSON; the app-wide parse hook reads it first.
        parse: "json",
        body: SignupBody,
      },
    )
    .post(
      "/auth/login",
      async ({ body, request, server, set }) => {
        const address = clientAddress(request, server);
        const email = body.email.trim().toLowerCase();
        await limiter.checkLogin(email, address);

        const user = await findUserByEmail(services.db, email);
        const ok = await verifyPassword(body.password, user?.password_hash ?? null);
        if (user === null || !ok || user.disabled === 1) {
          await limiter.recordFailure(email, address);
          throw invalidCredentials();
        }

        await limiter.recordSuccess(email);
        const nowS = Math.floor(services.clock.now() / 1000);
        const { token } = await issueToken(
          services.tokens,
          { id: user.id, role: user.role, tokenVersion: user.token_version },
          nowS,
        );
        services.log.info({ userId: user.id }, "user logged in");
        // RFC 6749 section 5.1: a response carrying a token must not be cached.
        set.headers["cache-control"] = "no-store";
        set.headers.pragma = "no-cache";
        return {
          access_token: token,
          token_type: "Bearer",
          expires_in: services.tokens.ttlS,
        };
      },
      {
        ...PUBLIC,
        transform: gate(services, { auth: false, body: true }),
        // Documents the body as JSON; the app-wide parse hook reads it first.
        parse: "json",
        body: LoginBody,
      },
    )
    .post(
      "/auth/logout",
      async ({ request, set }) => {
        const principal = principalOf(request);
        await revokeToken(services.db, principal.jti, principal.exp);
        set.status = 204;
        return undefined;
      },
      { transform: gate(services, { auth: true }) },
    )
    .get(
      "/me",
      async ({ request }) => {
        const user = await findUserById(services.db, principalOf(request).id);
        if (user === null) throw notFound();
        return userView(user);
      },
      { transform: gate(services, { auth: true }) },
    )
    .post(
      "/users",
      async ({ body, request }) => {
        checkNewUser(body);
        const principal = principalOf(request);
        // NOTE: the fingerprint leaves out the password, so the key's record
        // contains no fast hash of it. A retry under the same key that changes
        // only the password replays the first response.
        const { password: _password, ...fingerprinted } = body;

        return runIdempotent(
          services,
          { request, principal, route: "/users", body: fingerprinted, required: false },
          async (idempotent) => {
            const user = await prepareUser(body);
            const { outcome, response } = await insertUserWithResponse(
              services.db,
              user,
              services.clock.now(),
              respondToNewUser,
              idempotent,
            );
            if (outcome.kind === "created") {
              services.log.info(
                { userId: outcome.user.id, role: outcome.user.role, createdBy: principal.id },
                "user created",
              );
            }
            return response;
          },
        );
      },
      {
        transform: gate(services, { auth: true, roles: ["admin"], body: true }),
        // Documents the body as JSON; the app-wide parse hook reads it first.
        parse: "json",
        body: CreateUserBody,
      },
    )
    .patch(
      "/users/:id",
      async ({ body, params, request }) => {
        if (params.id === principalOf(request).id && demotesOrDisables(body)) {
          throw conflict(
            "cannot-change-self",
            "Cannot change self",
            "An admin cannot disable or demote their own account; ask another admin.",
          );
        }
        const user = await updateUser(services.db, params.id, body);
        if (user === null) throw notFound();
        services.log.info(
          { userId: user.id, role: user.role, disabled: user.disabled },
          "user changed",
        );
        return userView(user);
      },
      {
        transform: gate(services, { auth: true, roles: ["admin"], body: true }),
        // Documents the body as JSON; the app-wide parse hook reads it first.
        parse: "json",
        body: UpdateUserBody,
        params: t.Object({ id: t.String() }),
      },
    );
}
