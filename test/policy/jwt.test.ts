// RequestAuthentication with real keys and tokens minted here (policy.md §2.1, §2.2, §7.8).

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import type { JWTRule, RequestAuthentication } from "../../src/api/resources.js";
import { WaypointAuthz } from "../../src/policy/authz.js";
import { CachingJwksFetcher } from "../../src/policy/jwks.js";
import { HttpJwksFetcher } from "../../src/policy/jwks-http.js";
import { JWT_ERRORS, RequestAuthenticator, toJwtResult } from "../../src/policy/jwt.js";
import { ap, req } from "./helpers.js";

const ISS = "https://issuer.test";
const NOW = Date.UTC(2025, 0, 1) / 1000;

let rsa: { privateKey: CryptoKey; jwk: JWK };
let ec: { privateKey: CryptoKey; jwk: JWK };
let other: { privateKey: CryptoKey };
let server: Server;
let jwksUri: string;

before(async () => {
  const r = await generateKeyPair("RS256");
  rsa = { privateKey: r.privateKey, jwk: { ...(await exportJWK(r.publicKey)), kid: "rsa", alg: "RS256" } };
  const e = await generateKeyPair("ES256");
  ec = { privateKey: e.privateKey, jwk: { ...(await exportJWK(e.publicKey)), kid: "ec", alg: "ES256" } };
  other = { privateKey: (await generateKeyPair("RS256")).privateKey };
  server = createServer((_, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [ec.jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function mint(claims: JWTPayload, opts: { key?: CryptoKey; alg?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT({ sub: "alice", iat: NOW, exp: NOW + 3600, ...claims })
    .setProtectedHeader({ alg: opts.alg ?? "RS256", kid: opts.kid ?? "rsa" })
    .sign(opts.key ?? rsa.privateKey);
}

function ra(rules: JWTRule[]): RequestAuthentication {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "RequestAuthentication",
    metadata: { name: "ra", namespace: "ns1" },
    spec: { jwtRules: rules },
  };
}

function inline(extra: Partial<JWTRule> = {}): JWTRule {
  return { issuer: ISS, jwks: JSON.stringify({ keys: [rsa.jwk] }), ...extra };
}

const authn = (rules: JWTRule[], opts: { fetcher?: HttpJwksFetcher } = {}) =>
  RequestAuthenticator.compile([ra(rules)], { now: () => NOW * 1000, ...opts });

const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` }, path: "/" });

describe("JWT validation (policy.md §2.2)", () => {
  test("a valid RS256 token gives claims and the iss/sub principal, and the token header is stripped", async () => {
    const r = await authn([inline()]).authenticate(bearer(await mint({ iss: ISS })));
    assert.equal(r.status, "valid");
    assert.equal(r.principal, `${ISS}/alice`);
    assert.deepEqual(r.headerChanges.remove, ["authorization"]);
  });
  test("forwardOriginalToken keeps the header", async () => {
    const r = await authn([inline({ forwardOriginalToken: true })]).authenticate(bearer(await mint({ iss: ISS })));
    assert.deepEqual(r.headerChanges.remove, []);
  });
  test("expired token → invalid with Envoy's text (beyond the 60 s skew)", async () => {
    const t = await mint({ iss: ISS, exp: NOW - 120 });
    assert.deepEqual(await authn([inline()]).authenticate(bearer(t)), {
      status: "invalid",
      error: JWT_ERRORS.expired,
      headerChanges: { set: {}, remove: [] },
    });
    const withinSkew = await mint({ iss: ISS, exp: NOW - 30 });
    assert.equal((await authn([inline()]).authenticate(bearer(withinSkew))).status, "valid");
  });
  test("unknown issuer → Jwt issuer is not configured", async () => {
    const r = await authn([inline()]).authenticate(bearer(await mint({ iss: "https://other" })));
    assert.equal(r.error, JWT_ERRORS.unknownIssuer);
  });
  test("wrong audience → rejected; no audiences configured → not checked", async () => {
    const t = await mint({ iss: ISS, aud: "svc-b" });
    assert.equal((await authn([inline({ audiences: ["svc-a"] })]).authenticate(bearer(t))).error, JWT_ERRORS.audience);
    assert.equal((await authn([inline()]).authenticate(bearer(t))).status, "valid");
    assert.equal((await authn([inline({ audiences: ["svc-x", "svc-b"] })]).authenticate(bearer(t))).status, "valid");
  });
  test("bad signature → Jwt verification fails", async () => {
    const t = await mint({ iss: ISS }, { key: other.privateKey });
    assert.equal((await authn([inline()]).authenticate(bearer(t))).error, JWT_ERRORS.badSignature);
  });
  test("garbage token → invalid", async () => {
    assert.equal((await authn([inline()]).authenticate(bearer("invalidToken"))).status, "invalid");
  });
  test("no token → none (policies decide)", async () => {
    assert.equal((await authn([inline()]).authenticate({ headers: {}, path: "/" })).status, "none");
  });
});

describe("token locations (policy.md §2.1)", () => {
  test("default locations: Authorization Bearer and the access_token query parameter", async () => {
    const t = await mint({ iss: ISS });
    assert.equal((await authn([inline()]).authenticate({ headers: {}, path: `/x?access_token=${t}` })).status, "valid");
    assert.equal(
      (await authn([inline()]).authenticate({ headers: { authorization: `Basic ${t}` }, path: "/" })).status,
      "none",
    );
  });
  test("fromHeaders with a prefix: the prefix must match exactly", async () => {
    const t = await mint({ iss: ISS });
    const a = authn([inline({ fromHeaders: [{ name: "X-Jwt", prefix: "Token " }] })]);
    assert.equal((await a.authenticate({ headers: { "x-jwt": `Token ${t}` }, path: "/" })).status, "valid");
    assert.equal((await a.authenticate({ headers: { "x-jwt": `token ${t}` }, path: "/" })).status, "none");
    assert.equal((await a.authenticate(bearer(t))).status, "none", "Authorization is not read once fromHeaders is set");
  });
  test("fromParams and fromCookies", async () => {
    const t = await mint({ iss: ISS });
    assert.equal(
      (await authn([inline({ fromParams: ["jwt"] })]).authenticate({ headers: {}, path: `/a?x=1&jwt=${t}` })).status,
      "valid",
    );
    const c = authn([inline({ fromCookies: ["session"] })]);
    assert.equal((await c.authenticate({ headers: { cookie: `a=b; session=${t}` }, path: "/" })).status, "valid");
  });
  test("outputPayloadToHeader and outputClaimToHeaders", async () => {
    const t = await mint({ iss: ISS, group: "dev", nested: { level: 3 } });
    const r = await authn([
      inline({
        outputPayloadToHeader: "x-payload",
        outputClaimToHeaders: [
          { header: "x-group", claim: "group" },
          { header: "x-level", claim: "nested.level" },
          { header: "x-none", claim: "missing" },
        ],
      }),
    ]).authenticate(bearer(t));
    assert.equal(r.headerChanges.set["x-payload"], t.split(".")[1]);
    assert.equal(r.headerChanges.set["x-group"], "dev");
    assert.equal(r.headerChanges.set["x-level"], "3");
    assert.ok(r.headerChanges.remove.includes("x-none"));
  });
});

describe("remote JWKS (policy.md §2.1)", () => {
  test("an ES256 token verified with keys served by a real local HTTP server", async () => {
    const fetcher = new CachingJwksFetcher(new HttpJwksFetcher());
    const a = RequestAuthenticator.compile([ra([{ issuer: ISS, jwksUri }])], { fetcher, now: () => NOW * 1000 });
    const t = await mint({ iss: ISS }, { key: ec.privateKey, alg: "ES256", kid: "ec" });
    assert.equal((await a.authenticate(bearer(t))).status, "valid");
  });
  test("server down → token cannot be verified → 401 at the waypoint (fail closed)", async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const a = RequestAuthenticator.compile(
      [ra([{ issuer: ISS, jwksUri: `http://127.0.0.1:${port}/jwks`, timeout: "1s" }])],
      {
        fetcher: new HttpJwksFetcher(),
        now: () => NOW * 1000,
      },
    );
    const r = await a.authenticate(bearer(await mint({ iss: ISS }, { key: ec.privateKey, alg: "ES256", kid: "ec" })));
    assert.equal(r.error, JWT_ERRORS.fetchFailed);
    const d = WaypointAuthz.compile([ap("allow-all", { rules: [{}] })]).evaluate({ ...req(), jwt: toJwtResult(r) });
    assert.deepEqual([d.allowed, d.status], [false, 401]);
  });
});

describe("JWT and policies together (policy.md §2.2, §7.8)", () => {
  test("missing token + requestPrincipals:[*] → 403; valid token → 200", async () => {
    const engine = WaypointAuthz.compile([
      ap("need-jwt", { rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] }),
    ]);
    const a = authn([inline()]);
    const none = await a.authenticate({ headers: {}, path: "/" });
    assert.equal(engine.evaluate({ ...req(), jwt: toJwtResult(none) }).status, 403);
    const ok = await a.authenticate(bearer(await mint({ iss: ISS })));
    assert.equal(engine.evaluate({ ...req(), jwt: toJwtResult(ok) }).status, 200);
  });
});
