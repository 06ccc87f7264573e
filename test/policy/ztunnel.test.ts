// AuthorizationPolicy → ztunnel translation (control-plane.md §8.1–§8.4, exact ZtunnelAccepted messages from §6/§8.4)
// and ztunnel's L4 decision (control-plane.md §8.5, policy.md §1.3, §1.9, §7.3).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuthorizationPolicy } from "../../src/api/resources.js";
import type { L4Connection } from "../../src/policy/request.js";
import { ZtunnelAuthz } from "../../src/policy/ztunnel-authz.js";
import { toZtunnelPolicy } from "../../src/policy/ztunnel-policy.js";
import { ap, CLIENT } from "./helpers.js";

const ROOT = "istio-system";
const HTTP_PREFIX =
  "ztunnel does not support HTTP attributes (found: %s). In ambient mode you must use a waypoint proxy to enforce HTTP rules. ";
const ALLOW_TAIL =
  "Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more restrictive than requested.";
const DENY_MIXED =
  "DENY policy with HTTP attributes is enforced without the HTTP rules. This will be more restrictive than requested.";
const DENY_NONE =
  "After omitting unsupported HTTP attributes, this DENY policy has no enforceable rules at ztunnel and will have no effect. Deploy a waypoint proxy and use a targetRef to enforce this policy.";
const msg = (found: string, tail: string) => HTTP_PREFIX.replace("%s", found) + tail;

function conn(
  o: { principal?: string | null; port?: number; ip?: string; ns?: string; policies?: string[] } = {},
): L4Connection {
  return {
    source: { principal: o.principal === undefined ? CLIENT : o.principal, ip: o.ip ?? "10.0.0.1" },
    destination: {
      ip: "10.244.0.5",
      port: o.port ?? 8080,
      namespace: o.ns ?? "ns1",
      ...(o.policies ? { policies: o.policies } : {}),
    },
  };
}

function l4Allowed(policies: AuthorizationPolicy[], c: L4Connection = conn()): boolean {
  const sent = policies.flatMap((p) => toZtunnelPolicy(p, ROOT).sent ?? []);
  return ZtunnelAuthz.build(sent).evaluate(c).allowed;
}

describe("ZtunnelAccepted status (control-plane.md §6, §8.4)", () => {
  test("a pure L4 policy is accepted: attached to ztunnel", () => {
    const t = toZtunnelPolicy(
      ap("p", { rules: [{ from: [{ source: { principals: ["a/b"] } }] }] }, { generation: 3 }),
      ROOT,
    );
    assert.deepEqual(t.condition, {
      type: "ZtunnelAccepted",
      status: "True",
      reason: "Accepted",
      message: "attached to ztunnel",
      observedGeneration: 3,
    });
  });
  test("AUDIT and CUSTOM are not sent, status False", () => {
    for (const action of ["AUDIT", "CUSTOM"] as const) {
      const spec = action === "CUSTOM" ? { action, provider: { name: "x" }, rules: [{}] } : { action, rules: [{}] };
      const t = toZtunnelPolicy(ap("p", spec), ROOT);
      assert.equal(t.sent, null);
      assert.deepEqual(
        [t.condition?.status, t.condition?.reason, t.condition?.message],
        ["False", "UnsupportedValue", `ztunnel does not support the ${action} action`],
      );
    }
  });
  test("dry-run is not sent without the flag, with the exact message", () => {
    const t = toZtunnelPolicy(ap("p", { rules: [{}] }, { annotations: { "istio.io/dry-run": "true" } }), ROOT);
    assert.equal(t.sent, null);
    assert.equal(
      t.condition?.message,
      `found policy "ns1/p" using dry-run annotation, but support for ambient dry-run authorizationPolicies isn't enabled`,
    );
    const on = toZtunnelPolicy(ap("p", { rules: [{}] }, { annotations: { "istio.io/dry-run": "true" } }), ROOT, {
      enableDryRun: true,
    });
    assert.equal(on.sent?.dryRun, true);
  });
  test("a targetRefs policy is not ztunnel's: nothing sent, no condition", () => {
    const t = toZtunnelPolicy(ap("p", { targetRefs: [{ kind: "Service", name: "a" }], rules: [{}] }), ROOT);
    assert.deepEqual(t, { sent: null, condition: null });
  });
  test("ALLOW with L7 fields: sorted flagged list and the ALLOW sentence", () => {
    const p = ap("p", {
      rules: [
        {
          from: [{ source: { requestPrincipals: ["*"], principals: ["a/b"] } }],
          to: [{ operation: { paths: ["/x"], methods: ["GET"] } }],
          when: [{ key: "request.headers[x]", values: ["1"] }],
        },
      ],
    });
    const t = toZtunnelPolicy(p, ROOT);
    assert.equal(t.condition?.reason, "UnsupportedValue");
    assert.equal(t.condition?.status, "True");
    assert.equal(t.condition?.message, msg("methods, paths, request.headers[x], requestPrincipals", ALLOW_TAIL));
    assert.deepEqual(t.sent?.groups, []);
  });
  test("DENY with L7 in the same source becomes a broader deny (mixed message)", () => {
    const p = ap("p", {
      action: "DENY",
      rules: [{ from: [{ source: { principals: ["a/b"], notRequestPrincipals: ["*"] } }] }],
    });
    const t = toZtunnelPolicy(p, ROOT);
    assert.equal(t.condition?.message, msg("notRequestPrincipals", DENY_MIXED));
    assert.deepEqual(t.sent?.groups, [{ rules: [{ matches: [{ principals: [{ exact: "a/b" }] }] }] }]);
  });
  test("DENY with only L7 content has no effect (no-effect message)", () => {
    const p = ap("p", { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"] } }] }] });
    assert.equal(toZtunnelPolicy(p, ROOT).condition?.message, msg("methods", DENY_NONE));
  });
  test("DENY with an L4 from and an L7-only when is a no-op", () => {
    const p = ap("p", {
      action: "DENY",
      rules: [{ from: [{ source: { namespaces: ["x"] } }], when: [{ key: "request.auth.claims[g]", values: ["a"] }] }],
    });
    assert.equal(toZtunnelPolicy(p, ROOT).condition?.message, msg("request.auth.claims[g]", DENY_NONE));
  });
  test("DENY with an empty catch-all rule and an L7-only rule is still enforced", () => {
    const p = ap("p", { action: "DENY", rules: [{}, { to: [{ operation: { paths: ["/a"] } }] }] });
    assert.equal(toZtunnelPolicy(p, ROOT).condition?.message, msg("paths", DENY_MIXED));
  });
  test("source.serviceAccount, remote.ip and connection.sni count as L7; trustDomains are dropped silently", () => {
    const p = ap("p", {
      action: "DENY",
      rules: [
        {
          from: [{ source: { trustDomains: ["td"] } }],
          when: [
            { key: "source.serviceAccount", values: ["a"] },
            { key: "remote.ip", values: ["1.2.3.4"] },
            { key: "connection.sni", values: ["x"] },
          ],
        },
      ],
    });
    assert.equal(
      toZtunnelPolicy(p, ROOT).condition?.message,
      msg("connection.sni, remote.ip, source.serviceAccount", DENY_NONE),
    );
  });
});

describe("scope and field mapping (control-plane.md §8.2, §8.4)", () => {
  test("selector → WORKLOAD_SELECTOR, none → NAMESPACE, none in root → GLOBAL", () => {
    assert.equal(
      toZtunnelPolicy(ap("p", { selector: { matchLabels: { a: "b" } }, rules: [{}] }), ROOT).sent?.scope,
      "WORKLOAD_SELECTOR",
    );
    assert.equal(toZtunnelPolicy(ap("p", { rules: [{}] }), ROOT).sent?.scope, "NAMESPACE");
    assert.equal(toZtunnelPolicy(ap("p", { rules: [{}] }, { namespace: ROOT }), ROOT).sent?.scope, "GLOBAL");
  });
  test("string values map to presence/suffix/prefix/exact, bare service accounts take the policy namespace", () => {
    const p = ap("p", {
      rules: [
        { from: [{ source: { namespaces: ["*", "*x", "x*", "a*b"] } }] },
        { from: [{ source: { serviceAccounts: ["sa", "other/sa2"], ipBlocks: ["10.0.0.0/8", "1.2.3.4"] } }] },
        { to: [{ operation: { ports: ["80", "http", "70000"] } }] },
      ],
    });
    const g = toZtunnelPolicy(p, ROOT).sent!.groups;
    assert.deepEqual(g[0], {
      rules: [{ matches: [{ namespaces: [{ presence: true }, { suffix: "x" }, { prefix: "x" }, { exact: "a*b" }] }] }],
    });
    assert.deepEqual(g[1]?.rules[0]?.matches[0], {
      sourceIps: [
        { address: "10.0.0.0", length: 8 },
        { address: "1.2.3.4", length: 32 },
      ],
      serviceAccounts: [
        { namespace: "ns1", serviceAccount: "sa" },
        { namespace: "other", serviceAccount: "sa2" },
      ],
    });
    assert.deepEqual(g[2], { rules: [{ matches: [{ destinationPorts: [80] }] }] });
  });
  test("rules: [{}] becomes a group with no clauses", () => {
    assert.deepEqual(toZtunnelPolicy(ap("p", { rules: [{}] }), ROOT).sent?.groups, [{ rules: [] }]);
  });
});

describe("ztunnel L4 decisions (control-plane.md §8.5, policy.md §1.3, §7.3)", () => {
  test("no policies allow; an enforced DENY match denies with status null", () => {
    assert.equal(l4Allowed([]), true);
    const d = ZtunnelAuthz.build([toZtunnelPolicy(ap("d", { action: "DENY", rules: [{}] }), ROOT).sent!]).evaluate(
      conn(),
    );
    assert.deepEqual([d.allowed, d.status, d.reason], [false, null, "ExplicitlyDenied(ns1, d)"]);
  });
  test("an ALLOW whose every rule had L7 fields denies all traffic (fail closed)", () => {
    assert.equal(l4Allowed([ap("p", { rules: [{ to: [{ operation: { methods: ["GET"] } }] }] })]), false);
  });
  test("pure-L4 rules of a mixed ALLOW policy survive", () => {
    const p = ap("p", {
      rules: [{ to: [{ operation: { methods: ["GET"] } }] }, { to: [{ operation: { ports: ["8080"] } }] }],
    });
    assert.equal(l4Allowed([p]), true);
    assert.equal(l4Allowed([p], conn({ port: 9090 })), false);
  });
  test("DENY to: methods:[GET] does nothing at ztunnel", () => {
    assert.equal(
      l4Allowed([ap("d", { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"] } }] }] })]),
      true,
    );
  });
  test("DENY methods+ports denies everything on that port", () => {
    const d = ap("d", { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"], ports: ["8080"] } }] }] });
    assert.equal(l4Allowed([d]), false);
    assert.equal(l4Allowed([d], conn({ port: 9090 })), true);
  });
  test("a middle * in namespaces is literal at ztunnel (unlike the waypoint)", () => {
    const p = ap("p", { rules: [{ from: [{ source: { namespaces: ["cl*ns"] } }] }] });
    assert.equal(l4Allowed([p]), false);
    assert.equal(l4Allowed([ap("p", { rules: [{ from: [{ source: { namespaces: ["client*"] } }] }] })]), true);
  });
  test("cluster.local in a principal is compared literally at ztunnel", () => {
    const p = ap("p", { rules: [{ from: [{ source: { principals: ["cluster.local/ns/a/sa/b"] } }] }] });
    assert.equal(l4Allowed([p], conn({ principal: "spiffe://example.org/ns/a/sa/b" })), false);
  });
  test("notPrincipals and notNamespaces are true for plaintext; principals * is false", () => {
    assert.equal(
      l4Allowed([ap("p", { rules: [{ from: [{ source: { notPrincipals: ["x/y"] } }] }] })], conn({ principal: null })),
      true,
    );
    assert.equal(
      l4Allowed([ap("p", { rules: [{ from: [{ source: { notNamespaces: ["x"] } }] }] })], conn({ principal: null })),
      true,
    );
    assert.equal(
      l4Allowed([ap("p", { rules: [{ from: [{ source: { principals: ["*"] } }] }] })], conn({ principal: null })),
      false,
    );
  });
  test("serviceAccounts compare namespace and SA only (trust domain ignored)", () => {
    const p = ap("p", { rules: [{ from: [{ source: { serviceAccounts: ["client-ns/client"] } }] }] });
    assert.equal(l4Allowed([p], conn({ principal: "spiffe://other.td/ns/client-ns/sa/client" })), true);
  });
  test("a source with only trustDomains can never match at ztunnel", () => {
    assert.equal(l4Allowed([ap("p", { rules: [{ from: [{ source: { trustDomains: ["cluster.local"] } }] }] })]), false);
    assert.equal(
      l4Allowed([ap("d", { action: "DENY", rules: [{ from: [{ source: { trustDomains: ["cluster.local"] } }] }] })]),
      true,
    );
  });
  test("policy selection: namespace policies of the destination namespace, global ones, and listed workload ones", () => {
    const nsOther = toZtunnelPolicy(ap("d", { action: "DENY", rules: [{}] }, { namespace: "other" }), ROOT).sent!;
    const global = toZtunnelPolicy(
      ap("g", { action: "DENY", rules: [{ to: [{ operation: { ports: ["1"] } }] }] }, { namespace: ROOT }),
      ROOT,
    ).sent!;
    const wl = toZtunnelPolicy(ap("w", { selector: { matchLabels: { a: "b" } }, action: "DENY", rules: [{}] }), ROOT)
      .sent!;
    const e = ZtunnelAuthz.build([nsOther, global, wl]);
    assert.equal(e.evaluate(conn()).allowed, true);
    assert.equal(e.evaluate(conn({ port: 1 })).allowed, false);
    assert.equal(e.evaluate(conn({ policies: ["ns1/w"] })).allowed, false);
    assert.equal(e.evaluate(conn({ ns: "other" })).allowed, false);
  });
  test("a dry-run policy (flag on) is traced but not enforced", () => {
    const sent = toZtunnelPolicy(
      ap("d", { action: "DENY", rules: [{}] }, { annotations: { "istio.io/dry-run": "1" } }),
      ROOT,
      {
        enableDryRun: true,
      },
    ).sent!;
    const d = ZtunnelAuthz.build([sent]).evaluate(conn(), { trace: true });
    assert.equal(d.allowed, true);
    assert.deepEqual([d.trace[0]?.dryRun, d.trace[0]?.matched], [true, true]);
  });
  test("when source.ip / destination.port map to L4 matches", () => {
    const p = ap("p", {
      rules: [
        {
          when: [
            { key: "source.ip", values: ["10.0.0.0/24"] },
            { key: "destination.port", notValues: ["9090"] },
          ],
        },
      ],
    });
    assert.equal(l4Allowed([p]), true);
    assert.equal(l4Allowed([p], conn({ port: 9090 })), false);
    assert.equal(l4Allowed([p], conn({ ip: "10.9.0.1" })), false);
  });
});
