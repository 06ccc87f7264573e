// Waypoint (L7) decisions: policy.md §1.2 (order), §1.4 (boolean structure), §1.5–§1.8 (fields), §1.10–§1.13, §7.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuthorizationPolicy } from "../../src/api/resources.js";
import { WaypointAuthz, type WaypointAuthzOptions } from "../../src/policy/authz.js";
import type { L7Request } from "../../src/policy/request.js";
import { ap, req } from "./helpers.js";

function decide(policies: AuthorizationPolicy[], r: L7Request, o: WaypointAuthzOptions = {}) {
  return WaypointAuthz.compile(policies, o).evaluate(r, { trace: true });
}
const allowed = (policies: AuthorizationPolicy[], r: L7Request, o: WaypointAuthzOptions = {}) =>
  decide(policies, r, o).allowed;

describe("decision order (policy.md §1.2)", () => {
  test("no policy at all allows with 200", () => {
    const d = decide([], req());
    assert.equal(d.allowed, true);
    assert.equal(d.status, 200);
  });

  test("DENY beats ALLOW with 403 and names the deny policy", () => {
    const d = decide([ap("allow", { rules: [{}] }), ap("deny", { action: "DENY", rules: [{}] })], req());
    assert.deepEqual([d.allowed, d.status, d.policy?.name, d.rule], [false, 403, "deny", 0]);
    assert.equal(d.reason, "RBAC: access denied");
  });

  test("an invalid JWT answers 401 before any ALLOW, even allow-all", () => {
    const d = decide([ap("allow", { rules: [{}] })], req({ jwtInvalid: "Jwt is expired" }));
    assert.deepEqual([d.allowed, d.status, d.reason], [false, 401, "Jwt is expired"]);
  });

  test("an invalid JWT still answers 401 before a DENY (JWT runs before RBAC)", () => {
    const d = decide([ap("deny", { action: "DENY", rules: [{}] })], req({ jwtInvalid: "Jwt verification fails" }));
    assert.equal(d.status, 401);
  });

  test("CUSTOM deny answers 403 before JWT validation (CUSTOM runs first)", () => {
    const custom = ap("ext", { action: "CUSTOM", provider: { name: "ext" }, rules: [{}] });
    const d = WaypointAuthz.compile([custom], { extAuthzProviders: { ext: { kind: "http" } } }).evaluate(
      req({ jwtInvalid: "Jwt is expired" }),
      { extAuthz: { ext: { allowed: false } } },
    );
    assert.deepEqual([d.allowed, d.status, d.policy?.name], [false, 403, "ext"]);
  });

  test("AUDIT never changes the decision but is reported", () => {
    const d = decide([ap("audit", { action: "AUDIT", rules: [{}] })], req());
    assert.equal(d.allowed, true);
    assert.equal(d.audit?.name, "audit");
    assert.equal(
      decide([ap("audit", { action: "AUDIT", rules: [{}] }), ap("deny", { action: "DENY", rules: [{}] })], req())
        .allowed,
      false,
    );
  });
});

describe("no ALLOW vs ALLOW that matches nothing (policy.md §7.1, §1.2.4-5)", () => {
  test("spec: {} is allow-nothing: denies everything", () => {
    const d = decide([ap("nothing", {})], req());
    assert.deepEqual([d.allowed, d.status, d.policy], [false, 403, null]);
  });
  test("rules: [{}] is allow-all", () => {
    assert.equal(allowed([ap("all", { rules: [{}] })], req()), true);
  });
  test("an ALLOW policy that does not match makes other requests 403", () => {
    const p = ap("get-only", { rules: [{ to: [{ operation: { methods: ["GET"] } }] }] });
    assert.equal(allowed([p], req()), true);
    assert.equal(decide([p], req({ http: { method: "POST" } })).status, 403);
  });
  test("DENY with rules: [{}] denies all and beats any ALLOW", () => {
    assert.equal(allowed([ap("a", { rules: [{}] }), ap("d", { action: "DENY", rules: [{}] })], req()), false);
  });
});

describe("boolean structure (policy.md §1.4)", () => {
  test("fields inside one source are ANDed", () => {
    const p = ap("p", { rules: [{ from: [{ source: { namespaces: ["client-ns"], ipBlocks: ["10.1.0.0/16"] } }] }] });
    assert.equal(allowed([p], req()), false);
    assert.equal(allowed([p], req({ ip: "10.1.2.3" })), true);
  });
  test("several from entries are ORed", () => {
    const p = ap("p", {
      rules: [{ from: [{ source: { namespaces: ["x"] } }, { source: { ipBlocks: ["10.0.0.1"] } }] }],
    });
    assert.equal(allowed([p], req()), true);
  });
  test("values inside one field are ORed, a positive and its not-list are ANDed", () => {
    const p = ap("p", { rules: [{ to: [{ operation: { paths: ["/a*", "/b*"], notPaths: ["/a/secret"] } }] }] });
    assert.equal(allowed([p], req({ http: { path: "/b/x" } })), true);
    assert.equal(allowed([p], req({ http: { path: "/a/secret" } })), false);
    assert.equal(allowed([p], req({ http: { path: "/c" } })), false);
  });
  test("every when condition must match", () => {
    const p = ap("p", {
      rules: [
        {
          when: [
            { key: "request.headers[x-a]", values: ["1"] },
            { key: "request.headers[x-b]", values: ["2"] },
          ],
        },
      ],
    });
    assert.equal(allowed([p], req({ http: { headers: { "x-a": "1", "x-b": "2" } } })), true);
    assert.equal(allowed([p], req({ http: { headers: { "x-a": "1" } } })), false);
  });
  test("any rule matching makes the policy match, and the trace names the rule", () => {
    const p = ap("p", {
      rules: [{ to: [{ operation: { methods: ["POST"] } }] }, { to: [{ operation: { methods: ["GET"] } }] }],
    });
    const d = decide([p], req());
    assert.deepEqual([d.allowed, d.rule], [true, 1]);
    assert.match(d.trace[0]!.reason, /rule 1 matched/);
  });
  test("trace states the first failing field of a rule", () => {
    const p = ap("p", { rules: [{ from: [{ source: { principals: ["cluster.local/ns/x/sa/y"] } }] }] });
    const d = decide([p], req());
    assert.equal(d.trace[0]!.reason, "rule 0: from[0].source.principals did not match");
  });
});

describe("source fields at the waypoint (policy.md §1.5, §1.13)", () => {
  test("principals are written without spiffe:// and match exactly, by prefix, suffix and *", () => {
    const make = (v: string) => ap("p", { rules: [{ from: [{ source: { principals: [v] } }] }] });
    assert.equal(allowed([make("cluster.local/ns/client-ns/sa/client")], req()), true);
    assert.equal(allowed([make("cluster.local/ns/client-ns/*")], req()), true);
    assert.equal(allowed([make("*/sa/client")], req()), true);
    assert.equal(allowed([make("*")], req()), true);
    assert.equal(allowed([make("*")], req({ principal: null })), false);
  });
  test("a principal written with spiffe:// never matches", () => {
    const p = ap("p", {
      rules: [{ from: [{ source: { principals: ["spiffe://cluster.local/ns/client-ns/sa/client"] } }] }],
    });
    assert.equal(allowed([p], req()), false);
  });
  test("a middle * in principals is a literal (exact match)", () => {
    const p = ap("p", { rules: [{ from: [{ source: { principals: ["cluster.local/ns/*/sa/client"] } }] }] });
    assert.equal(allowed([p], req()), false);
  });
  test("namespaces at the waypoint: every * is a wildcard, even in the middle", () => {
    const make = (v: string) => ap("p", { rules: [{ from: [{ source: { namespaces: [v] } }] }] });
    assert.equal(allowed([make("client-ns")], req()), true);
    assert.equal(allowed([make("client*")], req()), true);
    assert.equal(allowed([make("cl*ns")], req()), true);
    assert.equal(allowed([make("client")], req()), false);
  });
  test("notPrincipals and notNamespaces match a plaintext peer (policy.md §7.4)", () => {
    const p = ap("p", { rules: [{ from: [{ source: { notPrincipals: ["*"] } }] }] });
    assert.equal(allowed([p], req({ principal: null })), true);
    assert.equal(allowed([p], req()), false);
    const n = ap("n", { rules: [{ from: [{ source: { notNamespaces: ["client-ns"] } }] }] });
    assert.equal(allowed([n], req({ principal: null })), true);
  });
  test("serviceAccounts: ns/sa or bare sa meaning the policy namespace", () => {
    const make = (v: string) =>
      ap("p", { rules: [{ from: [{ source: { serviceAccounts: [v] } }] }] }, { namespace: "client-ns" });
    assert.equal(allowed([make("client-ns/client")], req()), true);
    assert.equal(allowed([make("client")], req()), true);
    assert.equal(allowed([make("other/client")], req()), false);
    assert.equal(
      allowed([make("client")], req({ principal: "spiffe://cluster.local/ns/client-ns/sa/client-junk" })),
      false,
    );
  });
  test("trustDomains compare the SPIFFE trust domain with * at the start or end", () => {
    const make = (v: string) => ap("p", { rules: [{ from: [{ source: { trustDomains: [v] } }] }] });
    assert.equal(allowed([make("cluster.local")], req()), true);
    assert.equal(allowed([make("cluster.*")], req()), true);
    assert.equal(allowed([make("*.local")], req()), true);
    assert.equal(allowed([make("other.org")], req()), false);
  });
  test("cluster.local in a principal means the local trust domain and its aliases", () => {
    const p = ap("p", { rules: [{ from: [{ source: { principals: ["cluster.local/ns/a/sa/b"] } }] }] });
    const o = { trustDomain: "example.org", trustDomainAliases: ["old.org"] };
    assert.equal(allowed([p], req({ principal: "spiffe://example.org/ns/a/sa/b" }), o), true);
    assert.equal(allowed([p], req({ principal: "spiffe://old.org/ns/a/sa/b" }), o), true);
    assert.equal(allowed([p], req({ principal: "spiffe://evil.org/ns/a/sa/b" }), o), false);
  });
  test("ipBlocks match the direct peer, remoteIpBlocks the original client (IPv4 and IPv6)", () => {
    const p = ap("p", { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/24", "fd00::/8"] } }] }] });
    assert.equal(allowed([p], req({ ip: "10.0.0.200" })), true);
    assert.equal(allowed([p], req({ ip: "::ffff:10.0.0.7" })), true);
    assert.equal(allowed([p], req({ ip: "fd12::1" })), true);
    assert.equal(allowed([p], req({ ip: "10.0.1.1" })), false);
    const r = ap("r", { rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }] }] });
    assert.equal(allowed([r], req({ remoteIp: "203.0.113.9" })), true);
    assert.equal(allowed([r], req()), false);
  });
});

describe("operation fields (policy.md §1.6, §7.7)", () => {
  test("hosts are case-insensitive and include the port", () => {
    const p = ap("p", { rules: [{ to: [{ operation: { hosts: ["Svc.NS1"] } }] }] });
    assert.equal(allowed([p], req({ http: { host: "svc.ns1" } })), true);
    assert.equal(allowed([p], req({ http: { host: "svc.ns1:8000" } })), false);
    const both = ap("p", { rules: [{ to: [{ operation: { hosts: ["svc.ns1", "svc.ns1:*"] } }] }] });
    assert.equal(allowed([both], req({ http: { host: "svc.ns1:8000" } })), true);
  });
  test("methods are case-sensitive", () => {
    const p = ap("p", { rules: [{ to: [{ operation: { methods: ["GET"] } }] }] });
    assert.equal(allowed([p], req({ http: { method: "get" } })), false);
  });
  test("paths: prefix and suffix are plain string operations, query ignored", () => {
    const p = ap("p", { rules: [{ to: [{ operation: { paths: ["/allow*"] } }] }] });
    assert.equal(allowed([p], req({ http: { path: "/allowed-wildcardtest" } })), true);
    const deny = ap("d", { action: "DENY", rules: [{ to: [{ operation: { paths: ["/allow/admin"] } }] }] });
    assert.equal(allowed([deny], req({ http: { path: "/allow/admin?param=value" } })), false);
    const sfx = ap("s", { rules: [{ to: [{ operation: { paths: ["*/info"] } }] }] });
    assert.equal(allowed([sfx], req({ http: { path: "/a/b/info" } })), true);
  });
  test("paths are matched after normalization (policy.md §1.10)", () => {
    const p = ap("p", { rules: [{ to: [{ operation: { paths: ["/public*"] } }] }] });
    for (const bad of ["/public/../private", "/public/%2E%2E/private", "/public/%2e/%2e%2e/private"]) {
      assert.equal(allowed([p], req({ http: { path: bad } })), false, bad);
    }
    assert.equal(allowed([p], req({ http: { path: "/public/../public" } })), true);
  });
  test("a path with %00 is rejected with 400", () => {
    assert.equal(decide([], req({ http: { path: "/a%00b" } })).status, 400);
  });
  test("path templates: {*} is one segment, {**} needs its trailing part", () => {
    const make = (v: string) => ap("p", { rules: [{ to: [{ operation: { paths: [v] } }] }] });
    assert.equal(allowed([make("/store/{*}/cart")], req({ http: { path: "/store/a/cart" } })), true);
    assert.equal(allowed([make("/store/{*}/cart")], req({ http: { path: "/store/a/b/cart" } })), false);
    assert.equal(allowed([make("/allow/admin/{**}")], req({ http: { path: "/allow/admin/" } })), true);
    assert.equal(allowed([make("/allow/admin/{**}")], req({ http: { path: "/allow/admin/x/y" } })), true);
    assert.equal(allowed([make("/allow/admin/{**}")], req({ http: { path: "/allow/admin" } })), false);
    assert.equal(allowed([make("/store/{**}/cart")], req({ http: { path: "/store//cart" } })), true);
    assert.equal(allowed([make("/store/{**}/cart")], req({ http: { path: "/store/cart" } })), false);
  });
  test("ports compare the destination port", () => {
    const p = ap("p", { rules: [{ to: [{ operation: { ports: ["8080"] } }] }] });
    assert.equal(allowed([p], req()), true);
    assert.equal(allowed([p], req({ port: 9090 })), false);
  });
});

describe("when conditions (policy.md §1.7, §7.4-§7.6)", () => {
  const when = (key: string, values?: string[], notValues?: string[]) =>
    ap("p", { rules: [{ when: [{ key, ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) }] }] });

  test("header names are case-insensitive, values case-sensitive, * means present even when empty", () => {
    assert.equal(
      allowed([when("request.headers[X-Token]", ["abc"])], req({ http: { headers: { "x-token": "abc" } } })),
      true,
    );
    assert.equal(
      allowed([when("request.headers[x-token]", ["ABC"])], req({ http: { headers: { "x-token": "abc" } } })),
      false,
    );
    assert.equal(
      allowed([when("request.headers[x-token]", ["*"])], req({ http: { headers: { "x-token": "" } } })),
      true,
    );
  });
  test("a missing header never matches values and always matches notValues", () => {
    assert.equal(allowed([when("request.headers[x-a]", ["*"])], req()), false);
    assert.equal(allowed([when("request.headers[x-a]", undefined, ["bad"])], req()), true);
  });
  test("duplicate headers are joined with a comma before matching", () => {
    assert.equal(
      allowed([when("request.headers[x-a]", ["1,2"])], req({ http: { headers: { "x-a": ["1", "2"] } } })),
      true,
    );
  });
  test("request.auth.principal splits at the last / into iss and sub", () => {
    const claims = { iss: "https://issuer.example/realm", sub: "alice@example.com" };
    assert.equal(
      allowed([when("request.auth.principal", ["https://issuer.example/realm/alice@example.com"])], req({ claims })),
      true,
    );
    assert.equal(allowed([when("request.auth.principal", ["*@example.com"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.principal", ["https://issuer.example/realm/*"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.principal", ["*/alice@example.com"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.principal", ["https://issuer*"])], req({ claims })), false);
  });
  test("requestPrincipals * needs both iss and sub: a token without sub fails", () => {
    const p = ap("p", { rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] });
    assert.equal(allowed([p], req({ claims: { iss: "a", sub: "b" } })), true);
    assert.equal(allowed([p], req({ claims: { iss: "a" } })), false);
    assert.equal(allowed([p], req()), false);
  });
  test("a sub containing / cannot be matched exactly", () => {
    const p = ap("p", { rules: [{ from: [{ source: { requestPrincipals: ["iss/sub/part"] } }] }] });
    assert.equal(allowed([p], req({ claims: { iss: "iss", sub: "sub/part" } })), false);
  });
  test("DENY notRequestPrincipals: [*] requires a JWT (403 without one)", () => {
    const p = ap("p", { action: "DENY", rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }] });
    assert.equal(decide([p], req()).status, 403);
    assert.equal(allowed([p], req({ claims: { iss: "a", sub: "b" } })), true);
  });
  test("ALLOW notRequestPrincipals admits anonymous callers", () => {
    const p = ap("p", { rules: [{ from: [{ source: { notRequestPrincipals: ["a/b"] } }] }] });
    assert.equal(allowed([p], req()), true);
  });
  test("claims: [a][b] is nested, [a.b] is one claim literally named a.b", () => {
    const claims = { a: { b: "x" }, "a.b": "y", iss: "i", sub: "s" };
    assert.equal(allowed([when("request.auth.claims[a][b]", ["x"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.claims[a.b]", ["y"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.claims[a.b]", ["x"])], req({ claims })), false);
  });
  test("claims: lists match on any element; bool and number claims never match", () => {
    const claims = { groups: ["dev", "ops"], admin: true, level: 3 };
    assert.equal(allowed([when("request.auth.claims[groups]", ["ops"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.claims[admin]", ["true"])], req({ claims })), false);
    assert.equal(allowed([when("request.auth.claims[level]", ["3"])], req({ claims })), false);
  });
  test("scope and permission claims are split on spaces", () => {
    const claims = { scope: "read write", permission: "p1 p2", other: "a b" };
    assert.equal(allowed([when("request.auth.claims[scope]", ["write"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.claims[permission]", ["p2"])], req({ claims })), true);
    assert.equal(allowed([when("request.auth.claims[other]", ["b"])], req({ claims })), false);
    assert.equal(
      allowed([when("request.auth.claims[other]", ["b"])], req({ claims }), { spaceDelimitedClaims: ["other"] }),
      true,
    );
  });
  test("a missing claim: values false, notValues true", () => {
    assert.equal(allowed([when("request.auth.claims[x]", ["1"])], req({ claims: {} })), false);
    assert.equal(allowed([when("request.auth.claims[x]", undefined, ["1"])], req({ claims: {} })), true);
  });
  test("audiences and presenter read aud (string or list) and azp", () => {
    assert.equal(allowed([when("request.auth.audiences", ["b"])], req({ claims: { aud: ["a", "b"] } })), true);
    assert.equal(allowed([when("request.auth.audiences", ["a"])], req({ claims: { aud: "a" } })), true);
    assert.equal(allowed([when("request.auth.presenter", ["app"])], req({ claims: { azp: "app" } })), true);
  });
  test("source.ip, destination.ip, destination.port and connection.sni", () => {
    assert.equal(allowed([when("source.ip", ["10.0.0.0/8"])], req()), true);
    assert.equal(allowed([when("destination.ip", ["10.96.0.10"])], req()), true);
    assert.equal(allowed([when("destination.port", ["8080"])], req()), true);
    assert.equal(allowed([when("destination.port", undefined, ["8080"])], req()), false);
    assert.equal(allowed([when("connection.sni", ["*.example.com"])], req({ sni: "a.example.com" })), true);
  });
  test("an unknown when key drops the whole rule", () => {
    const p = ap("p", { rules: [{ when: [{ key: "request.bogus", values: ["x"] }] }] });
    const d = decide([p], req());
    assert.equal(d.allowed, false);
    assert.match(d.trace[0]!.reason, /dropped: unknown when key/);
  });
});

describe("HTTP-only fields on a TCP stream (policy.md §1.8)", () => {
  test("ALLOW drops a rule with an HTTP field: methods+ports denies both ports", () => {
    const p = ap("p", { rules: [{ to: [{ operation: { methods: ["GET"], ports: ["9000"] } }] }] });
    assert.equal(allowed([p], req({ http: null, port: 9000 })), false);
    assert.equal(allowed([p], req({ http: null, port: 9001 })), false);
  });
  test("DENY ignores only the HTTP field, widening the rule to all TCP on the listed ports", () => {
    const p = ap("p", { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"], ports: ["9000"] } }] }] });
    assert.equal(allowed([p], req({ http: null, port: 9000 })), false);
    assert.equal(allowed([p], req({ http: null, port: 9001 })), true);
  });
  test("DENY with only HTTP fields denies all TCP", () => {
    const p = ap("p", { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin"] } }] }] });
    assert.equal(allowed([p], req({ http: null })), false);
  });
});

describe("dry-run (policy.md §1.12, §7.10)", () => {
  const dry = { "istio.io/dry-run": "true" };
  test("a dry-run DENY never denies but is in the trace", () => {
    const d = decide([ap("d", { action: "DENY", rules: [{}] }, { annotations: dry })], req());
    assert.equal(d.allowed, true);
    assert.equal(d.trace[0]?.dryRun, true);
    assert.equal(d.trace[0]?.matched, true);
  });
  test("a dry-run ALLOW alone does not create default-deny", () => {
    assert.equal(
      allowed([ap("a", { rules: [{ from: [{ source: { namespaces: ["x"] } }] }] }, { annotations: dry })], req()),
      true,
    );
  });
  test("an unparsable dry-run value means enforced", () => {
    assert.equal(
      allowed([ap("d", { action: "DENY", rules: [{}] }, { annotations: { "istio.io/dry-run": "yes" } })], req()),
      false,
    );
  });
});

describe("CUSTOM (policy.md §1.11)", () => {
  const providers = { extAuthzProviders: { ext: { kind: "http" as const }, grpc: { kind: "grpc" as const } } };
  const custom = (provider: string, paths = ["/admin*"]) =>
    ap(`c-${provider}`, {
      action: "CUSTOM",
      provider: { name: provider },
      rules: [{ to: [{ operation: { paths } }] }],
    });

  test("ext_authz is consulted only when a CUSTOM rule matches", () => {
    const e = WaypointAuthz.compile([custom("ext")], providers);
    assert.equal(e.evaluate(req({ http: { path: "/ip" } })).allowed, true);
    assert.equal(e.evaluate(req({ http: { path: "/admin" } }), { extAuthz: { ext: { allowed: true } } }).allowed, true);
    const d = e.evaluate(req({ http: { path: "/admin" } }), { extAuthz: { ext: { allowed: false, status: 401 } } });
    assert.deepEqual([d.allowed, d.status], [false, 401]);
  });
  test("no answer from the provider is a server error: 403", () => {
    assert.equal(
      WaypointAuthz.compile([custom("ext")], providers).evaluate(req({ http: { path: "/admin" } })).status,
      403,
    );
  });
  test("CUSTOM allow cannot bypass DENY", () => {
    const e = WaypointAuthz.compile([custom("ext"), ap("d", { action: "DENY", rules: [{}] })], providers);
    assert.equal(
      e.evaluate(req({ http: { path: "/admin" } }), { extAuthz: { ext: { allowed: true } } }).allowed,
      false,
    );
  });
  test("an unknown provider turns CUSTOM rules into a DENY", () => {
    const d = decide([custom("nope")], req({ http: { path: "/admin" } }), providers);
    assert.deepEqual([d.allowed, d.status], [false, 403]);
    assert.equal(decide([custom("nope")], req({ http: { path: "/ok" } }), providers).allowed, true);
  });
  test("two providers without the flag turn CUSTOM rules into a DENY; with the flag both are called", () => {
    const ps = [custom("ext"), custom("grpc", ["/x*"])];
    assert.equal(decide(ps, req({ http: { path: "/admin" } }), providers).status, 403);
    const e = WaypointAuthz.compile(ps, { ...providers, multipleCustomProviders: true });
    assert.equal(e.evaluate(req({ http: { path: "/admin" } }), { extAuthz: { ext: { allowed: true } } }).allowed, true);
  });
  test("on TCP only gRPC providers apply", () => {
    const all = (p: string) => ap(`c-${p}`, { action: "CUSTOM", provider: { name: p }, rules: [{}] });
    assert.equal(WaypointAuthz.compile([all("ext")], providers).evaluate(req({ http: null })).allowed, true);
    assert.equal(WaypointAuthz.compile([all("grpc")], providers).evaluate(req({ http: null })).allowed, false);
  });
});

describe("Service-targeted policies (policy.md §0)", () => {
  test("a policy targeting a Service applies only to requests for that service", () => {
    const p = ap("p", { targetRefs: [{ kind: "Service", group: "", name: "a" }], action: "DENY", rules: [{}] });
    const e = WaypointAuthz.compile([p]);
    assert.equal(e.evaluate(req({ service: "ns1/a" })).allowed, false);
    assert.equal(e.evaluate(req({ service: "ns1/b" })).allowed, true);
  });
  test("a Gateway-targeted policy applies to every request at the waypoint", () => {
    const p = ap("p", {
      targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }],
      action: "DENY",
      rules: [{}],
    });
    assert.equal(WaypointAuthz.compile([p]).evaluate(req({ service: "ns1/b" })).allowed, false);
  });
});
