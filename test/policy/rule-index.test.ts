// The candidate-rule index (src/policy/rule-index.ts) only skips rules that cannot match: with it, the engine gives
// the same decision, status, deciding policy, rule and reason as without it (policy.md §1.2 order, §1.4 structure,
// §1.6 string and path conventions, §1.8 TCP streams, §1.10 normalization, §1.11 CUSTOM, §1.12 dry-run).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { AuthorizationPolicy, AuthorizationPolicySpec, Rule } from "../../src/api/resources.js";
import { type EvaluateOptions, WaypointAuthz, type WaypointAuthzOptions } from "../../src/policy/authz.js";
import type { Decision } from "../../src/policy/decision.js";
import type { L7Request } from "../../src/policy/request.js";
import { pathKey } from "../../src/policy/rule-index.js";
import { ap, req } from "./helpers.js";
import { naiveDecide } from "./naive.js";

/** The fields a caller acts on; `trace` and the presence of `audit` differ between the cached and traced forms. */
const outcome = (d: Decision) => ({
  allowed: d.allowed,
  status: d.status,
  policy: d.policy,
  rule: d.rule,
  reason: d.reason,
  audit: d.audit ?? null,
});

function both(ps: AuthorizationPolicy[], options: WaypointAuthzOptions = {}) {
  return {
    indexed: WaypointAuthz.compile(ps, options),
    plain: WaypointAuthz.compile(ps, { ...options, ruleIndex: false }),
  };
}

function assertSame(ps: AuthorizationPolicy[], r: L7Request, options: WaypointAuthzOptions = {}, matched = true) {
  const { indexed, plain } = both(ps, options);
  const want = outcome(plain.evaluate(r));
  assert.deepEqual(outcome(indexed.evaluate(r)), want);
  assert.deepEqual(outcome(indexed.evaluate(r, { trace: true })), want);
  // The examples are built so that a rule matches: agreeing on "nothing matched" alone would prove little.
  if (matched) assert.notEqual(want.policy, null);
}

// ---- generators: small value pools that overlap, so rules match often and every index branch is reached ----

const PATH_VALUES = [
  "/a",
  "/a/*",
  "/a*",
  "/a/b",
  "/ab",
  "*",
  "*b",
  "/",
  "/*",
  "a/*",
  "a",
  "",
  "//*",
  "/a/{*}",
  "/{**}",
  "/b/*",
  "/a/b/*",
];
const REQUEST_PATHS = [
  "/",
  "/a",
  "/a/",
  "/a/b",
  "/ab",
  "/a/b/c",
  "/b/a",
  "a",
  "a/b",
  "",
  "//a",
  "/a//b",
  "/x/../a/b",
  "/a%2Fb",
  "/A",
  "/a?q=/b",
  "/a/b#f",
  "/%00",
];
const METHOD_VALUES = ["GET", "POST", "get", "G*", "*T", "*", "PUT", "DELETE"];
const REQUEST_METHODS = ["GET", "POST", "get", "PUT", "DELETE", "OPTIONS", "PATCH"];
const PRINCIPALS = ["cluster.local/ns/a/sa/x", "cluster.local/ns/b/sa/y", "other.td/ns/a/sa/x"];

const sub = <T>(xs: readonly T[], max = 3) =>
  fc.subarray([...xs], { minLength: 1, maxLength: Math.min(max, xs.length) });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

// Each field is present only sometimes, so that whole rules match often enough for order and pruning to matter.
const some = <T>(a: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: a, weight: 1 });
const often = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
const defined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const operation = fc
  .record({
    methods: often(sub(METHOD_VALUES)),
    notMethods: some(sub(METHOD_VALUES, 2)),
    paths: often(sub(PATH_VALUES)),
    notPaths: some(sub(PATH_VALUES, 2)),
    hosts: some(sub(["svc.ns1.svc.cluster.local", "*.example", "other"], 2)),
    ports: some(sub(["8080", "9080", "not-a-port"], 2)),
  })
  .map(defined);

const source = fc
  .record({
    principals: some(sub([...PRINCIPALS, "*", "*/sa/x"])),
    notPrincipals: some(sub(PRINCIPALS, 1)),
    namespaces: some(sub(["a", "b", "*"], 2)),
    ipBlocks: some(sub(["10.0.0.1", "10.0.0.0/8", "192.0.2.1", "bad-cidr"], 2)),
    requestPrincipals: some(sub(["iss/u1", "iss/*", "*/u2"], 2)),
  })
  .map(defined);

const condition = fc.oneof(
  fc.record({ key: fc.constant("request.headers[x-a]"), values: sub(["1", "2", "*"], 2) }),
  fc.record({ key: fc.constant("request.headers[x-a]"), notValues: sub(["1", "2"], 1) }),
  fc.record({ key: fc.constant("request.auth.claims[g]"), values: sub(["g1", "g2"], 2) }),
  fc.record({ key: fc.constant("destination.port"), values: sub(["8080", "9080"], 1) }),
  fc.record({ key: fc.constant("no.such.key"), values: fc.constant<string[]>(["x"]) }),
);

const rule: fc.Arbitrary<Rule> = fc
  .record({
    from: some(fc.array(fc.record({ source }), { minLength: 1, maxLength: 2 })),
    to: often(fc.array(fc.record({ operation }), { minLength: 1, maxLength: 3 })),
    when: some(fc.array(condition, { minLength: 1, maxLength: 2 })),
  })
  .map(defined);

const policy: fc.Arbitrary<AuthorizationPolicy> = fc
  .record({
    n: fc.integer({ min: 0, max: 9999 }),
    action: fc.constantFrom("ALLOW", "ALLOW", "DENY", "DENY", "AUDIT", "CUSTOM"),
    provider: fc.constantFrom("http-ext", "grpc-ext", "unknown"),
    target: fc.constantFrom("waypoint", "svc-a", "svc-b"),
    dryRun: fc.constantFrom(false, false, false, true),
    rules: fc.array(rule, { maxLength: 3 }),
  })
  .map(({ n, action, provider, target, dryRun, rules }) => {
    const spec: AuthorizationPolicySpec = {
      action: action as AuthorizationPolicySpec["action"],
      rules,
      targetRefs: [
        target === "waypoint"
          ? { kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }
          : { kind: "Service", group: "", name: target },
      ],
    };
    if (action === "CUSTOM") spec.provider = { name: provider };
    return ap(`p-${n}`, spec, dryRun ? { annotations: { "istio.io/dry-run": "true" } } : {});
  });

const request: fc.Arbitrary<L7Request> = fc
  .record({
    tcp: fc.boolean(),
    method: fc.constantFrom(...REQUEST_METHODS),
    path: fc.constantFrom(...REQUEST_PATHS),
    principal: fc.option(fc.constantFrom(...[...PRINCIPALS, "td1/ns/a/sa/x"].map((p) => `spiffe://${p}`))),
    ip: fc.constantFrom("10.0.0.1", "192.0.2.1"),
    port: fc.constantFrom(8080, 9080),
    header: fc.option(fc.constantFrom("1", "2")),
    claims: fc.option(fc.record({ iss: fc.constant("iss"), sub: fc.constantFrom("u1", "u2"), g: sub(["g1", "g2"]) })),
    service: maybe(fc.constantFrom("ns1/svc-a", "ns1/svc-b", "ns1/svc-c")),
  })
  .map((r) =>
    req({
      principal: r.principal,
      ip: r.ip,
      port: r.port,
      http: r.tcp ? null : { method: r.method, path: r.path, headers: r.header === null ? {} : { "x-a": r.header } },
      claims: r.claims,
      ...(r.service ? { service: r.service } : {}),
    }),
  );

const options: fc.Arbitrary<WaypointAuthzOptions> = fc.record({
  pathNormalization: fc.constantFrom("NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"),
  extAuthzProviders: fc.constant({ "http-ext": { kind: "http" as const }, "grpc-ext": { kind: "grpc" as const } }),
  multipleCustomProviders: fc.boolean(),
  trustDomain: fc.constantFrom("cluster.local", "td1"),
  trustDomainAliases: fc.subarray(["other.td", "cluster.local", "td1"]),
});

const extAuthz: fc.Arbitrary<EvaluateOptions> = fc.record({
  extAuthz: fc.record({
    "http-ext": fc.record({ allowed: fc.boolean() }),
    "grpc-ext": fc.record({ allowed: fc.boolean() }),
  }),
});

describe("the rule index never changes a decision", () => {
  test("indexed, unindexed and traced evaluation agree on random policies and requests", () => {
    fc.assert(
      fc.property(
        fc.array(policy, { maxLength: 8 }),
        fc.array(request, { minLength: 1, maxLength: 6 }),
        options,
        extAuthz,
        (ps, rs, o, e) => {
          const { indexed, plain } = both(ps, o);
          for (const r of rs) {
            const want = outcome(plain.evaluate(r, e));
            console.log("STAT", want.policy === null ? "none" : want.allowed ? "allow-by" : "deny-by");
            assert.deepEqual(outcome(indexed.evaluate(r, e)), want);
            assert.deepEqual(outcome(indexed.evaluate(r, { ...e, trace: true })), want);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  test("the engine agrees with the benchmark's naive interpreter on the subset it covers", () => {
    const simplePath = fc.constantFrom("/a", "/a/b", "/ab", "/b/a", "/", "/orders/1");
    const simpleRule: fc.Arbitrary<Rule> = fc.record(
      {
        from: fc.array(
          fc.record({
            source: fc.record(
              {
                principals: sub([...PRINCIPALS, "*", "*/sa/x", "cluster.local/*"]),
                namespaces: sub(["a", "b"], 2),
                requestPrincipals: sub(["iss/u1", "iss/*"], 2),
              },
              { requiredKeys: [] },
            ),
          }),
          { minLength: 1, maxLength: 2 },
        ),
        to: fc.array(
          fc.record({
            operation: fc.record(
              {
                methods: sub(["GET", "POST", "G*", "*T", "*"]),
                paths: sub(["/a", "/a/*", "/a*", "*b", "/orders/*", "/", "*"]),
              },
              { requiredKeys: [] },
            ),
          }),
          { minLength: 1, maxLength: 2 },
        ),
        when: fc.array(
          fc.oneof(
            fc.record({ key: fc.constant("request.headers[x-a]"), values: sub(["1", "2"], 2) }),
            fc.record({ key: fc.constant("request.auth.claims[g]"), values: sub(["g1", "g2", "g*"], 2) }),
          ),
          { minLength: 1, maxLength: 2 },
        ),
      },
      { requiredKeys: [] },
    );
    const simplePolicy = fc
      .record({
        n: fc.integer({ min: 0, max: 9999 }),
        deny: fc.boolean(),
        target: fc.constantFrom("waypoint", "svc-a"),
        rules: fc.array(simpleRule, { maxLength: 3 }),
      })
      .map(({ n, deny, target, rules }) =>
        ap(`p-${n}`, {
          action: deny ? "DENY" : "ALLOW",
          rules,
          targetRefs: [
            target === "waypoint"
              ? { kind: "Gateway", group: "gateway.networking.k8s.io", name: "waypoint" }
              : { kind: "Service", group: "", name: target },
          ],
        }),
      );
    const simpleRequest = fc
      .record({
        method: fc.constantFrom("GET", "POST", "PUT"),
        path: simplePath,
        principal: fc.option(fc.constantFrom(...PRINCIPALS.map((p) => `spiffe://${p}`))),
        header: fc.option(fc.constantFrom("1", "2")),
        claims: fc.option(
          fc.record({ iss: fc.constant("iss"), sub: fc.constantFrom("u1", "u2"), g: sub(["g1", "g2"]) }),
        ),
        service: fc.constantFrom("ns1/svc-a", "ns1/svc-b"),
      })
      .map((r) =>
        req({
          principal: r.principal,
          service: r.service,
          http: { method: r.method, path: r.path, headers: r.header === null ? {} : { "x-a": r.header } },
          claims: r.claims,
        }),
      );
    fc.assert(
      fc.property(
        fc.array(simplePolicy, { maxLength: 8 }),
        fc.array(simpleRequest, { minLength: 1, maxLength: 6 }),
        (ps, rs) => {
          const engine = WaypointAuthz.compile(ps);
          for (const r of rs) assert.equal(engine.evaluate(r).allowed, naiveDecide(ps, r));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("what the index keys on (policy.md §1.6)", () => {
  test("the path key is the text before the first '/' after the start", () => {
    assert.deepEqual(["/a/b/c", "/a", "/", "", "a/b", "//x", "/a/"].map(pathKey), [
      "/a",
      "/a",
      "/",
      "",
      "a",
      "/",
      "/a",
    ]);
  });

  const allowOnly = (operation: NonNullable<Rule["to"]>[number]["operation"]) =>
    ap("p", { rules: [{ to: [{ operation }] }] });
  const cases: Array<[string, AuthorizationPolicy[], L7Request, WaypointAuthzOptions?]> = [
    [
      "a prefix without a second '/' matches across segments",
      [allowOnly({ paths: ["/ord*"] })],
      req({ http: { path: "/orders/1" } }),
    ],
    [
      "a prefix ending in '/' matches deeper paths",
      [allowOnly({ paths: ["/orders/*"] })],
      req({ http: { path: "/orders/1/x" } }),
    ],
    ["a suffix matches any first segment", [allowOnly({ paths: ["*/1"] })], req({ http: { path: "/orders/1" } })],
    ["a template matches", [allowOnly({ paths: ["/orders/{*}"] })], req({ http: { path: "/orders/1" } })],
    [
      "a path without a leading '/' (normalization NONE)",
      [allowOnly({ paths: ["a/*"] })],
      req({ http: { path: "a/b" } }),
      { pathNormalization: "NONE" },
    ],
    ["methods with a wildcard", [allowOnly({ methods: ["P*"] })], req({ http: { method: "PATCH" } })],
    [
      "a method nobody names falls back to method-independent rules",
      [allowOnly({ notMethods: ["GET"] })],
      req({ http: { method: "BREW" } }),
    ],
    [
      "one `to` entry without methods keeps the rule for every method",
      [ap("p", { rules: [{ to: [{ operation: { methods: ["GET"] } }, { operation: { paths: ["/x"] } }] }] })],
      req({ http: { method: "POST", path: "/x" } }),
    ],
    [
      "each `to` entry brings its own methods and paths",
      [
        ap("p", {
          rules: [
            {
              to: [
                { operation: { methods: ["GET"], paths: ["/a"] } },
                { operation: { methods: ["POST"], paths: ["/b"] } },
              ],
            },
          ],
        }),
      ],
      req({ http: { method: "POST", path: "/b" } }),
    ],
    [
      "a TCP stream ignores HTTP-only fields of a DENY",
      [ap("d", { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"], ports: ["8080"] } }] }] })],
      req({ http: null }),
    ],
    [
      "a dotted path is keyed after normalization",
      [allowOnly({ paths: ["/a/*"] })],
      req({ http: { path: "/x/../a/b" } }),
    ],
  ];
  cases.push([
    "a principal in the local trust domain matches through an alias (policy.md §1.5)",
    [ap("p", { rules: [{ from: [{ source: { principals: ["cluster.local/ns/a/sa/x"] } }] }] })],
    req({ principal: "spiffe://td1/ns/a/sa/x" }),
    { trustDomain: "td1", trustDomainAliases: ["cluster.local"] },
  ]);
  cases.push([
    "a rule listing principals never matches a plaintext peer",
    [ap("p", { rules: [{ from: [{ source: { principals: ["*"] } }] }] }), ap("q", { rules: [{}] })],
    req({ principal: null }),
  ]);
  for (const [name, ps, r, o] of cases) {
    test(name, () => assertSame(ps, r, o));
  }

  test("the first DENY in policy order decides, whichever index list holds it", () => {
    const ps = [
      ap("any-path", { action: "DENY", rules: [{ from: [{ source: { notNamespaces: ["zz"] } }] }] }),
      ap("keyed", { action: "DENY", rules: [{ to: [{ operation: { paths: ["/a/b"] } }] }] }),
    ];
    const d = WaypointAuthz.compile([...ps].reverse()).evaluate(req({ http: { path: "/a/b" } }));
    assert.equal(d.policy?.name, "keyed");
    assert.equal(WaypointAuthz.compile(ps).evaluate(req({ http: { path: "/a/b" } })).policy?.name, "any-path");
  });

  test("more methods than the index keys on still decide the same", () => {
    const ps = Array.from({ length: 40 }, (_, i) =>
      ap(`p${i}`, { rules: [{ to: [{ operation: { methods: [`M${i}`], paths: [`/p${i % 3}/*`] } }] }] }),
    );
    for (const method of ["M0", "M39", "M7", "GET"]) {
      for (const path of ["/p0/x", "/p1/x", "/p2/x", "/q"]) assertSame(ps, req({ http: { method, path } }), {}, false);
    }
    assert.equal(
      WaypointAuthz.compile(ps).evaluate(req({ http: { method: "M39", path: "/p0/x" } })).policy?.name,
      "p39",
    );
  });
});
