// `ambit check --request FILE` (one enforcement point, for scripts) and `--jwt` along a path: the policies found
// as the enforcement point finds them (policy.md §0), JWTs verified with the waypoint's RequestAuthentications
// (policy.md §2.2), ext_authz answers for CUSTOM (§1.11), and exit 65 for request files that do not make sense.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { stringify } from "yaml";
import { runCli } from "../../src/cli/run.js";

const B = "examples/bookinfo";
const ISS = "https://issuer.test";
const REMOTE_ISS = "https://remote.test";
const DIR = mkdtempSync(join(tmpdir(), "ambit-check-request-"));
const WAYPOINT = { kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" };

let key: CryptoKey;
let otherKey: CryptoKey;

before(async () => {
  const pair = await generateKeyPair("RS256");
  key = pair.privateKey;
  otherKey = (await generateKeyPair("RS256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256" };
  const docs = [
    {
      apiVersion: "security.istio.io/v1",
      kind: "RequestAuthentication",
      metadata: { name: "issuer-test", namespace: "bookinfo" },
      spec: {
        targetRefs: [WAYPOINT],
        jwtRules: [
          { issuer: ISS, jwks: JSON.stringify({ keys: [jwk] }) },
          { issuer: REMOTE_ISS, jwksUri: "https://remote.test/jwks.json" },
        ],
      },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: "details-alice", namespace: "bookinfo" },
      spec: {
        targetRefs: [{ kind: "Service", group: "", name: "details" }],
        action: "ALLOW",
        rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/alice`] } }] }],
      },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: "ratings-ext", namespace: "bookinfo" },
      spec: {
        targetRefs: [{ kind: "Service", group: "", name: "ratings" }],
        action: "CUSTOM",
        provider: { name: "opa" },
        rules: [{ to: [{ operation: { paths: ["/ratings/*"] } }] }],
      },
    },
  ];
  writeFileSync(join(DIR, "jwt.yaml"), docs.map((d) => stringify(d)).join("---\n"));
});

after(() => rmSync(DIR, { recursive: true, force: true }));

async function mint(claims: JWTPayload, signWith: CryptoKey = key, iss = ISS): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss, sub: "alice", iat: now, exp: now + 3600, ...claims })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .sign(signWith);
}

let n = 0;
async function ask(request: unknown, extra: string[] = []) {
  const file = join(DIR, `request-${n++}.json`);
  writeFileSync(file, typeof request === "string" ? request : JSON.stringify(request));
  const r = await runCli(["check", "-f", B, "-f", join(DIR, "jwt.yaml"), "--request", file, "-o", "json", ...extra]);
  return { ...r, out: r.exitCode <= 1 ? JSON.parse(r.stdout) : undefined };
}

const CURL = "cluster.local/ns/bookinfo/sa/curl";

function waypointRequest(o: { method?: string; service?: string; path?: string; jwt?: unknown; principal?: string }) {
  return {
    enforcement: "waypoint",
    source: { principal: o.principal ?? CURL, namespace: "bookinfo", ip: "10.0.0.1" },
    destination: {
      ip: "10.96.0.9",
      port: 9080,
      namespace: "bookinfo",
      service: `${o.service ?? "productpage"}.bookinfo.svc.cluster.local`,
    },
    http: { method: o.method ?? "GET", path: o.path ?? "/", host: "x:9080", headers: {} },
    jwt: o.jwt ?? null,
  };
}

describe("ambit check --request at a waypoint", () => {
  // policy.md §1.2 item 4.
  test("POST to productpage: DENY 403, the ALLOW policy traced with its file:line", async () => {
    const r = await ask({ ...waypointRequest({ method: "POST" }), waypoint: "bookinfo/waypoint" });
    assert.equal(r.exitCode, 1);
    assert.equal(r.out.decision, "DENY");
    assert.equal(r.out.status, 403);
    assert.equal(r.out.policy, null);
    assert.deepEqual(
      r.out.trace.map((t: { policy: string; file: string; line: number; matched: boolean }) => [
        t.policy,
        t.file,
        t.line,
        t.matched,
      ]),
      [["bookinfo/productpage-viewer", "examples/bookinfo/policies.yaml", 3, false]],
    );
  });

  test("GET to productpage: ALLOW 200 by productpage-viewer rule 0; the waypoint defaults to <ns>/waypoint", async () => {
    const r = await ask(waypointRequest({}));
    assert.equal(r.exitCode, 0);
    assert.deepEqual(
      [r.out.decision, r.out.status, r.out.policy, r.out.rule],
      ["ALLOW", 200, "bookinfo/productpage-viewer", 0],
    );
  });

  // policy.md §0: Service-targeted policies apply only to requests for that service.
  test("a Service-targeted policy does not apply to requests for another service", async () => {
    const r = await ask(waypointRequest({ service: "reviews", method: "DELETE" }));
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.out.trace, []);
  });

  test("claims without a token: matching request principal allowed, another denied 403, invalid 401", async () => {
    const claims = (sub: string, valid = true) =>
      waypointRequest({ service: "details", jwt: { claims: { iss: ISS, sub }, valid } });
    const alice = await ask(claims("alice"));
    assert.deepEqual([alice.exitCode, alice.out.decision, alice.out.policy], [0, "ALLOW", "bookinfo/details-alice"]);
    const bob = await ask(claims("bob"));
    assert.deepEqual([bob.exitCode, bob.out.status], [1, 403]);
    const invalid = await ask(claims("alice", false));
    assert.deepEqual([invalid.exitCode, invalid.out.status], [1, 401]);
    // policy.md §2.2: no token → unauthenticated → the requestPrincipals ALLOW does not match → 403.
    const none = await ask(waypointRequest({ service: "details" }));
    assert.deepEqual([none.exitCode, none.out.status], [1, 403]);
  });

  // policy.md §0: only RequestAuthentications attached to the waypoint count; without one a token is ignored.
  test("claims at a waypoint without a RequestAuthentication are not used (even invalid ones)", async () => {
    const file = join(DIR, "no-ra.json");
    writeFileSync(file, JSON.stringify(waypointRequest({ jwt: { claims: { iss: ISS, sub: "x" }, valid: false } })));
    const r = await runCli(["check", "-f", B, "--request", file, "-o", "json"]);
    assert.equal(r.exitCode, 0);
    assert.match(JSON.parse(r.stdout).notes[0], /no RequestAuthentication is attached to this waypoint/);
  });

  test("a token minted here is verified with the waypoint's inline jwks", async () => {
    const good = await ask(waypointRequest({ service: "details", jwt: { token: await mint({}) } }));
    assert.equal(good.exitCode, 0);
    assert.equal(good.out.policy, "bookinfo/details-alice");
    assert.match(good.out.notes.join("\n"), /token valid: request principal https:\/\/issuer\.test\/alice/);
  });

  test("a token signed by another key, or expired, is 401 before any AuthorizationPolicy", async () => {
    const forged = await ask(waypointRequest({ service: "details", jwt: { token: await mint({}, otherKey) } }));
    assert.deepEqual([forged.exitCode, forged.out.status, forged.out.reason], [1, 401, "Jwt verification fails"]);
    assert.equal(forged.out.trace[0].phase, "JWT");
    assert.equal(forged.out.trace[0].policy, "bookinfo/issuer-test");
    const now = Math.floor(Date.now() / 1000);
    const expired = await ask(
      waypointRequest({ service: "details", jwt: { token: await mint({ iat: now - 7200, exp: now - 3600 }) } }),
    );
    assert.deepEqual([expired.out.status, expired.out.reason], [401, "Jwt is expired"]);
  });

  test("a jwksUri is not fetched offline: 401, fail closed, and the notes say why", async () => {
    const r = await ask(waypointRequest({ service: "details", jwt: { token: await mint({}, key, REMOTE_ISS) } }));
    assert.deepEqual([r.exitCode, r.out.status], [1, 401]);
    assert.match(
      r.out.notes.join("\n"),
      /jwksUri https:\/\/remote\.test\/jwks\.json, which ambit check does not fetch/,
    );
    assert.doesNotMatch(r.stdout, /eyJ/, "the token never reaches the output");
  });

  // policy.md §1.11: a CUSTOM match asks the ext_authz server; without an answer it fails closed.
  test("CUSTOM: extAuthzResponse decides; without one the request fails closed with a note", async () => {
    const base = waypointRequest({ service: "ratings", path: "/ratings/0" });
    const deny = await ask({ ...base, extAuthzResponse: "DENY" });
    assert.deepEqual([deny.exitCode, deny.out.status, deny.out.policy], [1, 403, "bookinfo/ratings-ext"]);
    const allow = await ask({ ...base, extAuthzResponse: "ALLOW" });
    assert.equal(allow.exitCode, 0);
    const unknown = await ask(base);
    assert.equal(unknown.exitCode, 1);
    assert.match(unknown.out.notes.join("\n"), /its answer is not simulated/);
  });
});

describe("ambit check --request at ztunnel", () => {
  const ztunnel = (principal: string | null, labels: Record<string, string>) => ({
    enforcement: "ztunnel",
    source: { principal, ip: "10.0.0.1" },
    destination: { ip: "10.0.0.7", port: 9080, namespace: "bookinfo", labels },
    http: null,
    jwt: null,
  });

  // policy.md §1.3: an ALLOW applies and nothing matches → NotAllowed, no HTTP status.
  test("ratings to reviews' labels: DENY with status null", async () => {
    const r = await ask(ztunnel("cluster.local/ns/bookinfo/sa/bookinfo-ratings", { app: "reviews" }));
    assert.deepEqual([r.exitCode, r.out.decision, r.out.status, r.out.reason], [1, "DENY", null, "NotAllowed"]);
    assert.equal(r.out.trace[0].policy, "bookinfo/reviews-callers");
  });

  test("the waypoint's identity is allowed by reviews-callers rule 0", async () => {
    const r = await ask(ztunnel("spiffe://cluster.local/ns/bookinfo/sa/waypoint", { app: "reviews" }));
    assert.deepEqual([r.exitCode, r.out.policy, r.out.rule, r.out.status], [0, "bookinfo/reviews-callers", 0, null]);
  });

  test("selector policies follow the destination labels: details has none", async () => {
    const r = await ask(ztunnel(null, { app: "details" }));
    assert.deepEqual([r.exitCode, r.out.trace], [0, []]);
  });

  test("--request - reads the request from standard input (the real binary)", () => {
    const request = ztunnel("cluster.local/ns/bookinfo/sa/bookinfo-productpage", { app: "reviews" });
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "check", "-f", B, "--request", "-", "-o", "json"],
      { input: JSON.stringify(request), encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).policy, "bookinfo/reviews-callers");
  });

  test("text output names the enforcement point, each policy and the decision", async () => {
    const file = join(DIR, "zt.json");
    writeFileSync(file, JSON.stringify(ztunnel("cluster.local/ns/bookinfo/sa/bookinfo-ratings", { app: "reviews" })));
    const r = await runCli(["check", "-f", B, "--request", file]);
    assert.equal(r.exitCode, 1);
    assert.equal(
      r.stdout,
      [
        "Enforcement: ztunnel",
        "  AuthorizationPolicy bookinfo/reviews-callers [ALLOW] (examples/bookinfo/policies.yaml:26): rule 0: from[0].source.principals did not match",
        "Decision: DENY, connection reset (NotAllowed)",
        "",
      ].join("\n"),
    );
  });
});

describe("ambit check --jwt along a path", () => {
  const toDetails = ["--from", "pod/bookinfo/curl", "--to", "service/bookinfo/details:9080"];

  test("a valid token reaches details through the waypoint", async () => {
    const r = await runCli(["check", "-f", B, "-f", join(DIR, "jwt.yaml"), ...toDetails, "--jwt", await mint({})]);
    assert.equal(r.exitCode, 0, r.stdout);
    assert.match(r.stdout, /note: token valid: request principal https:\/\/issuer\.test\/alice/);
    assert.match(r.stdout, /AuthorizationPolicy bookinfo\/details-alice \[ALLOW\] .*: rule 0 matched/);
  });

  test("--jwt-file with a forged token: 401 at the waypoint", async () => {
    const file = join(DIR, "forged.jwt");
    writeFileSync(file, `${await mint({}, otherKey)}\n`);
    const r = await runCli(["check", "-f", B, "-f", join(DIR, "jwt.yaml"), ...toDetails, "--jwt-file", file]);
    assert.equal(r.exitCode, 1);
    assert.match(r.stdout, /Verdict: DENIED at waypoint bookinfo\/waypoint — HTTP 401, Jwt verification fails/);
  });
});

describe("ambit check --request: bad request files exit 65 and name the field", () => {
  const good = waypointRequest({});
  const cases: Array<[string, unknown, RegExp]> = [
    ["not JSON", "{ nope", /request file is not JSON/],
    ["an array", "[]", /\(top level\) must be a JSON object/],
    ["enforcement", { ...good, enforcement: "sidecar" }, /enforcement must be "waypoint" or "ztunnel"/],
    ["source missing", { ...good, source: undefined }, /source must be an object/],
    ["principal", { ...good, source: { principal: 7, ip: "1.2.3.4" } }, /source\.principal must be a string or null/],
    ["source ip", { ...good, source: { principal: null } }, /source\.ip must be a non-empty string/],
    ["port", { ...good, destination: { ...good.destination, port: "9080" } }, /destination\.port must be an integer/],
    ["labels", { ...good, destination: { ...good.destination, labels: { app: 1 } } }, /destination\.labels\.app/],
    ["http method", { ...good, http: { path: "/", host: "h" } }, /http\.method must be a non-empty string/],
    ["header", { ...good, http: { ...good.http, headers: { x: 1 } } }, /http\.headers\.x must be a string/],
    ["jwt", { ...good, jwt: { sub: "alice" } }, /jwt needs "token"/],
    ["jwt valid", { ...good, jwt: { claims: {}, valid: "yes" } }, /jwt\.valid must be true or false/],
    ["extAuthz", { ...good, extAuthzResponse: "MAYBE" }, /extAuthzResponse must be "ALLOW" or "DENY"/],
    ["waypoint form", { ...good, waypoint: "waypoint" }, /waypoint must be "namespace\/name"/],
    [
      "unknown waypoint",
      { ...good, waypoint: "bookinfo/nope" },
      /"bookinfo\/nope" is not a waypoint .*waypoints: bookinfo\/waypoint/,
    ],
    [
      "unknown service",
      { ...good, destination: { ...good.destination, service: "nope.bookinfo.svc.cluster.local" } },
      /destination\.service "nope\.bookinfo\.svc\.cluster\.local": no Service or ServiceEntry/,
    ],
  ];
  for (const [what, request, message] of cases) {
    test(what, async () => {
      const r = await ask(request);
      assert.equal(r.exitCode, 65, r.stdout);
      assert.match(r.stderr, message);
    });
  }

  test("an unreadable request file is exit 65", async () => {
    const r = await runCli(["check", "-f", B, "--request", join(DIR, "missing.json")]);
    assert.equal(r.exitCode, 65);
    assert.match(r.stderr, /cannot read .*missing\.json \(ENOENT\)/);
  });

  test("--request with path flags is bad usage (exit 64)", async () => {
    const r = await ask(good, ["--from", "pod/bookinfo/curl"]);
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /drop --from/);
  });
});
