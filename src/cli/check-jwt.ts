// `ambit check --jwt`: the token verified as the waypoint's jwt_authn filter would, with the RequestAuthentications
// attached to that waypoint (policy.md §2.2). Offline: inline `jwks` only; a `jwksUri` is never fetched, and the
// request fails closed (401) as Istio does when the keys cannot be fetched.
import { decodeJwt } from "jose";
import type { RequestAuthentication } from "../api/resources.js";
import { JWT_ERRORS, RequestAuthenticator, toJwtResult } from "../policy/jwt.js";
import type { HttpAttributes, JwtResult } from "../policy/request.js";

export const NO_AUTHN_NOTE =
  "no RequestAuthentication is attached to this waypoint: a token is not validated and its claims are not used";

export interface TokenCheck {
  jwt: JwtResult | null;
  notes: string[];
}

function issuerOf(token: string): string | undefined {
  try {
    return decodeJwt(token).iss;
  } catch {
    return undefined;
  }
}

export async function authenticateToken(
  ras: readonly RequestAuthentication[],
  token: string,
  http: HttpAttributes | null,
): Promise<TokenCheck> {
  if (ras.length === 0) return { jwt: null, notes: [NO_AUTHN_NOTE] };
  let authn: RequestAuthenticator;
  try {
    authn = RequestAuthenticator.compile(ras);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return {
      jwt: { claims: {}, valid: false, error: JWT_ERRORS.noKey },
      notes: [`an inline jwks of the attached RequestAuthentications cannot be read (${why})`],
    };
  }
  const result = await authn.authenticate({
    headers: { ...(http?.headers ?? {}), authorization: `Bearer ${token}` },
    path: http?.path ?? "/",
    method: http?.method,
  });
  const notes: string[] = [];
  if (result.status === "valid") notes.push(`token valid: request principal ${result.principal}`);
  if (result.error === JWT_ERRORS.fetchFailed) {
    const iss = issuerOf(token);
    for (const ra of ras) {
      for (const rule of ra.spec?.jwtRules ?? []) {
        if (rule.issuer === iss && rule.jwks === undefined && rule.jwksUri !== undefined) {
          notes.push(
            `RequestAuthentication ${ra.metadata.namespace}/${ra.metadata.name}: keys for issuer ${iss} are at jwksUri ${rule.jwksUri}, which ambit check does not fetch (offline); Istio fails closed when they cannot be fetched: 401`,
          );
        }
      }
    }
  }
  return { jwt: toJwtResult(result), notes };
}
