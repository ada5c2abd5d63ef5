import { SignJWT, jwtVerify } from "jose";
import type { Role } from "../store/users.ts";

export const TOKEN_ISSUER = "admit";
export const TOKEN_AUDIENCE = "admit-api";

/** The only algorithm issued and accepted; anything else in a header is rejected. */
const ALGORITHM = "HS256";

export interface TokenClaims {
  sub: string;
  role: Role;
  /** The user's token version when issued; a bump revokes older tokens. */
  ver: number;
  jti: string;
  exp: number;
  iat: number;
}

export interface TokenSettings {
  secret: string;
  /** Accepted for verification only, never used to sign. */
  previousSecrets: readonly string[];
  ttlS: number;
  clockSkewS: number;
}

export class InvalidTokenError extends Error {
  readonly code = "INVALID_TOKEN";
}

const encoder = new TextEncoder();

export async function issueToken(
  settings: TokenSettings,
  user: { id: string; role: Role; tokenVersion: number },
  nowS: number,
): Promise<{ token: string; claims: TokenClaims }> {
  const claims: TokenClaims = {
    sub: user.id,
    role: user.role,
    ver: user.tokenVersion,
    jti: crypto.randomUUID(),
    iat: nowS,
    exp: nowS + settings.ttlS,
  };
  const token = await new SignJWT({ role: claims.role, ver: claims.ver })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(claims.sub)
    .setJti(claims.jti)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(encoder.encode(settings.secret));
  return { token, claims };
}

/**
 * Verifies a token against the current secret, then each previous one.
 * Throws InvalidTokenError without saying why, so callers cannot leak it.
 */
export async function verifyToken(
  settings: TokenSettings,
  token: string,
  nowS: number,
): Promise<TokenClaims> {
  for (const secret of [settings.secret, ...settings.previousSecrets]) {
    try {
      const { payload } = await jwtVerify(token, encoder.encode(secret), {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance: settings.clockSkewS,
        currentDate: new Date(nowS * 1000),
        requiredClaims: ["exp", "iat", "sub", "jti"],
      });
      if (
        typeof payload.role !== "string" ||
        typeof payload.ver !== "number" ||
        typeof payload.iat !== "number" ||
        payload.iat > nowS + settings.clockSkewS
      ) {
        throw new InvalidTokenError("token claims are malformed");
      }
      return payload as unknown as TokenClaims;
    } catch (err) {
      // Only a signature mismatch may be due to rotation; try the next secret.
      const code = (err as { code?: string }).code;
      if (code !== "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
        throw new InvalidTokenError("token rejected", { cause: err });
      }
    }
  }
  throw new InvalidTokenError("token rejected");
}
