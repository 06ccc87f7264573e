import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { ap, config, GATEWAY_REF, INVALID_REGEX_ROUTE, type Mesh, service, startMesh } from "./harness.js";

const REVIEWS = "10.96.0.10:9080";
const RATINGS = "10.96.0.11:9080";
const ISS = "https://issuer.test";

// policy.md §0, §1.2, §2: waypoint attachment, filter order, 401 vs 403 bodies.
describe("waypoint L7 policy", () => {
  let mesh: Mesh;
  let key: CryptoKey;
  let jwk: JWK;

  const token = (claims: Record<string, unknown>, expSeconds = 3600) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(ISS)
      .setSubject(String(claims.sub ?? "alice"))
      .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
      .sign(key);

  before(async () => {
    const pair = await generateKeyPair("ES256");
    key = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
    mesh = await startMesh(["reviews-v1", "ratings-v1"]);
    const [reviews, ratings] = mesh.pods;
    await mesh.waypoint.configure(
      config([service("reviews", "10.96.0.10", [reviews!]), service("ratings", "10.96.0.11", [ratings!])], {
        authorizationPolicies: [
          // Waypoint-wide: GET under /api or anything with x-admin: yes; claims route /claims to group admins.
          ap("gateway-allow", {
            ...GATEWAY_REF,
            rules: [
              { to: [{ operation: { methods: ["GET"], paths: ["/api/*"] } }] },
              { when: [{ key: "request.headers[x-admin]", values: ["yes"] }] },
              {
                to: [{ operation: { paths: ["/claims"] } }],
                when: [{ key: "request.auth.claims[group]", values: ["admins"] }],
              },
            ],
          }),
          // Only for ratings: deny /api/private.
          ap("ratings-deny", {
            targetRefs: [{ kind: "Service", group: "", name: "ratings" }],
            action: "DENY",
            rules: [{ to: [{ operation: { paths: ["/api/private"] } }] }],
          }),
        ],
        requestAuthentications: [
          {
            apiVersion: "security.istio.io/v1",
            kind: "RequestAuthentication",
            metadata: { name: "jwt", namespace: "default" },
            spec: { ...GATEWAY_REF, jwtRules: [{ issuer: ISS, jwks: JSON.stringify({ keys: [jwk] }) }] },
          },
        ],
      }),
    );
  });

  after(() => mesh.close());

  it("allows by path and method, denies other methods with 403 RBAC: access denied", async () => {
    const ok = await mesh.get(REVIEWS, "/api/books");
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).pod, "reviews-v1");
    const post = await mesh.get(REVIEWS, "/api/books", { method: "POST", body: "x" });
    assert.equal(post.status, 403);
    assert.equal(post.body, "RBAC: access denied");
    const other = await mesh.get(REVIEWS, "/other");
    assert.equal(other.status, 403);
  });

  it("allows by header", async () => {
    assert.equal((await mesh.get(REVIEWS, "/other", { headers: { "x-admin": "yes" } })).status, 200);
    assert.equal((await mesh.get(REVIEWS, "/other", { headers: { "x-admin": "no" } })).status, 403);
  });

  it("a Service-targeted policy applies to that service only (policy.md §0)", async () => {
    assert.equal((await mesh.get(RATINGS, "/api/private")).status, 403);
    assert.equal((await mesh.get(REVIEWS, "/api/private")).status, 200);
    // The Gateway-attached ALLOW applies to ratings too.
    assert.equal((await mesh.get(RATINGS, "/other")).status, 403);
    assert.equal((await mesh.get(RATINGS, "/api/public")).status, 200);
  });

  it("allows by JWT claim; a missing token is unauthenticated, so 403 (policy.md §2.2)", async () => {
    const admin = await token({ group: "admins" });
    const user = await token({ group: "users" });
    assert.equal((await mesh.get(REVIEWS, "/claims", { headers: { authorization: `Bearer ${admin}` } })).status, 200);
    const denied = await mesh.get(REVIEWS, "/claims", { headers: { authorization: `Bearer ${user}` } });
    assert.equal(denied.status, 403);
    assert.equal(denied.body, "RBAC: access denied");
    assert.equal((await mesh.get(REVIEWS, "/claims")).status, 403);
  });

  it("the validated token is removed before forwarding (forwardOriginalToken false)", async () => {
    const admin = await token({ group: "admins" });
    const r = await mesh.get(REVIEWS, "/api/x", { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers.authorization, undefined);
  });

  it("an invalid token is 401 with jwt_authn's body, before any policy (policy.md §1.2 rule 2)", async () => {
    const good = await token({ group: "admins" });
    const [h, p] = good.split(".");
    const forged = `${h}.${p}.${Buffer.alloc(64, 7).toString("base64url")}`;
    const bad = await mesh.get(REVIEWS, "/api/books", { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(bad.status, 401);
    assert.equal(bad.body, "Jwt verification fails");
    const expired = await mesh.get(REVIEWS, "/api/books", {
      headers: { authorization: `Bearer ${await token({}, -3600)}` },
    });
    assert.equal(expired.status, 401);
    assert.equal(expired.body, "Jwt is expired");
    const garbage = await mesh.get(REVIEWS, "/api/books", { headers: { authorization: "Bearer invalidToken" } });
    assert.equal(garbage.status, 401);
    assert.equal(garbage.body, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
  });

  it("a broken config update is rejected whole and the previous policy stays enforced", async () => {
    const before = mesh.waypoint.state;
    const broken = config([], {
      httpRoutes: [INVALID_REGEX_ROUTE],
      services: before!.config.services,
    });
    const rejected: string[] = [];
    mesh.waypoint.once("configRejected", (e) => rejected.push(e.code));
    await assert.rejects(mesh.waypoint.configure(broken), { code: "AMBIT_WAYPOINT_CONFIG" });
    await assert.rejects(mesh.waypoint.configure({ nonsense: true } as never), { code: "AMBIT_WAYPOINT_CONFIG" });
    assert.deepEqual(rejected, ["AMBIT_WAYPOINT_CONFIG"]);
    assert.equal(mesh.waypoint.state, before);
    assert.equal((await mesh.get(REVIEWS, "/other")).status, 403);
    assert.equal((await mesh.get(REVIEWS, "/api/ok")).status, 200);
  });
});
