// RequestAuthentication at the waypoint (policy.md §2): token extraction, validation with jose, and the header
// changes Envoy's jwt_authn makes. A missing token is not an error; a present token that fails is 401.

import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, type JWTPayload, jwtVerify } from "jose";
import type { JWTRule, RequestAuthentication } from "../api/resources.js";
import type { JwksFetcher } from "./jwks.js";
import type { JwtResult } from "./request.js";

export interface HeaderChanges {
  set: Record<string, string>;
  remove: string[];
}

export interface AuthnResult {
  status: "none" | "valid" | "invalid";
  claims?: JWTPayload;
  /** `iss/sub` of the validated token. */
  principal?: string;
  headerChanges: HeaderChanges;
  /** Envoy's response body for a 401, e.g. `Jwt is expired`. */
  error?: string;
}

export interface AuthnRequest {
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Raw path with the query string. */
  path: string;
  method?: string;
}

export interface AuthenticatorOptions {
  fetcher?: JwksFetcher;
  /** Clock in ms; injected so validation is deterministic in tests. */
  now?: () => number;
  /** Envoy's default is 60 s for exp/nbf. */
  clockSkewSeconds?: number;
}

type Location =
  | { kind: "header"; name: string; prefix: string }
  | { kind: "param"; name: string }
  | { kind: "cookie"; name: string };

interface CompiledJwtRule {
  rule: JWTRule;
  locations: Location[];
  localKeys: ReturnType<typeof createLocalJWKSet> | undefined;
  timeoutMs: number;
}

export const JWT_ERRORS = {
  malformed: "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
  badSignature: "Jwt verification fails",
  expired: "Jwt is expired",
  notYetValid: "Jwt not yet valid",
  unknownIssuer: "Jwt issuer is not configured",
  audience: "Audiences in Jwt are not allowed",
  noKey: "Jwks doesn't have key to match kid or alg from Jwt",
  fetchFailed: "Jwks remote fetch is failed",
} as const;

function locationsOf(rule: JWTRule): Location[] {
  const out: Location[] = [];
  for (const h of rule.fromHeaders ?? [])
    out.push({ kind: "header", name: h.name.toLowerCase(), prefix: h.prefix ?? "" });
  for (const p of rule.fromParams ?? []) out.push({ kind: "param", name: p });
  for (const c of rule.fromCookies ?? []) out.push({ kind: "cookie", name: c });
  if (out.length === 0) {
    out.push({ kind: "header", name: "authorization", prefix: "Bearer " }, { kind: "param", name: "access_token" });
  }
  return out;
}

function parseTimeout(t: string | undefined): number {
  const m = t ? /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(t) : null;
  if (!m) return 5000;
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60000;
}

function sameLocation(a: Location, b: Location): boolean {
  return a.kind === b.kind && a.name === b.name && (a.kind !== "header" || a.prefix === (b as typeof a).prefix);
}

function header(req: AuthnRequest, name: string): string | undefined {
  const v = req.headers[name];
  return v === undefined ? undefined : typeof v === "string" ? v : v[0];
}

function extract(req: AuthnRequest, loc: Location): string | undefined {
  if (loc.kind === "header") {
    const v = header(req, loc.name);
    if (v === undefined || !v.startsWith(loc.prefix)) return undefined;
    const token = v.slice(loc.prefix.length).trim();
    return token.length > 0 ? token : undefined;
  }
  if (loc.kind === "param") {
    const q = req.path.indexOf("?");
    if (q < 0) return undefined;
    for (const pair of req.path.slice(q + 1).split("&")) {
      const eq = pair.indexOf("=");
      const k = eq >= 0 ? pair.slice(0, eq) : pair;
      if (k === loc.name && eq >= 0) return decodeURIComponent(pair.slice(eq + 1)) || undefined;
    }
    return undefined;
  }
  const cookie = header(req, "cookie");
  for (const part of cookie?.split(";") ?? []) {
    const eq = part.indexOf("=");
    if (eq >= 0 && part.slice(0, eq).trim() === loc.name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

function errorText(e: unknown): string {
  const err = e as { code?: string; claim?: string };
  switch (err.code) {
    case "ERR_JWT_EXPIRED":
      return JWT_ERRORS.expired;
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (err.claim === "nbf") return JWT_ERRORS.notYetValid;
      if (err.claim === "aud") return JWT_ERRORS.audience;
      if (err.claim === "iss") return JWT_ERRORS.unknownIssuer;
      return JWT_ERRORS.badSignature;
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return JWT_ERRORS.noKey;
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return JWT_ERRORS.malformed;
    default:
      return JWT_ERRORS.badSignature;
  }
}

/** `a.b` nested claim for outputClaimToHeaders; only string, number and boolean values are copied. */
function claimForHeader(claims: JWTPayload, path: string): string | undefined {
  let v: unknown = claims;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

export class RequestAuthenticator {
  private constructor(
    private readonly rules: CompiledJwtRule[],
    private readonly opts: AuthenticatorOptions,
  ) {}

  /** All rules of all RequestAuthentications applying to the workload, pooled and sorted by issuer. */
  static compile(ras: readonly RequestAuthentication[], opts: AuthenticatorOptions = {}): RequestAuthenticator {
    const rules = ras
      .flatMap((ra) => ra.spec?.jwtRules ?? [])
      .sort((a, b) => (a.issuer < b.issuer ? -1 : a.issuer > b.issuer ? 1 : 0))
      .map((rule) => ({
        rule,
        locations: locationsOf(rule),
        localKeys: rule.jwks ? createLocalJWKSet(JSON.parse(rule.jwks) as JSONWebKeySet) : undefined,
        timeoutMs: parseTimeout(rule.timeout),
      }));
    return new RequestAuthenticator(rules, opts);
  }

  get ruleCount(): number {
    return this.rules.length;
  }

  async authenticate(req: AuthnRequest): Promise<AuthnResult> {
    const headerChanges: HeaderChanges = { set: {}, remove: [] };
    if (this.rules.length === 0 || req.method === "OPTIONS") return { status: "none", headerChanges };
    // Every distinct location any rule reads, with the token found there.
    const found: Array<{ loc: Location; token: string }> = [];
    for (const r of this.rules) {
      for (const loc of r.locations) {
        if (found.some((f) => sameLocation(f.loc, loc))) continue;
        const token = extract(req, loc);
        if (token !== undefined) found.push({ loc, token });
      }
    }
    if (found.length === 0) return { status: "none", headerChanges };
    let first: { claims: JWTPayload; principal: string } | undefined;
    for (const { loc, token } of found) {
      const result = await this.verify(token, loc);
      if ("error" in result) return { status: "invalid", error: result.error, headerChanges: { set: {}, remove: [] } };
      const { claims, rule } = result;
      first ??= { claims, principal: `${claims.iss ?? ""}/${claims.sub ?? ""}` };
      if (loc.kind === "header" && rule.forwardOriginalToken !== true) headerChanges.remove.push(loc.name);
      if (rule.outputPayloadToHeader)
        headerChanges.set[rule.outputPayloadToHeader.toLowerCase()] = token.split(".")[1]!;
      for (const { header: h, claim } of rule.outputClaimToHeaders ?? []) {
        const v = claimForHeader(claims, claim);
        if (v === undefined) headerChanges.remove.push(h.toLowerCase());
        else headerChanges.set[h.toLowerCase()] = v;
      }
    }
    return { status: "valid", claims: first!.claims, principal: first!.principal, headerChanges };
  }

  private async verify(
    token: string,
    loc: Location,
  ): Promise<{ claims: JWTPayload; rule: JWTRule } | { error: string }> {
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return { error: JWT_ERRORS.malformed };
    }
    const rule = this.rules.find((r) => r.rule.issuer === iss && r.locations.some((l) => sameLocation(l, loc)));
    if (!rule) return { error: JWT_ERRORS.unknownIssuer };
    let keys = rule.localKeys;
    if (!keys) {
      if (!rule.rule.jwksUri || !this.opts.fetcher) return { error: JWT_ERRORS.fetchFailed };
      try {
        keys = createLocalJWKSet(await this.opts.fetcher.fetch(rule.rule.jwksUri, rule.timeoutMs));
      } catch {
        return { error: JWT_ERRORS.fetchFailed };
      }
    }
    try {
      const audiences = rule.rule.audiences ?? [];
      const { payload } = await jwtVerify(token, keys, {
        issuer: rule.rule.issuer,
        ...(audiences.length > 0 ? { audience: audiences } : {}),
        clockTolerance: this.opts.clockSkewSeconds ?? 60,
        currentDate: new Date((this.opts.now ?? Date.now)()),
      });
      return { claims: payload, rule: rule.rule };
    } catch (e) {
      return { error: errorText(e) };
    }
  }
}

/** The engine's view of an authentication result: null when no token was presented. */
export function toJwtResult(r: AuthnResult): JwtResult | null {
  if (r.status === "none") return null;
  if (r.status === "invalid") return { claims: {}, valid: false, error: r.error ?? JWT_ERRORS.badSignature };
  return { claims: r.claims ?? {}, valid: true };
}
