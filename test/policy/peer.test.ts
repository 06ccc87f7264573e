// PeerAuthentication in ambient (policy.md §3, control-plane.md §8.6): which DENY policies ztunnel gets and what
// they do to plaintext connections.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { MutualTLSMode, PeerAuthentication } from "../../src/api/resources.js";
import { effectiveMtls, peerLevels, peerPoliciesFor } from "../../src/policy/peer.js";
import { ZtunnelAuthz } from "../../src/policy/ztunnel-authz.js";

const ROOT = "istio-system";
const W = { namespace: "ns1", labels: { app: "web" } };

function pa(
  name: string,
  namespace: string,
  mode?: MutualTLSMode,
  opts: { selector?: boolean; ports?: Record<string, MutualTLSMode>; created?: string } = {},
): PeerAuthentication {
  const spec: NonNullable<PeerAuthentication["spec"]> = {};
  if (mode) spec.mtls = { mode };
  if (opts.selector) spec.selector = { matchLabels: { app: "web" } };
  if (opts.ports) spec.portLevelMtls = Object.fromEntries(Object.entries(opts.ports).map(([p, m]) => [p, { mode: m }]));
  const metadata: PeerAuthentication["metadata"] = { name, namespace };
  if (opts.created) metadata.creationTimestamp = opts.created;
  return { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata, spec };
}

/** Is a plaintext connection to `port` of the workload allowed by ztunnel? */
function plaintextAllowed(pas: PeerAuthentication[], port: number): boolean {
  const { keys, policies } = peerPoliciesFor(pas, W, ROOT);
  return ZtunnelAuthz.build(policies).evaluate({
    source: { principal: null, ip: "10.0.0.1" },
    destination: { ip: "10.0.0.2", port, namespace: "ns1", policies: keys },
  }).allowed;
}

function mtlsAllowed(pas: PeerAuthentication[], port: number): boolean {
  const { keys, policies } = peerPoliciesFor(pas, W, ROOT);
  return ZtunnelAuthz.build(policies).evaluate({
    source: { principal: "spiffe://cluster.local/ns/a/sa/b", ip: "10.0.0.1" },
    destination: { ip: "10.0.0.2", port, namespace: "ns1", policies: keys },
  }).allowed;
}

describe("PeerAuthentication → ztunnel (policy.md §3)", () => {
  test("namespace STRICT rejects plaintext via the static strict policy", () => {
    const pas = [pa("ns", "ns1", "STRICT")];
    assert.deepEqual(peerPoliciesFor(pas, W, ROOT).keys, ["istio-system/istio_converted_static_strict"]);
    assert.equal(plaintextAllowed(pas, 80), false);
    assert.equal(mtlsAllowed(pas, 80), true);
  });
  test("PERMISSIVE allows plaintext; DISABLE acts as not STRICT", () => {
    assert.equal(plaintextAllowed([pa("ns", "ns1", "PERMISSIVE")], 80), true);
    assert.equal(plaintextAllowed([pa("root", ROOT, "STRICT"), pa("ns", "ns1", "DISABLE")], 80), true);
  });
  test("mesh STRICT is inherited through an UNSET namespace policy", () => {
    assert.equal(plaintextAllowed([pa("root", ROOT, "STRICT"), pa("ns", "ns1")], 80), false);
  });
  test("workload STRICT with PERMISSIVE ports: plaintext allowed on those ports only", () => {
    const pas = [pa("w", "ns1", "STRICT", { selector: true, ports: { "18080": "PERMISSIVE", "19090": "PERMISSIVE" } })];
    assert.equal(plaintextAllowed(pas, 18080), true);
    assert.equal(plaintextAllowed(pas, 19090), true);
    assert.equal(plaintextAllowed(pas, 80), false);
    assert.deepEqual(peerPoliciesFor(pas, W, ROOT).keys, ["ns1/converted_peer_authentication_w"]);
  });
  test("root STRICT + workload port PERMISSIVE: allowed on that port", () => {
    const pas = [
      pa("root", ROOT, "STRICT"),
      pa("w", "ns1", undefined, { selector: true, ports: { "8080": "PERMISSIVE" } }),
    ];
    assert.equal(plaintextAllowed(pas, 8080), true);
    assert.equal(plaintextAllowed(pas, 80), false);
  });
  test("root PERMISSIVE + workload port STRICT: plaintext denied on that port", () => {
    const pas = [
      pa("root", ROOT, "PERMISSIVE"),
      pa("w", "ns1", undefined, { selector: true, ports: { "8080": "STRICT" } }),
    ];
    assert.equal(plaintextAllowed(pas, 8080), false);
    assert.equal(plaintextAllowed(pas, 80), true);
  });
  test("root-namespace PeerAuthentications with a selector are ignored", () => {
    assert.equal(plaintextAllowed([pa("w", ROOT, "STRICT", { selector: true })], 80), true);
  });
  test("oldest wins inside one scope", () => {
    const pas = [
      pa("new", "ns1", "PERMISSIVE", { created: "2024-02-01T00:00:00Z" }),
      pa("old", "ns1", "STRICT", { created: "2024-01-01T00:00:00Z" }),
    ];
    assert.equal(peerLevels(pas, W, ROOT).namespace?.metadata.name, "old");
    assert.equal(plaintextAllowed(pas, 80), false);
  });
  test("effectiveMtls: mesh → namespace → workload → port", () => {
    const levels = peerLevels(
      [pa("root", ROOT, "STRICT"), pa("w", "ns1", undefined, { selector: true, ports: { "81": "DISABLE" } })],
      W,
      ROOT,
    );
    assert.equal(effectiveMtls(levels, 80), "STRICT");
    assert.equal(effectiveMtls(levels, 81), "PERMISSIVE");
  });
});
