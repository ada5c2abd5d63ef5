import { InvalidTokenError, verifyToken } from "../auth/tokens.ts";
import type { Services } from "../service.ts";
import { findUserById, type Role } from "../store/users.ts";
import { ProblemError } from "./problem.ts";
import { isRevoked } from "../store/tokens.ts";

/** The authenticated caller of a request. */
export interface Principal {
  id: string;
  email: string;
  name: string;
  role: Role;
  jti: string;
  /** Token expiry, epoch seconds. */
  exp: number;
}

const REALM = 'Bearer realm="admit"';

/** RFC 6750 b64token: the characters a Bearer token may contain. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

function unauthorized(detail: string, error?: "invalid_token") {
  const challenge = error === undefined ? REALM : `${REALM}, error="${error}"`;
  return new ProblemError(401, "unauthorized", "Unauthorized", detail, {
    headers: { "www-authenticate": challenge },
  });
}

/** The same 401 for every unusable token, so the response never reveals why it failed. */
const invalidToken = () =>
  unauthorized("The access token is invalid or expired.", "invalid_token");

/**
 * Authenticates the request's Bearer token (RFC 6750). Tokens are accepted
 * only from the Authorization header, never from the query string. The token
 * must verify, not be revoked, and match the user's current token version,
 * so a disabled user or a changed role loses access at once.
 */
export async function authenticate(services: Services, request: Request): Promise<Principal> {
  const header = request.headers.get("authorization");
  if (header === null) throw unauthorized("Authentication is required.");

  const match = BEARER.exec(header.trim());
  if (match === null) {
    // RFC 6750 counts a malformed token as invalid_token. A request without
    // Bearer credentials gets the bare challenge.
    if (/^bearer(?:\s|$)/i.test(header.trim())) throw invalidToken();
    throw unauthorized("Use a Bearer token.");
  }

  const nowS = Math.floor(services.clock.now() / 1000);
  let claims;
  try {
    claims = await verifyToken(services.tokens, match[1]!, nowS);
  } catch (err) {
    if (err instanceof InvalidTokenError) throw invalidToken();
    throw err;
  }

  const user = await findUserById(services.db, claims.sub);
  if (
    user === null ||
    user.disabled === 1 ||
    user.token_version !== claims.ver ||
    user.role !== claims.role ||
    (await isRevoked(services.db, claims.jti))
  ) {
    throw invalidToken();
  }

  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    jti: claims.jti,
    exp: claims.exp,
  };
}

/** Throws 403 with the RFC 6750 insufficient_scope challenge unless the role is allowed. */
export function requireRole(principal: Principal, roles: readonly Role[]): void {
  if (roles.includes(principal.role)) return;
  throw new ProblemError(
    403,
    "forbidden",
    "Forbidden",
    `This action needs one of the roles: ${roles.join(", ")}.`,
    { headers: { "www-authenticate": `${REALM}, error="insufficient_scope"` } },
  );
}
